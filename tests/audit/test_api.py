"""The audit log over the API: newest first by id, ``?ordering=at``/``-at`` still accepted (served
by id), ``since`` and ``until`` exact on ``at``, one hospital's log only."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest

from hospitium.audit.services import audit_record
from hospitium.core.ids import new_id
from hospitium.tenancy.context import hospital_context
from tests import factories

pytestmark = pytest.mark.django_db(databases="__all__")

ALPHA = "alpha.example.test"
SINCE = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
TICK = dt.timedelta(microseconds=1)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _listed(api, **query: str) -> list[str]:
    response = api.get(f"/api/audit-events/?{urlencode(query)}", HTTP_HOST=ALPHA)
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def events(hospital_a, hospital_b) -> list[str]:
    """Three events of ALPHA written one after another (oldest first), one of BRAVO."""
    with hospital_context("ALPHA"):
        ids = [
            str(audit_record(action="read", object_type="patients", object_id=f"p{n}"))
            for n in range(3)
        ]
    with hospital_context("BRAVO"):
        audit_record(action="read", object_type="patients", object_id="b")
    return ids


def test_the_log_is_listed_newest_first(api, admin_a, events):
    api.force_login(admin_a)
    assert _listed(api) == list(reversed(events))
    assert _listed(api, ordering="-at") == list(reversed(events))


def test_ordering_by_at_lists_oldest_first(api, admin_a, events):
    api.force_login(admin_a)
    assert _listed(api, ordering="at") == events


def test_an_unknown_ordering_is_ignored(api, admin_a, events):
    api.force_login(admin_a)
    assert _listed(api, ordering="actor_label") == list(reversed(events))


def test_since_and_until_are_exact_on_the_events_time(api, admin_a, hospital_a, hospital_b):
    with hospital_context("ALPHA"):
        before = factories.audit_event(at=SINCE - TICK)
        on = factories.audit_event(at=SINCE)
        later = factories.audit_event(at=SINCE + dt.timedelta(minutes=10))
        # Recorded after the fact: its id is new, its time inside the window.
        recorded_late = factories.audit_event(at=SINCE + dt.timedelta(minutes=5), id=new_id())
    with hospital_context("BRAVO"):
        factories.audit_event(at=SINCE)
    api.force_login(admin_a)
    since = _listed(api, since=_stamp(SINCE))
    assert set(since) == {str(e.pk) for e in (on, later, recorded_late)}
    assert str(before.pk) not in since
    window = _listed(api, since=_stamp(SINCE), until=_stamp(SINCE + dt.timedelta(minutes=10)))
    assert window == [str(recorded_late.pk), str(on.pk)]  # newest id first
    assert _listed(api, until=_stamp(SINCE)) == [str(before.pk)]
    assert _listed(api, since=_stamp(SINCE + TICK), ordering="at") == [
        str(later.pk),
        str(recorded_late.pk),
    ]


def test_the_log_is_for_the_hospitals_admins(api, doctor_a, doctor_b, events):
    api.force_login(doctor_a)
    assert api.get("/api/audit-events/", HTTP_HOST=ALPHA).status_code == 403
    api.force_login(doctor_b)  # not a member: ALPHA does not exist for them
    assert api.get("/api/audit-events/", HTTP_HOST=ALPHA).status_code == 404
