""" "The whole fleet": one template run in every live hospital in parallel, figures merged.

Each hospital's data step runs on a thread of its own inside that hospital's context (the
current hospital is a context variable, so threads do not share it), on that thread's own
connections, which are closed when it is done. Only aggregates travel: listings are not merged.
Counts (integer figures, table rows, series points) add up; a figure that is not a count (a
rate, an average, money) cannot be added, so the fleet value is left empty and each hospital's
value is shown in the "by hospital" table — with its unit beside it when hospitals differ in
it (money in several currencies).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.utils import timezone

from hospitium.core.errors import NotFound, PermissionRefused, ValidationFailed
from hospitium.reports import registry
from hospitium.reports.base import Figure, ReportData, ReportMeta, Series, Table
from hospitium.reports.generation import build_data
from hospitium.tenancy import stores
from hospitium.tenancy.context import HospitalRef, hospital_context
from hospitium.tenancy.models import Hospital

MAX_THREADS = 8


def fleet_report_data(
    *,
    user: Any,
    template_key: str,
    date_from: dt.date | str,
    date_to: dt.date | str,
    filters: dict[str, Any] | None = None,
    codes: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReportData:
    """The template's figures over every active hospital (or ``codes``), merged.

    Only a platform superuser may ask (``user=None`` is the operator's CLI). ``progress(done,
    total)`` is called, on the calling thread, as each hospital's part arrives. Raises
    PermissionRefused, NotFound for an unknown template, ValidationFailed for bad parameters.
    """
    if user is not None and not getattr(user, "is_superuser", False):
        raise PermissionRefused("Only a platform superuser can report on the whole fleet.")
    template = registry.templates().get(template_key)
    if template is None:
        raise NotFound(f"There is no report template {template_key!r}.")
    raw = {**(filters or {}), "date_from": str(date_from), "date_to": str(date_to)}
    raw["include_rows"] = False
    serializer = template.parameters(data=raw)
    if not serializer.is_valid():
        raise ValidationFailed("The report's parameters are not valid.", fields=serializer.errors)
    params, stored = dict(serializer.validated_data), dict(serializer.data)
    hospitals = Hospital.objects.filter(status=Hospital.Status.ACTIVE).order_by("code")
    if codes is not None:
        hospitals = hospitals.filter(code__in=[c.upper() for c in codes])
    refs = [h.as_ref() for h in hospitals]
    generated_by = getattr(user, "email", "") or "operator"

    def one(ref: HospitalRef) -> ReportData:
        try:
            with hospital_context(ref):
                meta = ReportMeta(
                    hospital_code=ref.code,
                    hospital_name=ref.name,
                    template_key=template.key,
                    title=template.title,
                    period_start=params["date_from"],
                    period_end=params["date_to"],
                    filters={},
                    generated_by=generated_by,
                    generated_at=timezone.now(),
                )
                return build_data(template, params, stored, meta)
        finally:
            stores.close_hospital_connections()

    parts: list[ReportData] = []
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_THREADS, len(refs)))) as pool:
        for part in pool.map(one, refs):
            parts.append(part)
            if progress is not None:
                progress(len(parts), len(refs))
    meta = ReportMeta(
        hospital_code="FLEET",
        hospital_name=f"All hospitals ({len(refs)})",
        template_key=template.key,
        title=f"{template.title} — all hospitals",
        period_start=params["date_from"],
        period_end=params["date_to"],
        filters={
            k: v for k, v in params.items() if k not in {"date_from", "date_to", "include_rows"}
        },
        generated_by=generated_by,
        generated_at=timezone.now(),
    )
    return merge(meta, [(ref.code, part) for ref, part in zip(refs, parts, strict=True)])


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def merge(meta: ReportMeta, parts: list[tuple[str, ReportData]]) -> ReportData:
    """Add the hospitals' counts together; keep every hospital's figures side by side."""
    merged = ReportData(meta=meta)
    order: list[str] = []
    figures: dict[str, Figure] = {}
    for _, part in parts:
        for figure in part.figures:
            if figure.key not in figures:
                order.append(figure.key)
                figures[figure.key] = Figure(figure.key, figure.label, figure.value, figure.unit)
                continue
            total = figures[figure.key]
            if _is_count(total.value) and _is_count(figure.value):
                total.value = int(total.value) + int(figure.value)  # type: ignore[arg-type]
            else:
                total.value = None
    mixed: set[str] = set()
    for key in order:
        if not all(_is_count(f.value) for _, p in parts for f in p.figures if f.key == key):
            figures[key].value = None
        if len({f.unit for _, p in parts for f in p.figures if f.key == key}) > 1:
            # Hospitals in different currencies: no fleet unit, each value keeps its own.
            mixed.add(key)
            figures[key].unit = ""
    merged.figures = [figures[key] for key in order]

    def cell(part: ReportData, key: str) -> Any:
        figure = next((f for f in part.figures if f.key == key), None)
        if figure is None:
            return None
        if key in mixed and figure.value is not None:
            return f"{figure.value} {figure.unit}"
        return figure.value

    merged.tables.append(
        Table(
            key="by_hospital",
            title="Figures by hospital",
            columns=["hospital", *[figures[key].label for key in order]],
            rows=[[code, *[cell(p, key) for key in order]] for code, p in parts],
        )
    )
    tables: dict[str, Table] = {}
    for code, part in parts:
        for table in part.tables:
            into = tables.setdefault(
                table.key, Table(table.key, table.title, ["hospital", *table.columns], [])
            )
            into.rows = [*into.rows, *[[code, *row] for row in table.rows]]
    merged.tables.extend(tables.values())
    merged.series = _merge_series([s for _, part in parts for s in part.series])
    return merged


def _merge_series(all_series: list[Series]) -> list[Series]:
    merged: dict[str, tuple[Series, dict[Any, dict[str, float]]]] = {}
    for series in all_series:
        base, points = merged.setdefault(series.key, (series, {}))
        for name, values in series.y.items():
            for x, y in zip(series.x, values, strict=False):
                slot = points.setdefault(x, {})
                slot[name] = slot.get(name, 0) + y
    out: list[Series] = []
    for base, points in merged.values():
        xs = sorted(points, key=str)
        names = list(base.y)
        out.append(
            Series(
                base.key,
                base.title,
                base.kind,
                xs,
                {name: [points[x].get(name, 0) for x in xs] for name in names},
            )
        )
    return out
