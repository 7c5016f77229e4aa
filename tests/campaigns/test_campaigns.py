"""Campaign and participation rules through the services, the API and straight through the
ORM, on both stores; isolation between hospitals, the role matrix and audit events."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from hospitium.accounts.roles import MATRIX
from hospitium.audit.models import AuditEvent
from hospitium.campaigns.models import Campaign, Participation
from hospitium.campaigns.services import (
    campaign_update,
    participation_join,
    participation_set_outcome,
)
from hospitium.core.errors import Conflict, ValidationFailed
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.router import current_alias
from tests import factories
from tests.billing.apihelp import ALPHA, BRAVO, ROLES, as_user, error_of, results
from tests.campaigns import factories as cf
from tests.campaigns.factories import DURING, ENDS, STARTS
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def refused() -> transaction.Atomic:
    return transaction.atomic(using=current_alias(write=True))


# --- the services ----------------------------------------------------------------------------


def test_a_campaign_is_created_and_changed(hospital_a):
    with hospital_context(hospital_a):
        campaign = cf.campaign(name=" Flu 2026 ")
        assert campaign.name == "Flu 2026"
        changed = campaign_update(campaign=campaign, target=250, kind="screening")
        assert (changed.target, changed.kind) == (250, "screening")
        assert set(
            AuditEvent.objects.filter(object_id=str(campaign.pk)).values_list("action", flat=True)
        ) == {"create", "update"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ends_on": STARTS}, "ends_on"),
        ({"ends_on": STARTS - dt.timedelta(days=1)}, "ends_on"),
        ({"target": -1}, "target"),
        ({"kind": "party"}, "kind"),
        ({"name": "  "}, "name"),
    ],
)
def test_a_bad_campaign_is_refused(hospital_a, overrides, field):
    with hospital_context(hospital_a):
        with pytest.raises(ValidationFailed) as caught:
            cf.campaign(**overrides)
        assert field in caught.value.fields
        assert Campaign.objects.count() == 0


def test_a_campaign_name_is_unique(hospital_a):
    with hospital_context(hospital_a):
        cf.campaign(name="Flu")
        other = cf.campaign(name="Measles")
        with pytest.raises(Conflict, match="already a campaign named 'Flu'"):
            cf.campaign(name="flu")
        with pytest.raises(Conflict):
            campaign_update(campaign=other, name="Flu")
        with pytest.raises(ValidationFailed, match="not valid"):
            campaign_update(campaign=other, ends_on=STARTS)
        assert sorted(Campaign.objects.values_list("name", flat=True)) == ["Flu", "Measles"]


def test_a_patient_joins_a_campaign_once_within_its_period(hospital_a):
    with hospital_context(hospital_a):
        campaign, patient = cf.campaign(), factories.patient()
        for outside in (
            dt.datetime(2026, 2, 28, 23, 59, tzinfo=dt.UTC),
            dt.datetime(2026, 4, 1, 0, 0, tzinfo=dt.UTC),
        ):
            with pytest.raises(ValidationFailed) as caught:
                participation_join(campaign=campaign, patient=patient, joined_at=outside)
            assert caught.value.fields == {
                "joined_at": ["Must be within the campaign, 2026-03-01 to 2026-03-31."]
            }
        assert Participation.objects.count() == 0
        joined = participation_join(
            campaign=campaign,
            patient=patient,
            joined_at=dt.datetime(2026, 3, 31, 23, tzinfo=dt.UTC),
        )
        with pytest.raises(Conflict, match="already takes part"):
            participation_join(campaign=campaign, patient=patient, joined_at=DURING)
        assert Participation.objects.count() == 1
        done = participation_set_outcome(participation=joined, outcome="completed")
        assert done.outcome == "completed"
        with pytest.raises(ValidationFailed, match="Choose one of"):
            participation_set_outcome(participation=joined, outcome="cured")
        assert Participation.objects.get().outcome == "completed"


def test_a_campaign_period_cannot_shrink_past_its_participants(hospital_a):
    with hospital_context(hospital_a):
        campaign = cf.campaign()
        participation_join(campaign=campaign, patient=factories.patient(), joined_at=DURING)
        with pytest.raises(ValidationFailed, match="joined outside the new period"):
            campaign_update(campaign=campaign, ends_on=dt.date(2026, 3, 10))
        assert Campaign.objects.get().ends_on == ENDS


# --- the database ----------------------------------------------------------------------------


def test_the_database_refuses_bad_campaigns_and_double_participation(hospital_a):
    with hospital_context(hospital_a):
        campaign = cf.campaign(name="Flu")
        with pytest.raises(IntegrityError), refused():
            Campaign.objects.create(name="Flu", starts_on=STARTS, ends_on=ENDS)
        with pytest.raises(IntegrityError), refused():
            Campaign.objects.create(name="Backwards", starts_on=ENDS, ends_on=STARTS)
        with pytest.raises(IntegrityError), refused():
            Campaign.objects.create(name="Same day", starts_on=STARTS, ends_on=STARTS)
        with pytest.raises(IntegrityError), refused():
            Campaign.objects.create(name="Negative", starts_on=STARTS, ends_on=ENDS, target=-1)
        with pytest.raises(IntegrityError), refused():
            Campaign.objects.create(name="Odd", kind="party", starts_on=STARTS, ends_on=ENDS)
        patient = factories.patient()
        Participation.objects.create(campaign=campaign, patient=patient, joined_at=DURING)
        with pytest.raises(IntegrityError), refused():
            Participation.objects.create(campaign=campaign, patient=patient, joined_at=DURING)
        with pytest.raises(IntegrityError), refused():
            Participation.objects.filter(campaign=campaign).update(outcome="cured")
        assert Campaign.objects.count() == 1 and Participation.objects.count() == 1


# --- the API ---------------------------------------------------------------------------------


def test_campaigns_and_participations_over_the_api(api, doctor_a, hospital_a):
    with hospital_context(hospital_a):
        patient = factories.patient()
    as_user(api, doctor_a)
    body = {
        "name": "Flu",
        "kind": "vaccination",
        "starts_on": "2026-03-01",
        "ends_on": "2026-03-31",
    }
    created = api.post("/api/campaigns/", body, format="json", HTTP_HOST=ALPHA)
    assert created.status_code == 201, created.content
    assert created.json()["participant_count"] == 0
    again = error_of(api.post("/api/campaigns/", body, format="json", HTTP_HOST=ALPHA), 409)
    assert again["fields"] == {"name": ["Already in use."]}
    backwards = {**body, "name": "Back", "ends_on": "2026-02-01"}
    error = error_of(api.post("/api/campaigns/", backwards, format="json", HTTP_HOST=ALPHA), 400)
    assert error["fields"] == {"ends_on": ["A campaign must end after it starts."]}
    url = f"/api/campaigns/{created.json()['id']}/"
    late = {"patient": str(patient.pk), "joined_at": "2026-04-02T10:00:00Z"}
    error = error_of(api.post(f"{url}participations/", late, format="json", HTTP_HOST=ALPHA), 400)
    assert "joined_at" in error["fields"]
    ok = {"patient": str(patient.pk), "joined_at": "2026-03-02T10:00:00Z"}
    joined = api.post(f"{url}participations/", ok, format="json", HTTP_HOST=ALPHA)
    assert joined.status_code == 201, joined.content
    twice = error_of(api.post(f"{url}participations/", ok, format="json", HTTP_HOST=ALPHA), 409)
    assert twice["code"] == "conflict"
    rows = api.get(f"{url}participations/", HTTP_HOST=ALPHA).json()
    assert [row["patient"] for row in rows] == [str(patient.pk)]
    assert api.get(url, HTTP_HOST=ALPHA).json()["participant_count"] == 1
    outcome = api.patch(
        f"/api/participations/{joined.json()['id']}/",
        {"outcome": "completed"},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert outcome.status_code == 200 and outcome.json()["outcome"] == "completed"
    patched = api.patch(url, {"target": 40}, format="json", HTTP_HOST=ALPHA)
    assert patched.json()["target"] == 40
    with hospital_context("ALPHA"):
        kinds = set(AuditEvent.objects.values_list("object_type", "action"))
    assert {
        ("campaigns", "create"),
        ("campaigns", "read"),
        ("campaigns", "update"),
        ("participations", "create"),
        ("participations", "list"),
        ("participations", "update"),
    } <= kinds


def test_a_user_of_bravo_cannot_reach_alphas_campaigns(api, hospital_a, hospital_b):
    with hospital_context(hospital_a):
        campaign = cf.campaign()
        joined = participation_join(
            campaign=campaign, patient=factories.patient(), joined_at=DURING
        )
    as_user(api, make_user("admin@bravo.example.test", hospital=hospital_b, role="admin"))
    assert results(api.get("/api/campaigns/", HTTP_HOST=BRAVO)) == []
    assert results(api.get("/api/participations/", HTTP_HOST=BRAVO)) == []
    for method, path, body in [
        ("get", f"/api/campaigns/{campaign.pk}/", None),
        ("patch", f"/api/campaigns/{campaign.pk}/", {"target": 1}),
        ("delete", f"/api/campaigns/{campaign.pk}/", None),
        ("get", f"/api/campaigns/{campaign.pk}/participations/", None),
        ("get", f"/api/participations/{joined.pk}/", None),
        ("patch", f"/api/participations/{joined.pk}/", {"outcome": "dropped"}),
    ]:
        for host in (BRAVO, ALPHA):
            response = getattr(api, method)(path, body, format="json", HTTP_HOST=host)
            assert error_of(response, 404)["code"] == "not_found", (method, path, host)
    with hospital_context("ALPHA"):
        assert Campaign.objects.get().target == 100
        assert Participation.objects.get().outcome == "enrolled"


@pytest.mark.parametrize("role", ROLES)
def test_campaigns_and_participations_follow_the_role_matrix(api, hospital_a, role):
    with hospital_context(hospital_a):
        campaign = cf.campaign()
        patient = factories.patient()
    as_user(api, make_user(f"{role}@alpha.example.test", hospital=hospital_a, role=role))

    def check(response, resource: str, action: str, success: int) -> None:
        if role in MATRIX[resource][action]:
            assert response.status_code == success, response.content
        else:
            assert error_of(response, 403)["code"] == "role_forbidden"

    check(api.get("/api/campaigns/", HTTP_HOST=ALPHA), "campaigns", "read", 200)
    body = {"name": f"By {role}", "starts_on": "2026-05-01", "ends_on": "2026-05-31"}
    check(
        api.post("/api/campaigns/", body, format="json", HTTP_HOST=ALPHA), "campaigns", "write", 201
    )
    nested = f"/api/campaigns/{campaign.pk}/participations/"
    check(api.get(nested, HTTP_HOST=ALPHA), "participations", "read", 200)
    join = {"patient": str(patient.pk), "joined_at": DURING.isoformat()}
    check(api.post(nested, join, format="json", HTTP_HOST=ALPHA), "participations", "write", 201)
    check(api.get("/api/participations/", HTTP_HOST=ALPHA), "participations", "read", 200)
    with hospital_context("ALPHA"):
        writes = role in MATRIX["participations"]["write"]
        assert Participation.objects.count() == (1 if writes else 0)
        assert Campaign.objects.count() == (2 if role in MATRIX["campaigns"]["write"] else 1)
