"""Writing the audit log: every write and every read of a patient's record leaves an event.

One small INSERT in the hospital's own store, in the caller's transaction for writes (so an
event exists exactly when the change does) and on its own for reads. An archived hospital's
store is read-only: its read events go to the structured log (logger ``hospitium.audit``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from hospitium.audit.models import AuditEvent
from hospitium.core.context import actor_var, client_ip_var, current_request_id
from hospitium.tenancy.context import current_hospital

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
    event.save(force_insert=True)
    return event
