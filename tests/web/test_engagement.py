"""``/feedback/`` and ``/campaigns/``: lists, details, a response, joining and leaving (test
client, both stores)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from hospitium.accounts.models import Role
from hospitium.campaigns.models import Campaign, Participation
from hospitium.campaigns.services import campaign_create, participation_join
from hospitium.feedback.models import Feedback
from hospitium.feedback.services import feedback_submit
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories
from tests.billing import factories as billing
from tests.web.helpers import client_for, max_queries, member

pytestmark = pytest.mark.django_db


def _feedback(rating: int = 4, comment: str = "Kind staff") -> Feedback:
    return feedback_submit(visit=billing.visit(), rating=rating, comment=comment)


def _campaign(name: str = "Flu 2026") -> Campaign:
    today = timezone.now().date()
    return campaign_create(
        name=name, starts_on=today - dt.timedelta(days=10), ends_on=today + dt.timedelta(days=30)
    )


@pytest.mark.parametrize(
    ("role", "feedback", "campaigns"),
    [
        (Role.ADMIN, 200, 200),
        (Role.DOCTOR, 200, 200),
        (Role.NURSE, 200, 200),
        (Role.RECEPTIONIST, 200, 200),
        (Role.BILLING, 403, 200),
        (Role.ANALYST, 403, 200),
    ],
)
def test_roles_open_the_pages_the_permission_table_gives_them(
    hospital_a: Hospital, role: str, feedback: int, campaigns: int
) -> None:
    with hospital_context(hospital_a):
        item = _feedback()
        campaign = _campaign()
    client = client_for(hospital_a, member(hospital_a, role))
    assert client.get("/feedback/").status_code == feedback
    assert client.get(f"/feedback/{item.pk}/").status_code == feedback
    assert client.get("/campaigns/").status_code == campaigns
    assert client.get(f"/campaigns/{campaign.pk}/").status_code == campaigns
    nav = client.get("/").content.decode()
    assert ('href="/feedback/"' in nav) == (feedback == 200)


def test_the_lists_cost_the_same_queries_for_few_or_many(
    hospital_a: Hospital, django_assert_max_num_queries
) -> None:
    client = client_for(hospital_a, member(hospital_a, Role.ADMIN))
    with hospital_context(hospital_a):
        _feedback()
        campaign = _campaign()
        participation_join(campaign=campaign, patient=factories.patient())
    pages = ("/feedback/", "/campaigns/", f"/campaigns/{campaign.pk}/")
    client.get("/feedback/")
    for address in pages:
        with max_queries(django_assert_max_num_queries, hospital_a, 6):
            assert client.get(address).status_code == 200
    with hospital_context(hospital_a):
        for n in range(15):
            _feedback(rating=n % 5 + 1)
            participation_join(campaign=campaign, patient=factories.patient())
            _campaign(f"Screening {n}")
    for address in pages:
        with max_queries(django_assert_max_num_queries, hospital_a, 6):
            assert client.get(address).status_code == 200


def test_reception_answers_feedback_a_doctor_may_not(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        item = _feedback()
    doctor = client_for(hospital_a, member(hospital_a, Role.DOCTOR))
    assert "Save response" not in doctor.get(f"/feedback/{item.pk}/").content.decode()
    assert doctor.post(f"/feedback/{item.pk}/", {"response": "Thanks"}).status_code == 403
    desk = client_for(hospital_a, member(hospital_a, Role.RECEPTIONIST))
    empty = desk.post(f"/feedback/{item.pk}/", {"response": ""})
    assert 'class="error-summary"' in empty.content.decode()
    assert desk.post(f"/feedback/{item.pk}/", {"response": "Thank you"}).status_code == 302
    with hospital_context(hospital_a):
        assert Feedback.objects.get(pk=item.pk).response == "Thank you"


def test_a_patient_joins_then_leaves_a_campaign(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        campaign = _campaign()
        patient = factories.patient(given_name="Marie", family_name="Curie")
    client = client_for(hospital_a, member(hospital_a, Role.NURSE))
    found = client.get(f"/campaigns/{campaign.pk}/", {"q": "Curie"}).content.decode()
    assert f"?patient={patient.pk}" in found
    joined = client.post(f"/campaigns/{campaign.pk}/join/", {"patient": str(patient.pk)})
    assert joined.status_code == 302
    twice = client.post(
        f"/campaigns/{campaign.pk}/join/", {"patient": str(patient.pk)}, follow=True
    )
    assert "already" in twice.content.decode()
    with hospital_context(hospital_a):
        taking = Participation.objects.get()
    assert client.post(f"/campaigns/participations/{taking.pk}/leave/").status_code == 302
    with hospital_context(hospital_a):
        assert Participation.objects.get().outcome == Participation.Outcome.DROPPED


def test_a_billing_clerk_sees_campaigns_but_not_who_takes_part(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        campaign = _campaign()
        patient = factories.patient(family_name="Secretname")
        participation_join(campaign=campaign, patient=patient)
    client = client_for(hospital_a, member(hospital_a, Role.BILLING))
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "Secretname" not in page and "Add a participant" not in page
    refused = client.post(f"/campaigns/{campaign.pk}/join/", {"patient": str(patient.pk)})
    assert refused.status_code == 403


def test_another_hospitals_feedback_and_campaign_answer_404(
    hospital_a: Hospital, hospital_b: Hospital
) -> None:
    with hospital_context(hospital_b):
        item = _feedback()
        campaign = _campaign()
        taking = participation_join(campaign=campaign, patient=factories.patient())
    client = client_for(hospital_a, member(hospital_a, Role.ADMIN))
    for address in (f"/feedback/{item.pk}/", f"/campaigns/{campaign.pk}/", "/campaigns/x/"):
        response = client.get(address)
        assert response.status_code == 404, address
        assert "Page not found" in response.content.decode()
    assert client.post(f"/campaigns/participations/{taking.pk}/leave/").status_code == 404
