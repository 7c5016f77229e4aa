"""The OpenAPI document says what the API answers: the error envelope for every error status,
the real shape of nested lists, previews and action bodies, closed request bodies, and no
operation that always refuses (each of these was found untrue by schemathesis)."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
import yaml
from django.core.management import call_command

from hospitium.admissions.models import Bed
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.admissions import helpers
from tests.staff.apihelp import ALPHA, client_for, envelope_of

ENVELOPE = "#/components/schemas/ErrorEnvelope"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def _json_schema(response: dict[str, Any]) -> dict[str, Any]:
    return response["content"]["application/json"]["schema"]


def _operations(schema: dict[str, Any]):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


def test_every_operation_declares_the_error_envelope_for_what_it_can_refuse(schema):
    for path, method, operation in _operations(schema):
        statuses = {"400", "401", "403", "404", "405", "406", "415", "429"}
        if method != "get":
            statuses |= {"409", "413", "422"}
        responses = operation["responses"]
        assert statuses <= set(responses), (method, path)
        for status in statuses:
            assert _json_schema(responses[status]) == {"$ref": ENVELOPE}, (method, path, status)


def test_nested_lists_are_declared_as_lists_of_their_records(schema):
    for related, component in [
        ("visits", "Visit"),
        ("appointments", "Appointment"),
        ("admissions", "Admission"),
        ("invoices", "Invoice"),
    ]:
        answer = schema["paths"][f"/api/patients/{{id}}/{related}/"]["get"]["responses"]["200"]
        expected = {"type": "array", "items": {"$ref": f"#/components/schemas/{component}"}}
        assert _json_schema(answer) == expected
    participations = schema["paths"]["/api/campaigns/{id}/participations/"]
    assert _json_schema(participations["get"]["responses"]["200"])["type"] == "array"
    assert "201" in participations["post"]["responses"]


def test_previews_voids_and_actions_declare_their_real_bodies(schema):
    paths = schema["paths"]
    preview = paths["/api/patients/{id}/delete-preview/"]["get"]["responses"]["200"]
    assert _json_schema(preview) == {"$ref": "#/components/schemas/DeletePreview"}
    void = paths["/api/visits/{id}/void/"]["post"]["requestBody"]
    assert _json_schema(void) == {"$ref": "#/components/schemas/VoidRequest"}
    assert "requestBody" not in paths["/api/appointments/{id}/cancel/"]["post"]
    assert "201" in paths["/api/visits/{id}/diagnoses/"]["post"]["responses"]
    assert "202" in paths["/api/reports/templates/{id}/generate/"]["post"]["responses"]
    download = paths["/api/reports/generated/{id}/download/"]["get"]["responses"]["200"]
    assert {"application/pdf", "text/csv"} <= set(download["content"])
    not_ready = paths["/api/reports/generated/{id}/download/"]["get"]["responses"]["409"]
    assert _json_schema(not_ready) == {"$ref": ENVELOPE}


def test_request_bodies_are_json_closed_and_without_read_only_fields(schema):
    body = schema["paths"]["/api/patients/"]["post"]["requestBody"]
    assert set(body["content"]) == {"application/json"}
    request = schema["components"]["schemas"]["PatientRequest"]
    assert request["additionalProperties"] is False
    assert not {"id", "created_at", "updated_at"} & set(request["properties"])
    assert request["properties"]["mrn"]["minLength"] == 1


def test_list_filters_may_be_sent_empty(schema):
    parameters = schema["paths"]["/api/beds/"]["get"]["parameters"]
    ward = next(p for p in parameters if p["name"] == "ward")
    assert ward["allowEmptyValue"] is True


@pytest.mark.django_db
def test_diagnoses_and_treatments_have_no_post_on_their_list_route(schema, hospital_a, admin_a):
    assert set(schema["paths"]["/api/diagnoses/"]) == {"get"}
    assert set(schema["paths"]["/api/treatments/"]) == {"get"}
    posted = client_for(admin_a).post("/api/diagnoses/", {"code": "I10"}, HTTP_HOST=ALPHA)
    error = envelope_of(posted, status=405, code="method_not_allowed")
    assert "/api/visits/{id}/diagnoses/" in error["message"]
    assert "POST" not in posted["Allow"]


@pytest.mark.django_db
def test_a_filter_on_an_id_of_nothing_answers_an_empty_list(hospital_a, admin_a):
    with hospital_context(hospital_a):
        helpers.bed(ward_=helpers.ward(name="North"), room="1", label="A")
        factories.patient()
    api = client_for(admin_a)
    nobody = "01a25286-2a84-7000-8000-000000000000"
    for url in (f"/api/appointments/?patient={nobody}", f"/api/beds/?ward={nobody}"):
        answer = api.get(url, HTTP_HOST=ALPHA)
        assert answer.status_code == 200, answer.content
        assert answer.json()["results"] == []
    assert api.get("/api/beds/?ward=", HTTP_HOST=ALPHA).json()["count"] == 1


@pytest.mark.django_db
def test_boolean_and_whole_number_filters_refuse_what_they_cannot_read(hospital_a, admin_a):
    with hospital_context(hospital_a):
        helpers.bed(ward_=helpers.ward(name="North"), room="1", label="A")
    api = client_for(admin_a)
    for url in ("/api/beds/?is_active=maybe", "/api/feedback/?rating_min=1.5"):
        error = envelope_of(api.get(url, HTTP_HOST=ALPHA), status=400, code="validation_error")
        assert set(error["fields"]) & {"is_active", "rating_min"}
    assert api.get("/api/beds/?is_active=false", HTTP_HOST=ALPHA).json()["count"] == 0
    with hospital_context(hospital_a):
        assert Bed.objects.count() == 1


@pytest.mark.django_db
def test_a_json_body_must_give_text_as_a_string_and_a_flag_as_a_boolean(hospital_a, admin_a):
    with hospital_context(hospital_a):
        bed = helpers.bed(ward_=helpers.ward(name="North"), room="1", label="A")
    api = client_for(admin_a)
    named = api.post("/api/wards/", {"name": 0}, format="json", HTTP_HOST=ALPHA)
    error = envelope_of(named, status=400, code="validation_error")
    assert error["fields"] == {"name": ["Must be a string."]}
    flagged = api.patch(f"/api/beds/{bed.pk}/", {"is_active": 0}, format="json", HTTP_HOST=ALPHA)
    error = envelope_of(flagged, status=400, code="validation_error")
    assert error["fields"] == {"is_active": ["Must be true or false."]}
    unflagged = api.patch(
        f"/api/beds/{bed.pk}/", {"is_active": False}, format="json", HTTP_HOST=ALPHA
    )
    assert unflagged.status_code == 200, unflagged.content
    with hospital_context(hospital_a):
        assert Bed.objects.get(pk=bed.pk).is_active is False


@pytest.mark.django_db
def test_a_time_filter_with_any_offset_under_a_day_is_read_as_its_instant(hospital_a, admin_a):
    # PostgreSQL refuses a time zone offset past 15:59; ISO 8601 (and Python) allow up to 23:59.
    api = client_for(admin_a)
    answer = api.get("/api/visits/?started_after=2083-05-15T10:15:06%2B23:08", HTTP_HOST=ALPHA)
    assert answer.status_code == 200, answer.content
    assert answer.json()["results"] == []
