"""The audit log's migrations: 0004's index changes are DROP INDEX and CREATE INDEX alone (on
SQLite no table rebuild, which would drop the append-only triggers), and a fully migrated store still refuses
every change to an event."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connections, transaction
from django.db.migrations.loader import MigrationLoader

from hospitium.audit.models import AuditEvent
from hospitium.audit.services import audit_record
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.router import current_alias

pytestmark = pytest.mark.django_db(databases="__all__")


def _statements(sql: list[str]) -> list[str]:
    return [line for line in sql if line.strip() and not line.startswith("--")]


def test_the_index_changes_are_drop_and_create_index_only_and_no_table_rebuild(hospital_a):
    with hospital_context("ALPHA"):
        connection = connections[current_alias(write=True)]
        loader = MigrationLoader(connection)
        migration = loader.graph.nodes[("audit", "0004_drop_at_index")]
        forward = _statements(loader.collect_sql([(migration, False)]))
    assert len(forward) == 5, forward
    dropped = [s for s in forward if s.upper().startswith("DROP INDEX")]
    created = [s for s in forward if s.upper().startswith("CREATE INDEX")]
    assert len(dropped) == 3 and len(created) == 2, forward
    assert [
        name
        for name in ("audit_at", "audit_object_at", "audit_actor_at")
        if any(f'"{name}"' in s or f" {name}" in s for s in dropped)
    ] == ["audit_at", "audit_object_at", "audit_actor_at"], dropped


def test_a_migrated_store_has_no_time_index_and_keeps_the_others(hospital_a):
    with hospital_context("ALPHA"):
        connection = connections[current_alias(write=False)]
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(
                cursor, AuditEvent._meta.db_table
            )
    indexes = {name: c["columns"] for name, c in constraints.items() if c["index"]}
    assert "audit_at" not in indexes
    assert "audit_object_at" not in indexes
    assert "audit_actor_at" not in indexes
    assert indexes["audit_object_id"] == ["object_id", "id"]
    assert indexes["audit_actor_id"] == ["actor_id", "id"]
    assert not any(columns == ["at"] for columns in indexes.values()), indexes


def test_after_every_migration_the_store_refuses_to_change_or_remove_an_event(hospital_a):
    with hospital_context("ALPHA"):
        event_id = audit_record(action="read", object_type="patients", object_id="x")
        alias = current_alias(write=True)
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(using=alias):
            AuditEvent.objects.filter(pk=event_id).update(object_id="y")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(using=alias):
            AuditEvent.objects.filter(pk=event_id).delete()
        assert AuditEvent.objects.get(pk=event_id).object_id == "x"
