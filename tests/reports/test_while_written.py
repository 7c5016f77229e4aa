"""A report reads its hospital while others write to it: the report completes on its first try
and every write succeeds, on both stores. On SQLite the report's reads must not take (or wait
for) the write lock, and its own progress writes must not be refused because others committed
since its reads began."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from hospitium.patients.models import Patient
from hospitium.patients.services import patient_register
from hospitium.reports import generation, registry
from hospitium.reports.base import Figure, Listing, ReportData, ReportMeta, ReportTemplate
from hospitium.reports.formats import common
from hospitium.reports.generation import report_generate
from hospitium.reports.models import GeneratedReport
from hospitium.reports.services import report_request
from hospitium.tenancy.context import hospital_context
from tests.racehelp import run_together

pytestmark = pytest.mark.django_db

PERIOD = {"date_from": "2025-01-01", "date_to": "2025-03-31"}
PATIENTS = 300
#: Each listing row takes this long to "compute": the report reads for about 1.5 s.
ROW_SECONDS = 0.005


class SlowListing(ReportTemplate):
    """Every patient, read through one open cursor of the hospital's store, slowly."""

    key = "slow_listing"
    title = "Slow listing (tests only)"
    description = "Every patient, a few milliseconds each."
    formats = ("csv", "json")

    def build(self, params: dict[str, Any], meta: ReportMeta) -> ReportData:
        patients = Patient.objects.order_by("mrn")

        def rows() -> Iterator[tuple[Any, ...]]:
            for row in patients.values_list("mrn", "family_name").iterator(chunk_size=20):
                time.sleep(ROW_SECONDS)
                yield row

        return ReportData(
            meta=meta,
            figures=[Figure("patients", "Patients", patients.count())],
            listings=[Listing("patients", "Patients", ["mrn", "family_name"], rows)],
        )


@pytest.fixture
def slow_reports(monkeypatch, settings, _isolated_home):
    settings.MEDIA_ROOT = _isolated_home / "media"
    real = registry.templates
    monkeypatch.setattr(registry, "templates", lambda: {**real(), "slow_listing": SlowListing()})
    # Progress written often, so that the lease is renewed many times while others write.
    monkeypatch.setattr(common, "PROGRESS_EVERY", 10)
    monkeypatch.setattr(generation, "PROGRESS_SECONDS", 0.05)


@pytest.fixture
def patients(hospital_a):
    with hospital_context(hospital_a):
        Patient.objects.bulk_create(
            Patient(
                mrn=f"P{n:06d}",
                given_name="Given",
                family_name=f"Family{n}",
                birth_date=dt.date(1980, 1, 1),
            )
            for n in range(PATIENTS)
        )
    return hospital_a


def _request(format: str = "csv") -> GeneratedReport:
    return report_request(
        template_key="slow_listing",
        format=format,
        include_rows=True,
        roles={"admin"},  # patient rows need a role that reads them
        enqueue=False,
        **PERIOD,
    )


class Writer:
    """Registers patients every ``every`` seconds in another thread until stopped."""

    def __init__(self, hospital: Any, every: float = 0.05) -> None:
        self.hospital, self.every = hospital, every
        self.written = 0
        self.slowest = 0.0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        from django.db import connections

        from hospitium.tenancy import stores

        try:
            with hospital_context(self.hospital):
                while not self._stop.is_set():
                    n = self.written
                    began = time.monotonic()
                    try:
                        patient_register(
                            mrn=f"W{n:06d}",
                            given_name="Writer",
                            family_name=f"W{n}",
                            birth_date=dt.date(1990, 1, 1),
                        )
                        self.written += 1
                        self.slowest = max(self.slowest, time.monotonic() - began)
                    except Exception as exc:
                        self.errors.append(exc)
                    time.sleep(self.every)
        finally:
            stores.close_hospital_connections()
            connections.close_all()

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def test_a_long_report_completes_on_its_first_try_while_the_hospital_is_written(
    patients, slow_reports
):
    with hospital_context(patients):
        report = _request()
        with Writer(patients) as writer:
            done = report_generate(report_id=report.pk)
    assert done is not None
    assert (done.status, done.attempts, done.error_message) == ("completed", 1, "")
    assert done.row_count >= PATIENTS  # and those the writer added before the listing began
    assert writer.errors == []
    assert writer.written >= 10
    assert writer.slowest < 1.0  # never held off for the length of the report's reading


def test_two_reports_at_once_both_complete_on_their_first_try_while_written(patients, slow_reports):
    with hospital_context(patients):
        reports = [_request("csv"), _request("json")]
    with Writer(patients) as writer:
        outcomes = run_together(patients, 2, lambda i: report_generate(report_id=reports[i].pk))
    assert [(o.status, o.attempts, o.error_message) for o in outcomes] == [
        ("completed", 1, ""),
        ("completed", 1, ""),
    ]
    assert writer.errors == []
    assert writer.written >= 10


def test_a_database_that_stays_busy_is_named_as_the_cause_after_the_last_attempt(
    patients, slow_reports, monkeypatch
):
    from django.db import OperationalError

    from hospitium.reports import files
    from hospitium.reports.errors import ReportTransientError

    def locked(*args: object, **kwargs: object) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(files, "write_report", locked)
    with hospital_context(patients):
        report = _request()
        for _ in range(generation.MAX_ATTEMPTS - 1):
            with pytest.raises(ReportTransientError):
                report_generate(report_id=report.pk)
        done = report_generate(report_id=report.pk)
    assert done is not None and done.status == "failed"
    assert "database was busy or unavailable on each of 3 attempts" in done.error_message
    assert "stor" not in done.error_message
