"""The audit writer: what it stores, in which transaction, and what it refuses."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from hospitium.audit.models import AuditEvent
from hospitium.audit.services import audit_record
from hospitium.core.context import actor_var, client_ip_var, request_id_var
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.provisioning import hospital_archive
from hospitium.tenancy.router import current_alias

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def request_like():
    """The context a request sets: who acts, from where, under which request id."""
    tokens = [
        (actor_var, actor_var.set((42, "doctor@alpha.example"))),
        (client_ip_var, client_ip_var.set("2001:db8::0:1")),
        (request_id_var, request_id_var.set("req-123")),
    ]
    yield
    for var, token in reversed(tokens):
        var.reset(token)


def test_the_row_holds_what_the_context_and_the_caller_gave(hospital_a, request_like):
    before = timezone.now()
    with hospital_context("ALPHA"):
        event_id = audit_record(
            action="update",
            object_type="patients",
            object_id=uuid.UUID(int=7),
            detail={"fields": ["phone"], "note": "zoë"},
        )
        assert isinstance(event_id, uuid.UUID) and event_id.version == 7
        event = AuditEvent.objects.get(pk=event_id)
    assert (event.actor_id, event.actor_label) == (42, "doctor@alpha.example")
    assert (event.action, event.object_type) == ("update", "patients")
    assert event.object_id == str(uuid.UUID(int=7))
    assert event.ip == "2001:db8::1"  # normalised by the field, as the ORM would store it
    assert event.request_id == "req-123"
    assert event.detail == {"fields": ["phone"], "note": "zoë"}
    assert timezone.is_aware(event.at) and before <= event.at <= timezone.now()


def test_an_anonymous_event_without_context_stores_empty_values(hospital_a):
    with hospital_context("ALPHA"):
        event = AuditEvent.objects.get(pk=audit_record(action="read", object_type="patients"))
    assert (event.actor_id, event.actor_label, event.ip) == (None, "", None)
    assert (event.object_id, event.request_id, event.detail) == ("", "", {})


def test_the_row_reads_back_as_one_written_by_the_orm(hospital_a, request_like):
    """Every column equal, apart from the id and the time, to an event saved through the model."""
    with hospital_context("ALPHA"):
        fast = AuditEvent.objects.get(
            pk=audit_record(action="read", object_type="visits", object_id=5, detail={"n": 1})
        )
        orm = AuditEvent.objects.create(
            at=timezone.now(),
            actor_id=42,
            actor_label="doctor@alpha.example",
            action="read",
            object_type="visits",
            object_id="5",
            ip="2001:db8::1",
            request_id="req-123",
            detail={"n": 1},
        )
        orm.refresh_from_db()
    names = [f.attname for f in AuditEvent._meta.concrete_fields if f.name not in ("id", "at")]
    assert [getattr(fast, n) for n in names] == [getattr(orm, n) for n in names]
    assert abs(fast.at - orm.at) < dt.timedelta(seconds=5)


def test_an_event_rolls_back_with_the_write_it_belongs_to(hospital_a):
    with hospital_context("ALPHA"):
        alias = current_alias(write=True)
        with pytest.raises(RuntimeError), transaction.atomic(using=alias):
            event_id = audit_record(action="create", object_type="patients", object_id="p1")
            assert AuditEvent.objects.filter(pk=event_id).exists()
            raise RuntimeError("the write failed after its event")
        assert not AuditEvent.objects.filter(pk=event_id).exists()


def test_an_unknown_action_is_refused_by_the_database_and_nothing_is_stored(hospital_a):
    with hospital_context("ALPHA"):
        alias = current_alias(write=True)
        with pytest.raises(IntegrityError), transaction.atomic(using=alias):
            audit_record(action="steal", object_type="patients", object_id="p1")
        assert not AuditEvent.objects.filter(object_id="p1").exists()


def test_events_stay_in_their_hospital(hospital_a, hospital_b):
    with hospital_context("ALPHA"):
        event_id = audit_record(action="read", object_type="patients", object_id="a")
    with hospital_context("BRAVO"):
        assert not AuditEvent.objects.filter(pk=event_id).exists()
    with hospital_context("ALPHA"):
        assert AuditEvent.objects.filter(pk=event_id).exists()


def test_stored_events_cannot_be_changed(hospital_a):
    with hospital_context("ALPHA"):
        event_id = audit_record(action="read", object_type="patients", object_id="x")
        alias = current_alias(write=True)
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(using=alias):
            AuditEvent.objects.filter(pk=event_id).update(object_id="y")
        assert AuditEvent.objects.get(pk=event_id).object_id == "x"


def test_an_archived_hospital_logs_the_event_instead(hospital_a, request_like, caplog):
    hospital_archive(code="ALPHA")
    with caplog.at_level(logging.INFO, logger="hospitium.audit"), hospital_context("ALPHA"):
        assert audit_record(action="read", object_type="patients", object_id="p9") is None
        assert AuditEvent.objects.count() == 0
    assert "audit read patients p9 by doctor@alpha.example" in caplog.text
