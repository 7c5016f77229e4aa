"""The audit log's migrations: dropping the time index is a DROP INDEX alone (on SQLite no table
rebuild, which would drop the append-only triggers), and a fully migrated store still refuses
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


def test_dropping_the_time_index_is_one_drop_index_and_no_table_rebuild(hospital_a):
    with hospital_context("ALPHA"):
        connection = connections[current_alias(write=True)]
        loader = MigrationLoader(connection)
        migration = loader.graph.nodes[("audit", "0004_drop_at_index")]
        forward = _statements(loader.collect_sql([(migration, False)]))
    assert len(forward) == 1, forward
    assert forward[0].upper().startswith("DROP INDEX"), forward
    assert "audit_at" in forward[0]


def test_a_migrated_store_has_no_time_index_and_keeps_the_others(hospital_a):
    with hospital_context("ALPHA"):
        connection = connections[current_alias(write=False)]
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(
                cursor, AuditEvent._meta.db_table
            )
    indexes = {name: c["columns"] for name, c in constraints.items() if c["index"]}
    assert "audit_at" not in indexes
    assert indexes["audit_object_at"] == ["object_id", "at"]
    assert indexes["audit_actor_at"] == ["actor_id", "at"]
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
