"""Feedback rules through the service, the API and straight through the ORM, on both stores;
isolation between hospitals, the role matrix and audit events."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from hospitium.accounts.roles import MATRIX
from hospitium.audit.models import AuditEvent
from hospitium.core.errors import Conflict, ValidationFailed
from hospitium.feedback.models import Feedback
from hospitium.feedback.services import feedback_respond, feedback_submit
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.router import current_alias
from tests.billing.apihelp import ALPHA, BRAVO, ROLES, as_user, error_of, results
from tests.conftest import make_user
from tests.feedback import factories as ff
from tests.feedback.factories import T0

pytestmark = pytest.mark.django_db
HOUR = dt.timedelta(hours=1)


def refused() -> transaction.Atomic:
    return transaction.atomic(using=current_alias(write=True))


@pytest.fixture
def visit_a(hospital_a):
    with hospital_context(hospital_a):
        return ff.visit()


# --- the service -----------------------------------------------------------------------------


def test_feedback_is_submitted_and_answered(hospital_a, visit_a):
    with hospital_context(hospital_a):
        feedback = feedback_submit(visit=visit_a, rating=4, comment=" Kind staff ")
        assert feedback.comment == "Kind staff" and feedback.submitted_at > T0
        answered = feedback_respond(
            feedback=feedback, response="Thank you", responded_at=feedback.submitted_at + HOUR
        )
        assert answered.responded_at - answered.submitted_at == HOUR
        actions = set(
            AuditEvent.objects.filter(object_type="feedback").values_list("action", flat=True)
        )
        assert actions == {"create", "update"}


@pytest.mark.parametrize("rating", [0, 6, -1])
def test_a_rating_outside_1_to_5_is_refused(hospital_a, visit_a, rating):
    with hospital_context(hospital_a):
        with pytest.raises(ValidationFailed) as caught:
            feedback_submit(visit=visit_a, rating=rating)
        assert caught.value.fields == {"rating": ["A rating is from 1 to 5."]}
        assert Feedback.objects.count() == 0


def test_feedback_before_the_visit_started_is_refused(hospital_a, visit_a):
    with hospital_context(hospital_a):
        with pytest.raises(ValidationFailed, match="not valid") as caught:
            feedback_submit(visit=visit_a, rating=3, submitted_at=T0 - HOUR)
        assert "before the visit started" in caught.value.fields["submitted_at"][0]
        assert Feedback.objects.count() == 0
        feedback_submit(visit=visit_a, rating=3, submitted_at=T0)


def test_a_second_feedback_for_a_visit_is_a_conflict(hospital_a, visit_a):
    with hospital_context(hospital_a):
        feedback_submit(visit=visit_a, rating=5)
        with pytest.raises(Conflict, match="already has feedback; there is one per visit"):
            feedback_submit(visit=visit_a, rating=1)
        assert list(Feedback.objects.values_list("rating", flat=True)) == [5]


def test_a_response_before_the_submission_or_empty_is_refused(hospital_a, visit_a):
    with hospital_context(hospital_a):
        feedback = feedback_submit(visit=visit_a, rating=2, submitted_at=T0 + HOUR)
        with pytest.raises(ValidationFailed) as caught:
            feedback_respond(feedback=feedback, response="Sorry", responded_at=T0)
        assert "before the feedback was submitted" in caught.value.fields["responded_at"][0]
        with pytest.raises(ValidationFailed) as caught:
            feedback_respond(feedback=feedback, response="   ")
        assert caught.value.fields == {"response": ["Required."]}
        assert Feedback.objects.get().responded_at is None


# --- the database ----------------------------------------------------------------------------


def test_the_database_refuses_a_second_feedback_a_bad_rating_and_an_early_response(
    hospital_a, visit_a
):
    with hospital_context(hospital_a):
        Feedback.objects.create(visit=visit_a, rating=3, submitted_at=T0)
        with pytest.raises(IntegrityError), refused():
            Feedback.objects.create(visit=visit_a, rating=4, submitted_at=T0)
        other = ff.visit()
        for rating in (0, 6):
            with pytest.raises(IntegrityError), refused():
                Feedback.objects.create(visit=other, rating=rating, submitted_at=T0)
        with pytest.raises(IntegrityError), refused():
            Feedback.objects.filter(visit=visit_a).update(response="x", responded_at=T0 - HOUR)
        assert Feedback.objects.count() == 1
        assert Feedback.objects.get().responded_at is None


def test_the_database_refuses_feedback_dated_before_its_visit(hospital_a, visit_a):
    with hospital_context(hospital_a):
        early = T0 - dt.timedelta(seconds=1)
        with pytest.raises(IntegrityError, match="feedback_after_visit_start"), refused():
            Feedback.objects.create(visit=visit_a, rating=3, submitted_at=early)
        Feedback.objects.create(visit=visit_a, rating=3, submitted_at=T0)
        with pytest.raises(IntegrityError, match="feedback_after_visit_start"), refused():
            Feedback.objects.filter(visit=visit_a).update(submitted_at=early)
        assert Feedback.objects.get().submitted_at == T0


# --- the API ---------------------------------------------------------------------------------


@pytest.fixture
def reception_a(hospital_a):
    return make_user("desk@alpha.example.test", hospital=hospital_a, role="receptionist")


def test_feedback_over_the_api_with_response_time(api, admin_a, visit_a):
    as_user(api, admin_a)
    submitted = (T0 + HOUR).isoformat()
    created = api.post(
        "/api/feedback/",
        {"visit": str(visit_a.pk), "rating": 5, "comment": "Great", "submitted_at": submitted},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert created.status_code == 201, created.content
    assert created.json()["response_seconds"] is None
    url = f"/api/feedback/{created.json()['id']}/"
    answered = api.post(
        f"{url}respond/",
        {"response": "Thanks!", "responded_at": (T0 + 3 * HOUR).isoformat()},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert answered.status_code == 200
    assert answered.json()["response_seconds"] == 7200
    early = api.post(
        f"{url}respond/",
        {"response": "x", "responded_at": T0.isoformat()},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert error_of(early, 400)["fields"]["responded_at"]
    second = api.post(
        "/api/feedback/", {"visit": str(visit_a.pk), "rating": 1}, format="json", HTTP_HOST=ALPHA
    )
    error = error_of(second, 409)
    assert error["code"] == "conflict" and error["fields"] == {"visit": ["Already has feedback."]}
    bad = api.post(
        "/api/feedback/", {"visit": str(visit_a.pk), "rating": 9}, format="json", HTTP_HOST=ALPHA
    )
    assert error_of(bad, 400)["fields"]["rating"] == ["A rating is from 1 to 5."]
    api.get(url, HTTP_HOST=ALPHA)
    with hospital_context("ALPHA"):
        assert AuditEvent.objects.filter(action="read", object_type="feedback").count() == 1


def test_feedback_filters_by_rating_and_date(api, admin_a, hospital_a):
    with hospital_context(hospital_a):
        feedback_submit(
            visit=ff.visit(), rating=1, submitted_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
        )
        feedback_submit(
            visit=ff.visit(), rating=5, submitted_at=dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
        )
    as_user(api, admin_a)

    def ratings(query: str) -> list[int]:
        rows = results(api.get(f"/api/feedback/?{query}", HTTP_HOST=ALPHA))
        return sorted(row["rating"] for row in rows)

    assert ratings("rating=5") == [5]
    assert ratings("submitted_from=2026-12-02") == [5]
    assert ratings("submitted_to=2026-12-02") == [1]
    assert ratings("submitted_from=2026-12-01&submitted_to=2026-12-05") == [1, 5]
    with hospital_context("ALPHA"):
        assert AuditEvent.objects.filter(action="list", object_type="feedback").count() == 4


def test_a_user_of_bravo_cannot_reach_alphas_feedback(api, hospital_a, hospital_b, visit_a):
    with hospital_context(hospital_a):
        feedback = feedback_submit(visit=visit_a, rating=4)
    as_user(api, make_user("admin@bravo.example.test", hospital=hospital_b, role="admin"))
    assert results(api.get("/api/feedback/", HTTP_HOST=BRAVO)) == []
    url = f"/api/feedback/{feedback.pk}/"
    for host in (BRAVO, ALPHA):
        assert error_of(api.get(url, HTTP_HOST=host), 404)["code"] == "not_found"
        response = api.post(f"{url}respond/", {"response": "x"}, format="json", HTTP_HOST=host)
        assert error_of(response, 404)["code"] == "not_found"
        assert error_of(api.delete(url, HTTP_HOST=host), 404)["code"] == "not_found"
    with hospital_context("ALPHA"):
        assert Feedback.objects.get().response == ""


@pytest.mark.parametrize("role", ROLES)
def test_feedback_follows_the_role_matrix(api, hospital_a, visit_a, role):
    as_user(api, make_user(f"{role}@alpha.example.test", hospital=hospital_a, role=role))
    listing = api.get("/api/feedback/", HTTP_HOST=ALPHA)
    if role in MATRIX["feedback"]["read"]:
        assert listing.status_code == 200
    else:
        assert error_of(listing, 403)["code"] == "role_forbidden"
    created = api.post(
        "/api/feedback/", {"visit": str(visit_a.pk), "rating": 3}, format="json", HTTP_HOST=ALPHA
    )
    with hospital_context("ALPHA"):
        count = Feedback.objects.count()
    if role in MATRIX["feedback"]["write"]:
        assert created.status_code == 201 and count == 1
    else:
        assert error_of(created, 403)["code"] == "role_forbidden" and count == 0
