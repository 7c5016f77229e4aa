"""The two plug-in shapes of the reports subsystem.

A *template* (one module under ``reports/templates/``) turns a hospital's data into a
``ReportData``: validated parameters in, sections out. A *format* (one module under
``reports/formats/``) writes a ``ReportData`` to a binary file. Templates never know formats and
formats never query the database, so every template works in every format, and the data step can
be measured, cached and tested on its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

from rest_framework import serializers

# -- what a template produces ---------------------------------------------------------------


@dataclass
class Figure:
    """One headline number: "Patients registered", 1234, unit "patients"."""

    key: str
    label: str
    value: int | float | str | None
    unit: str = ""


@dataclass
class Table:
    """A small aggregated table (rows already computed, fits in memory)."""

    key: str
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]


@dataclass
class Series:
    """Points for a chart: ``kind`` is "line" or "bar"; x values are labels (months, hours…)."""

    key: str
    title: str
    kind: str
    x: Sequence[Any]
    y: dict[str, Sequence[int | float]]  # one or more named series over the same x


@dataclass
class Listing:
    """The underlying rows (every visit of the period, say): streamed, never held in memory.

    ``rows`` is called once by the format and yields tuples in ``columns`` order; ``count`` is
    filled in by whoever consumes it (the formats count as they write).

    ``csv_chunks``, when set, is a faster way to the same rows for the CSV format: called
    instead of ``rows``, it returns (text, rows) pairs — finished CSV lines, exactly what the csv
    module writes for ``rows`` (default dialect, CRLF line ends), and how many — or None when it
    cannot (the format then calls ``rows``). Taken from ``rows.csv_chunks`` when ``rows`` has
    one (``templates.patient_summary.streamed``).
    """

    key: str
    title: str
    columns: Sequence[str]
    rows: Callable[[], Iterable[Sequence[Any]]]
    csv_chunks: Callable[[], Iterable[tuple[str, int]] | None] | None = None

    def __post_init__(self) -> None:
        if self.csv_chunks is None:
            self.csv_chunks = getattr(self.rows, "csv_chunks", None)


@dataclass
class ReportMeta:
    hospital_code: str
    hospital_name: str
    template_key: str
    title: str
    period_start: dt.date
    period_end: dt.date
    filters: dict[str, Any]
    generated_by: str
    generated_at: dt.datetime


@dataclass
class ReportData:
    meta: ReportMeta
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    listings: list[Listing] = field(default_factory=list)


# -- templates -------------------------------------------------------------------------------


class BaseParameters(serializers.Serializer[Any]):
    """Every template's parameters start with a date range; templates add their own filters."""

    date_from = serializers.DateField()
    date_to = serializers.DateField()
    include_rows = serializers.BooleanField(default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["date_to"] < attrs["date_from"]:
            raise serializers.ValidationError(
                {"date_to": "The end of the period is before its start."}
            )
        if (attrs["date_to"] - attrs["date_from"]).days > 366 * 20:
            raise serializers.ValidationError({"date_to": "A period is at most 20 years."})
        return attrs


class ReportTemplate:
    """One report template. Subclasses set the class attributes and implement ``build``.

    ``build`` runs inside the hospital's context; every figure must come from SQL aggregation
    (no Python loop over rows); listings stream.
    """

    key: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    parameters: ClassVar[type[BaseParameters]] = BaseParameters
    #: How long computed figures may be served from the cache (15 minutes to 2 hours).
    cache_seconds: ClassVar[int] = 900
    formats: ClassVar[tuple[str, ...]] = ("pdf", "xlsx", "csv", "json")

    def build(self, params: dict[str, Any], meta: ReportMeta) -> ReportData:
        raise NotImplementedError


# -- formats ---------------------------------------------------------------------------------


class ReportFormat:
    """One output format. ``write`` writes the whole file to ``out`` and returns the number of
    listing rows written; ``progress(fraction)`` may be called as it goes."""

    key: ClassVar[str]
    extension: ClassVar[str]
    content_type: ClassVar[str]

    def write(
        self, data: ReportData, out: IO[bytes], progress: Callable[[float], None] | None = None
    ) -> int:
        raise NotImplementedError


def iter_rows(listing: Listing) -> Iterator[Sequence[Any]]:
    """The listing's rows, once."""
    yield from listing.rows()
