"""A test-only report template that stops part-way until the test lets it go.

Its ``build`` leaves ``started-<n>`` in ``settings.HOSPITIUM_TEST_BLOCK_DIR`` (n counts the
attempts) and waits there until a file ``release`` appears. Only tests/worker_settings.py
installs it (through BlockingReportsConfig) in a worker process a test starts; no production
setting or path reaches it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from django.apps import AppConfig
from django.conf import settings

from hospitium.reports.base import Figure, ReportData, ReportMeta, ReportTemplate

KEY = "test_blocking"
#: A blocked build gives up after this long, so a forgotten worker cannot hang forever.
GIVE_UP_SECONDS = 120


class BlockingTemplate(ReportTemplate):
    key = KEY
    title = "Blocking (tests only)"
    description = "Waits part-way until the test releases it."
    formats = ("csv", "json")

    def build(self, params: dict[str, Any], meta: ReportMeta) -> ReportData:
        from hospitium.patients.models import Patient

        folder = Path(settings.HOSPITIUM_TEST_BLOCK_DIR)
        attempt = len(list(folder.glob("started-*"))) + 1
        (folder / f"started-{attempt}").write_text(str(os.getpid()))
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while not (folder / "release").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the test never released the blocking report")
            time.sleep(0.05)
        return ReportData(
            meta=meta, figures=[Figure("patients", "Patients", Patient.objects.count())]
        )


def with_blocking(templates: Any) -> Any:
    """Wrap a registry function so that it also returns the blocking template."""

    def all_templates() -> dict[str, ReportTemplate]:
        return {**templates(), KEY: BlockingTemplate()}

    return all_templates


class BlockingReportsConfig(AppConfig):
    name = "tests.reports.blocking"
    label = "test_blocking_reports"

    def ready(self) -> None:
        from hospitium.reports import registry

        registry.templates = with_blocking(registry.templates)  # type: ignore[method-assign]
