"""The registries of report templates and formats: code, not data (per-hospital settings live in
the ReportTemplate model)."""

from __future__ import annotations

from importlib import import_module

from hospitium.reports.base import ReportFormat, ReportTemplate

TEMPLATE_MODULES = [
    "patient_summary",
    "visit_trends",
    "treatment_outcomes",
    "feedback_analysis",
    "comprehensive_analytics",
    "medical_statistics",
    "dental_statistics",
    "campaign_performance",
]
FORMAT_MODULES = ["pdf", "xlsx", "csv", "json"]


def templates() -> dict[str, ReportTemplate]:
    """Every template that exists in code, by key (modules not written yet are skipped)."""
    found: dict[str, ReportTemplate] = {}
    for name in TEMPLATE_MODULES:
        try:
            module = import_module(f"hospitium.reports.templates.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"hospitium.reports.templates.{name}":
                raise
            continue
        template: ReportTemplate = module.TEMPLATE
        found[template.key] = template
    return found


def formats() -> dict[str, ReportFormat]:
    found: dict[str, ReportFormat] = {}
    for name in FORMAT_MODULES:
        try:
            module = import_module(f"hospitium.reports.formats.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"hospitium.reports.formats.{name}":
                raise
            continue
        fmt: ReportFormat = module.FORMAT
        found[fmt.key] = fmt
    return found
