"""`hospitium reports generate`, in process (call_command), plus one end-to-end run of a real
template in the real CSV format, and the whole-fleet report."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from hospitium.core.errors import PermissionRefused
from hospitium.patients.models import Patient
from hospitium.reports import registry
from hospitium.reports.fleet import fleet_report_data
from hospitium.reports.models import GeneratedReport
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.reports.fakes import fake_reports  # noqa: F401

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("reports", "generate", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.usefixtures("fake_reports")
def test_the_cli_generates_stores_and_writes_a_report(hospital_a, tmp_path):
    with hospital_context("ALPHA"):
        factories.patient()
    out = tmp_path / "r.csv"
    said = run(
        "--hospital", "alpha", "--template", "fake_counts", "--format", "csv",
        "--from", "2025-01-01", "--to", "2025-03-31", "--include-rows", "--out", str(out),
    )  # fmt: skip
    assert "completed" in said and "1 rows" in said
    with hospital_context("ALPHA"):
        report = GeneratedReport.objects.get()
    assert report.requested_by_label == "cli" and report.include_rows
    assert out.read_bytes().startswith(b"# ALPHA fake_counts\npatients,1\n")
    assert out.stat().st_size == report.size


@pytest.mark.usefixtures("fake_reports")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hospital", "NOPE"], "there is no hospital NOPE"),
        (["--template", "nope"], "no report template"),
        (["--format", "docx"], "--format must be one of"),
        (["--format", "pdf"], "cannot be produced as 'pdf'"),
        (["--to", "2024-01-01"], "date_to"),
        (["--from", "someday"], "date_from"),
        (["--template", "fake_counts", "--hospital", "ALL"], "needs --out"),
    ],
)
def test_the_cli_refuses_bad_input_clearly_with_exit_status_1(hospital_a, args, message):
    base = {
        "--hospital": "ALPHA",
        "--template": "fake_counts",
        "--format": "csv",
        "--from": "2025-01-01",
        "--to": "2025-03-31",
    }
    for name, value in zip(args[::2], args[1::2], strict=True):
        base[name] = value
    with pytest.raises(CommandError, match=message) as caught:
        run(*[item for pair in base.items() for item in pair])
    assert caught.value.returncode == 1


@pytest.mark.usefixtures("fake_reports")
def test_a_failing_report_exits_1_with_its_message(hospital_a, monkeypatch):
    from tests.reports import fakes

    monkeypatch.setattr(fakes.FakeTemplate, "build", lambda self, params, meta: 1 / 0, raising=True)
    with pytest.raises(CommandError, match="internal error") as caught:
        run(
            "--hospital", "ALPHA", "--template", "fake_counts", "--format", "csv",
            "--from", "2025-01-01", "--to", "2025-03-31",
        )  # fmt: skip
    assert caught.value.returncode == 1


@pytest.mark.usefixtures("fake_reports")
def test_the_whole_fleet_is_one_report_with_counts_added(
    hospital_a, hospital_b, superuser, doctor_a
):
    with hospital_context("ALPHA"):
        factories.patient(sex="female")
        factories.patient(sex="male")
    with hospital_context("BRAVO"):
        factories.patient(sex="female")
    data = fleet_report_data(
        user=superuser, template_key="fake_counts", date_from="2025-01-01", date_to="2025-03-31"
    )
    assert data.meta.hospital_name == "All hospitals (2)"
    assert [(f.key, f.value) for f in data.figures] == [("patients", 3)]
    by_hospital = next(t for t in data.tables if t.key == "by_hospital")
    assert [list(row) for row in by_hospital.rows] == [["ALPHA", 2], ["BRAVO", 1]]
    series = data.series[0]
    assert dict(zip(series.x, series.y["patients"], strict=True)) == {"female": 2, "male": 1}
    with pytest.raises(PermissionRefused):
        fleet_report_data(
            user=doctor_a, template_key="fake_counts", date_from="2025-01-01", date_to="2025-03-31"
        )


@pytest.mark.skipif(
    "patient_summary" not in registry.templates() or "csv" not in registry.formats(),
    reason="the real patient_summary template and csv format are not there yet",
)
def test_end_to_end_a_real_template_in_the_real_csv_format(hospital_a, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    with hospital_context("ALPHA"):
        for _ in range(3):
            factories.patient()
    today = timezone.localdate()
    out = tmp_path / "summary.csv"
    run(
        "--hospital", "ALPHA", "--template", "patient_summary", "--format", "csv",
        "--from", f"{today.year - 1}-01-01", "--to", str(today), "--include-rows",
        "--out", str(out),
    )  # fmt: skip
    text = out.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    start = rows.index(["# section: figures"])
    figures = {row[0]: row[2] for row in rows[start + 2 :] if row and len(row) >= 3}
    with hospital_context("ALPHA"):
        assert int(figures["patients_total"]) == Patient.objects.count() == 3
        report = GeneratedReport.objects.get()
    assert report.status == "completed" and report.row_count >= 3
