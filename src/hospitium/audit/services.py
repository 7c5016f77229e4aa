"""Writing the audit log: every write and every read of a patient's record leaves an event.

One small INSERT in the hospital's own store, in the caller's transaction for writes (so an
event exists exactly when the change does) and on its own for reads. An archived hospital's
store is read-only: its read events go to the structured log (logger ``hospitium.audit``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connections
from django.utils import timezone

from hospitium.audit.models import AuditEvent
from hospitium.core.context import actor_var, client_ip_var, current_request_id
from hospitium.tenancy.context import current_hospital
from hospitium.tenancy.router import current_alias

logger = logging.getLogger("hospitium.audit")


def audit_record(
    *,
    action: str,
    object_type: str,
    object_id: object = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent | None:
    """Append one event to the current hospital's audit log (the actor and address come from
    the request or task context). Returns None when the store is read-only and the event was
    logged instead."""
    actor = actor_var.get()
    event = AuditEvent(
        at=timezone.now(),
        actor_id=actor[0] if actor else None,
        actor_label=actor[1] if actor else "",
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        ip=client_ip_var.get(),
        request_id=current_request_id() if current_request_id() != "-" else "",
        detail=detail or {},
    )
    if current_hospital().read_only:
        logger.info(
            "audit %s %s %s by %s", action, object_type, event.object_id, event.actor_label or "-"
        )
        return None
    _insert(event)
    return event


_FIELDS = [
    "id",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "ip",
    "request_id",
    "detail",
]
_sql: dict[str, str] = {}


def _insert(event: AuditEvent) -> None:
    """One INSERT, prepared by each field as Django would, without the ORM's per-save work.

    Measured here: ``save(force_insert=True)`` took about 120 µs an event, this about 50 µs,
    and a read of a patient's record writes one event on every request.
    """
    connection = connections[current_alias(write=True)]
    fields: list[Any] = [AuditEvent._meta.get_field(name) for name in _FIELDS]
    sql = _sql.get(connection.vendor)
    if sql is None:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        table = quote(AuditEvent._meta.db_table)
        sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608 - model names
        _sql[connection.vendor] = sql
    values = [field.get_db_prep_save(getattr(event, field.attname), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
