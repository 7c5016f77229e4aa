"""Every write of the API refuses a field it does not take, and every text it takes is bounded.

Two walks make a new endpoint or serializer without the rule fail here: one sends a body with
an unknown field to every POST, PUT and PATCH of the URLconf (custom actions included) and
expects 400 naming it; one checks every serializer class of the API for the strict base and a
maximum length on each writable text field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.urls import get_resolver
from rest_framework import serializers
from rest_framework.schemas.generators import EndpointEnumerator
from rest_framework.test import APIClient

from hospitium.accounts.models import User
from hospitium.admissions.services import admission_admit
from hospitium.audit.services import break_glass_open
from hospitium.billing.services import invoice_issue, payment_record
from hospitium.campaigns.services import participation_join
from hospitium.core.api import (
    OutputSerializer,
    StrictFieldsMixin,
    StrictModelSerializer,
    StrictSerializer,
)
from hospitium.feedback.services import feedback_submit
from hospitium.patients.models import Patient
from hospitium.reports import registry
from hospitium.reports.base import BaseParameters
from hospitium.scheduling.services import appointment_book
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories
from tests.admissions import helpers as admissions
from tests.billing import factories as billing
from tests.campaigns import factories as campaigns
from tests.conftest import make_user
from tests.core.test_errors import envelope_of
from tests.encounters import factories as encounters

pytestmark = pytest.mark.django_db

ALPHA = "alpha.example.test"
PLATFORM = "localhost"
WRITES = ("POST", "PUT", "PATCH")
UNKNOWN = "zz_not_a_field"


def api_endpoints() -> list[tuple[str, str, Any]]:
    """Every (path, method, view) of the API's URLconf, paths with ``{name}`` placeholders."""
    return [
        (path, method, callback)
        for path, method, callback in EndpointEnumerator().get_api_endpoints()
        if path.startswith("/api/")
    ]


def write_endpoints() -> list[tuple[str, str, Any]]:
    return [(path, method, view) for path, method, view in api_endpoints() if method in WRITES]


@pytest.fixture
def one_of_each(hospital_a: Hospital, superuser: User) -> dict[str, str]:
    """One row of every kind a write route can address, in ALPHA: route basename → its id."""
    glass = break_glass_open(user=superuser, hospital=hospital_a, reason="Walk every write")
    start = dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)
    with hospital_context(hospital_a):
        patient = factories.patient()
        practitioner = factories.practitioner()
        appointment = appointment_book(
            patient=patient,
            practitioner=practitioner,
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=30),
        )
        visit = encounters.visit(patient=patient, practitioner=practitioner)
        bed = admissions.bed()
        admission = admission_admit(patient=patient, bed=bed)
        draft = billing.invoice(patient)
        paid = invoice_issue(invoice=billing.invoice(patient))
        payment = payment_record(invoice=paid, amount=Decimal("1.00"))
        feedback = feedback_submit(visit=visit, rating=4, submitted_at=visit.started_at)
        campaign = campaigns.campaign()
        participation = participation_join(
            campaign=campaign, patient=patient, joined_at=campaigns.DURING
        )
        template = next(iter(registry.templates()))
        return {
            "patient": str(patient.pk),
            "department": str(practitioner.department_id),
            "practitioner": str(practitioner.pk),
            "appointment": str(appointment.pk),
            "visit": str(visit.pk),
            "diagnosis": str(encounters.diagnosis(visit).pk),
            "treatment": str(encounters.treatment(visit).pk),
            "ward": str(bed.room.ward_id),
            "bed": str(bed.pk),
            "admission": str(admission.pk),
            "invoice": str(draft.pk),
            "invoice.line_id": str(draft.lines.get().pk),
            "payment": str(payment.pk),
            "feedback": str(feedback.pk),
            "campaign": str(campaign.pk),
            "participation": str(participation.pk),
            "report-template": template,
            "report-template-setting": template,
            "fleet-report-template": template,
            "break-glass": str(glass.pk),
            "platform-break-glass": str(glass.pk),
            "member": str(make_user("walk@alpha.example.test", hospital=hospital_a).pk),
        }


def _concrete(path: str, basename: str, ids: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        key = basename if name in {"pk", "id"} else f"{basename}.{name}"
        assert key in ids, f"give this walk a row for {key!r} ({path})"
        return ids[key]

    return re.sub(r"\{(\w+)\}", fill, path)


def test_every_write_of_the_api_refuses_an_unknown_field_with_400_naming_it(
    one_of_each: dict[str, str], admin_a: User, superuser: User
) -> None:
    admin, root, anonymous = APIClient(), APIClient(), APIClient()
    admin.force_login(admin_a)
    root.force_login(superuser)
    walked: list[str] = []
    for path, method, view in write_endpoints():
        basename = view.initkwargs.get("basename", "")
        url = _concrete(path, basename, one_of_each)
        if path.startswith(("/api/reports/fleet/", "/api/platform/")):
            client, host = root, PLATFORM
        elif path.startswith("/api/auth/"):
            client, host = anonymous, PLATFORM
        else:
            client, host = admin, ALPHA
        response = client.generic(
            method, url, f'{{"{UNKNOWN}": 1}}', content_type="application/json", HTTP_HOST=host
        )
        if response.status_code == 405:  # a route that takes no writes at all
            envelope_of(response, status=405, code="method_not_allowed", category="validation")
            continue
        error = envelope_of(response, status=400, code="validation_error", category="validation")
        assert error["fields"].get(UNKNOWN) == ["This field is unknown."], (method, url, error)
        walked.append(f"{method} {path}")
    # The walk reached the kinds of write there are (a guard against an empty enumeration).
    for expected in (
        "POST /api/patients/",
        "PATCH /api/patients/{pk}/",
        "POST /api/visits/{pk}/diagnoses/",
        "PATCH /api/invoices/{pk}/lines/{line_id}/",
        "POST /api/appointments/{pk}/cancel/",
        "POST /api/reports/templates/{pk}/generate/",
        "PATCH /api/reports/settings/retention/",
        "POST /api/reports/fleet/templates/{pk}/generate/",
        "POST /api/auth/token/",
        "POST /api/platform/break-glass/",
        "POST /api/break-glass/{pk}/close/",
    ):
        assert expected in walked, expected


# --- the serializer classes ---------------------------------------------------------------------


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def api_serializer_classes() -> list[type[serializers.BaseSerializer[Any]]]:
    """Every serializer class of Hospitium that the API's views can reach.

    Report templates' parameter serializers are left out: they validate the ``filters`` object
    of a generate request, whose unknown keys report_request refuses by name, and the stored
    parameters of a report being regenerated.
    """
    get_resolver().url_patterns  # noqa: B018 (importing the URLconf imports every api module)
    found = {
        cls
        for cls in _subclasses(serializers.BaseSerializer)
        if cls.__module__.startswith("hospitium.")
        and not issubclass(cls, BaseParameters)
        and cls not in {StrictSerializer, StrictModelSerializer, OutputSerializer}
    }
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


def test_the_serializer_walk_finds_the_api_serializers() -> None:
    names = {cls.__name__ for cls in api_serializer_classes()}
    assert {"PatientSerializer", "VoidSerializer", "GenerateSerializer", "NoBody"} <= names


def test_every_serializer_of_the_api_refuses_fields_it_does_not_declare() -> None:
    loose = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in api_serializer_classes()
        if not issubclass(cls, StrictFieldsMixin)
    ]
    assert loose == [], "derive these from StrictSerializer or StrictModelSerializer"


def _writable_text_fields(
    serializer: serializers.BaseSerializer[Any], prefix: str
) -> Iterator[tuple[str, serializers.Field[Any, Any, Any, Any]]]:
    for name, field in serializer.fields.items():  # type: ignore[attr-defined]
        if field.read_only:
            continue
        label = f"{prefix}{name}"
        while isinstance(field, serializers.ListSerializer | serializers.ListField):
            field, label = field.child, f"{label}[]"
        if isinstance(field, serializers.BaseSerializer):
            yield from _writable_text_fields(field, f"{label}.")
        elif isinstance(field, serializers.CharField):
            yield label, field


def test_a_serializer_that_describes_answers_cannot_read_a_body() -> None:
    class Answer(OutputSerializer):
        name = serializers.CharField()

    with pytest.raises(TypeError, match="does not read bodies"):
        Answer(data={"name": "x"})


def test_every_writable_text_field_of_the_api_has_a_maximum_length() -> None:
    unbounded = [
        f"{cls.__qualname__}.{label}"
        for cls in api_serializer_classes()
        if not issubclass(cls, OutputSerializer)
        for label, field in _writable_text_fields(cls(), "")
        if field.max_length is None
    ]
    assert unbounded == []


# --- the defects as they were found -------------------------------------------------------------

NEW = {
    "mrn": "S-1",
    "given_name": "Ada",
    "family_name": "Lovelace",
    "birth_date": "1990-12-10",
    "sex": "female",
}


@pytest.fixture
def doctor(hospital_a: Hospital, doctor_a: User) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.force_login(doctor_a)
    return client


def test_a_patient_registered_with_a_status_keeps_it(doctor: APIClient) -> None:
    created = doctor.post(
        "/api/patients/", NEW | {"status": "inactive"}, format="json", HTTP_HOST=ALPHA
    )
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "inactive"
    with hospital_context("ALPHA"):
        assert Patient.objects.get(mrn="S-1").status == "inactive"


def test_an_unknown_field_on_create_is_refused_and_nothing_is_written(doctor: APIClient) -> None:
    response = doctor.post(
        "/api/patients/", NEW | {"favourite_colour": "teal"}, format="json", HTTP_HOST=ALPHA
    )
    error = envelope_of(response, status=400, code="validation_error", category="validation")
    assert error["fields"] == {"favourite_colour": ["This field is unknown."]}
    with hospital_context("ALPHA"):
        assert not Patient.objects.exists()


def test_a_misspelt_field_on_update_is_refused_and_nothing_changes(doctor: APIClient) -> None:
    patient_id = doctor.post("/api/patients/", NEW, format="json", HTTP_HOST=ALPHA).json()["id"]
    response = doctor.patch(
        f"/api/patients/{patient_id}/",
        {"mrnx": "S-2", "phone": "+1 555 0100"},
        format="json",
        HTTP_HOST=ALPHA,
    )
    error = envelope_of(response, status=400, code="validation_error", category="validation")
    assert error["fields"] == {"mrnx": ["This field is unknown."]}
    with hospital_context("ALPHA"):
        assert Patient.objects.get(pk=patient_id).phone == ""


def test_a_read_only_field_in_a_body_is_refused_not_ignored(doctor: APIClient) -> None:
    patient_id = doctor.post("/api/patients/", NEW, format="json", HTTP_HOST=ALPHA).json()["id"]
    response = doctor.patch(
        f"/api/patients/{patient_id}/",
        {"created_at": "2000-01-01T00:00:00Z"},
        format="json",
        HTTP_HOST=ALPHA,
    )
    error = envelope_of(response, status=400, code="validation_error", category="validation")
    assert error["fields"] == {"created_at": ["This field is read-only."]}


def test_an_unknown_field_inside_a_nested_body_is_named_with_its_place(
    hospital_a: Hospital, admin_a: User
) -> None:
    with hospital_context(hospital_a):
        patient = factories.patient()
    client = APIClient()
    client.force_login(admin_a)
    line = {"description": "Visit", "quantity": "1", "unit_price": "10.00", "colour": "red"}
    response = client.post(
        "/api/invoices/",
        {"patient": str(patient.pk), "lines": [line]},
        format="json",
        HTTP_HOST=ALPHA,
    )
    error = envelope_of(response, status=400, code="validation_error", category="validation")
    assert error["fields"] == {"lines.0.colour": ["This field is unknown."]}


def test_a_body_sent_to_an_action_that_takes_none_is_refused(
    one_of_each: dict[str, str], admin_a: User
) -> None:
    client = APIClient()
    client.force_login(admin_a)
    url = f"/api/appointments/{one_of_each['appointment']}/cancel/"
    response = client.post(url, {"reason": "ill"}, format="json", HTTP_HOST=ALPHA)
    error = envelope_of(response, status=400, code="validation_error", category="validation")
    assert error["fields"] == {"reason": ["This field is unknown."]}
    assert client.post(url, format="json", HTTP_HOST=ALPHA).status_code == 200


@pytest.mark.parametrize(
    ("path", "field", "limit"),
    [("/api/patients/", "address", 1_000), ("/api/patients/", "given_name", 100)],
)
def test_text_over_its_maximum_length_is_refused_with_400(
    doctor: APIClient, path: str, field: str, limit: int
) -> None:
    response = doctor.post(path, NEW | {field: "x" * (limit + 1)}, format="json", HTTP_HOST=ALPHA)
    error = envelope_of(response, status=400, code="validation_error", category="validation")
    assert list(error["fields"]) == [field]
    accepted = doctor.post(path, NEW | {field: "x" * limit}, format="json", HTTP_HOST=ALPHA)
    assert accepted.status_code == 201, accepted.content
