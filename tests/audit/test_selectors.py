"""Reads of the audit log: the list and the filters a hospital admin uses are served by an index
(the list and its time filter by the primary key: there is no index on ``at``), and the time
filter is exact."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connections, transaction
from django.utils import timezone

from hospitium.audit.api import AuditEventFilter
from hospitium.audit.models import AuditEvent
from hospitium.audit.selectors import ID_LAG, audit_event_list, events_since
from hospitium.audit.services import audit_record
from hospitium.core.ids import first_id_at, new_id
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.router import current_alias
from tests import factories

pytestmark = pytest.mark.django_db(databases="__all__")

SINCE = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
TICK = dt.timedelta(microseconds=1)


def _plan(queryset) -> str:
    """The query plan of ``queryset`` with sequential scans priced out on PostgreSQL (the test
    tables are tiny, where a scan is cheaper; the question is whether an index can serve)."""
    alias = current_alias(write=False)
    with transaction.atomic(using=alias):
        if connections[alias].vendor == "postgresql":
            with connections[alias].cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.explain()


def _primary_key_index() -> str:
    """The name the query plans give the primary key's index."""
    if connections[current_alias(write=False)].vendor == "postgresql":
        return "audit_auditevent_pkey"
    return "sqlite_autoindex_audit_auditevent_1"


def _searches_the_primary_key_from(plan: str) -> bool:
    """Whether the plan enters the primary key's index at a lower bound on the id (not a walk
    of the whole index, filtered as it goes)."""
    if connections[current_alias(write=False)].vendor == "postgresql":
        return "audit_auditevent_pkey" in plan and "Index Cond: (id >=" in plan
    return "USING INDEX sqlite_autoindex_audit_auditevent_1 (id>?)" in plan


def _sorts(plan: str) -> bool:
    return "TEMP B-TREE" in plan or "Sort" in plan


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({"object_id": "p1"}, "audit_object_id"),
        ({"object_id": "p1", "object_type": "patients"}, "audit_object_id"),
        ({"actor_id": 7}, "audit_actor_id"),
    ],
)
def test_the_admins_filters_use_an_index_in_the_logs_order(hospital_a, filters, index):
    with hospital_context("ALPHA"):
        for n in range(30):
            audit_record(action="read", object_type="patients", object_id=f"p{n}")
        plan = _plan(audit_event_list().filter(**filters)[:50])
    assert index in plan, plan
    assert not _sorts(plan), plan


def test_the_list_walks_the_primary_key_without_sorting(hospital_a):
    with hospital_context("ALPHA"):
        for n in range(30):
            audit_record(action="read", object_type="patients", object_id=f"p{n}")
        newest_first = _plan(audit_event_list()[:50])
        oldest_first = _plan(audit_event_list().order_by("id")[:50])
        key = _primary_key_index()
    for plan in (newest_first, oldest_first):
        assert key in plan, plan
        assert not _sorts(plan), plan


def test_the_since_filter_searches_the_primary_key(hospital_a):
    with hospital_context("ALPHA"):
        for n in range(30):
            audit_record(action="read", object_type="patients", object_id=f"p{n}")
        since = timezone.now() - dt.timedelta(minutes=5)
        filtered = AuditEventFilter({"since": since.isoformat()}, audit_event_list()).qs
        plan = _plan(filtered[:50])
        searched = _searches_the_primary_key_from(plan)
    assert searched, plan


def test_a_records_history_comes_newest_first(hospital_a):
    with hospital_context("ALPHA"):
        ids = [
            audit_record(action="read", object_type="patients", object_id="p1") for _ in range(3)
        ]
        audit_record(action="read", object_type="patients", object_id="p2")
        listed = list(audit_event_list().filter(object_id="p1").values_list("pk", flat=True))
    assert listed == list(reversed(ids))
    with hospital_context("ALPHA"):
        assert AuditEvent.objects.filter(object_id="p2").count() == 1


def test_the_list_comes_newest_first_by_id(hospital_a, hospital_b):
    with hospital_context("ALPHA"):
        ids = [audit_record(action="read", object_type="patients") for _ in range(3)]
        # Recorded after the fact: an old time, a new id, so listed first.
        late = factories.audit_event(at=SINCE, id=new_id()).pk
    with hospital_context("BRAVO"):
        audit_record(action="read", object_type="patients")
    with hospital_context("ALPHA"):
        listed = list(audit_event_list().values_list("pk", flat=True))
    assert listed == [late, *reversed(ids)]


def test_since_is_exact_at_its_bound(hospital_a, hospital_b):
    with hospital_context("ALPHA"):
        before = factories.audit_event(at=SINCE - TICK)
        on = factories.audit_event(at=SINCE)
        after = factories.audit_event(at=SINCE + dt.timedelta(seconds=3))
    with hospital_context("BRAVO"):
        factories.audit_event(at=SINCE)
    with hospital_context("ALPHA"):
        found = set(events_since(audit_event_list(), SINCE).values_list("pk", flat=True))
    assert found == {on.pk, after.pk}
    assert before.pk not in found


def test_an_event_recorded_after_the_fact_is_found_by_its_time(hospital_a):
    """Its id is newer than its ``at``: the id bound lets it through, ``at`` decides."""
    with hospital_context("ALPHA"):
        early = factories.audit_event(at=SINCE - dt.timedelta(days=1), id=new_id())
        inside = factories.audit_event(at=SINCE + dt.timedelta(hours=1), id=new_id())
        found = set(events_since(audit_event_list(), SINCE).values_list("pk", flat=True))
        until = set(
            events_since(audit_event_list(), SINCE)
            .filter(at__lt=SINCE + dt.timedelta(minutes=30))
            .values_list("pk", flat=True)
        )
    assert found == {inside.pk}
    assert early.pk not in found
    assert until == set()


def test_the_id_bound_is_one_second_before_since(hospital_a):
    """An event whose id is as old as ``since − ID_LAG`` is found; one a tick older is not, and
    no event has such an id: each is made just before its ``at`` (see ``events_since``)."""
    bound = first_id_at(SINCE - ID_LAG)
    with hospital_context("ALPHA"):
        kept = factories.audit_event(at=SINCE, id=bound)
        lost = factories.audit_event(at=SINCE, id=type(bound)(int=bound.int - 1))
        found = set(events_since(audit_event_list(), SINCE).values_list("pk", flat=True))
    assert dt.timedelta(seconds=1) == ID_LAG
    assert kept.pk in found
    assert lost.pk not in found


def test_an_event_written_now_has_an_id_no_older_than_its_time(hospital_a):
    with hospital_context("ALPHA"):
        events = [
            AuditEvent.objects.get(pk=audit_record(action="read", object_type="patients"))
            for _ in range(20)
        ]
    for event in events:
        assert event.pk >= first_id_at(event.at - ID_LAG)
