"""Reads of the audit log: the filters a hospital admin uses are served by an index."""

from __future__ import annotations

import pytest
from django.db import connections, transaction

from hospitium.audit.models import AuditEvent
from hospitium.audit.selectors import audit_event_list
from hospitium.audit.services import audit_record
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.router import current_alias

pytestmark = pytest.mark.django_db(databases="__all__")


def _plan(queryset) -> str:
    """The query plan of ``queryset`` with sequential scans priced out on PostgreSQL (the test
    tables are tiny, where a scan is cheaper; the question is whether an index can serve)."""
    alias = current_alias(write=False)
    with transaction.atomic(using=alias):
        if connections[alias].vendor == "postgresql":
            with connections[alias].cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.explain()


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({"object_id": "p1"}, "audit_object_at"),
        ({"object_id": "p1", "object_type": "patients"}, "audit_object_at"),
        ({"actor_id": 7}, "audit_actor_at"),
    ],
)
def test_the_admins_filters_use_an_index(hospital_a, filters, index):
    with hospital_context("ALPHA"):
        for n in range(30):
            audit_record(action="read", object_type="patients", object_id=f"p{n}")
        plan = _plan(audit_event_list().filter(**filters).order_by("-at")[:50])
    assert index in plan, plan


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
