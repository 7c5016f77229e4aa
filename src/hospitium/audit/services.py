"""Writing the audit log: every write and every read of a patient's record leaves an event.

One small INSERT in the hospital's own store, in the caller's transaction for writes (so an
event exists exactly when the change does) and on its own for reads. An archived hospital's
store is read-only: its read events go to the structured log (logger ``hospitium.audit``).

Break-glass accesses (a platform superuser's explicit, time-limited access to one hospital) are
opened and closed here, because each is written into that hospital's log.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from hospitium.accounts.models import BreakGlassAccess, User
from hospitium.audit.errors import (
    BreakGlassHospitalNotActive,
    BreakGlassNotOpen,
    BreakGlassNotSuperuser,
)
from hospitium.audit.models import AuditEvent
from hospitium.core.context import actor_var, client_ip_var, current_request_id
from hospitium.core.errors import ValidationFailed
from hospitium.core.ids import new_id
from hospitium.tenancy.context import current_hospital, hospital_context
from hospitium.tenancy.models import Hospital
from hospitium.tenancy.router import current_alias

logger = logging.getLogger("hospitium.audit")

#: The object type of break-glass events in a hospital's audit log.
BREAK_GLASS_TYPE = "break_glass"


def audit_record(
    *,
    action: str,
    object_type: str,
    object_id: object = "",
    detail: dict[str, Any] | None = None,
) -> uuid.UUID | None:
    """Append one event to the current hospital's audit log (the actor and address come from
    the request or task context) and return its id, or None when the store is read-only and
    the event went to the structured log instead.

    Raises whatever the database raises (an action outside ``AuditEvent.Action`` breaks its
    CHECK constraint); in a write's transaction that rolls the write back with it.
    """
    actor = actor_var.get()
    object_key = str(object_id or "")
    if current_hospital().read_only:
        who = actor[1] if actor else "-"
        logger.info("audit %s %s %s by %s", action, object_type, object_key, who)
        return None
    connection = connections[current_alias(write=True)]
    plan = _plans.get(connection.vendor) or _plan(connection)
    event_id = new_id()
    request_id = current_request_id()
    ip = client_ip_var.get()
    values = (
        event_id if plan.native_uuid else event_id.hex,
        connection.ops.adapt_datetimefield_value(timezone.now()),
        actor[0] if actor else None,
        actor[1] if actor else "",
        action,
        object_type,
        object_key,
        plan.ip.get_db_prep_save(ip, connection) if ip else None,
        request_id if request_id != "-" else "",
        plan.detail.get_db_prep_save(detail, connection) if detail else plan.no_detail,
    )
    if plan.direct:
        # SQLite: straight to the driver's connection, as Django's cursor would send it (its
        # wrapper, rewriting the placeholders and timing hooks on every call, was ~15 % of
        # the call), with Django's checks and error translation kept.
        connection.ensure_connection()
        connection.validate_no_broken_transaction()
        with connection.wrap_database_errors:
            connection.connection.execute(plan.direct, values)
    else:
        # PostgreSQL: through our backend's cursor, which puts the hospital's schema first.
        with connection.cursor() as cursor:
            cursor.execute(plan.sql, values)
    return event_id


@dataclass(frozen=True)
class _Plan:
    """How one kind of database takes an event: the INSERT and the few values that need more
    than passing through (the rest are plain strings and integers, bound as they are)."""

    sql: str
    #: The INSERT in the driver's own parameter style, where it is sent directly (SQLite).
    direct: str | None
    native_uuid: bool
    ip: Any  # the model's fields: their own preparation of the values
    detail: Any
    no_detail: Any  # ``{}`` as this kind of database takes it


_FIELDS = (
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
)
_plans: dict[str, _Plan] = {}


def _plan(connection: Any) -> _Plan:
    """Build (once per kind of database) the INSERT and the adapters of its values.

    The event is written without a model instance: a read of a patient's record writes one on
    every request, and ``save()`` (signals, field walk, instance state) cost about 120 µs here
    against 50 µs for an INSERT of values each field had prepared, and about 20 µs for this,
    which prepares only the values that need it, with the field's own method.
    """
    meta = AuditEvent._meta
    quote = connection.ops.quote_name
    column = {field.name: field.column for field in meta.concrete_fields}
    columns = ", ".join(quote(column[name]) for name in _FIELDS)
    placeholders = ", ".join(["%s"] * len(_FIELDS))
    table = quote(meta.db_table)
    detail = meta.get_field("detail")
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608 - model names
    plan = _Plan(
        sql=sql,
        direct=sql.replace("%s", "?") if connection.vendor == "sqlite" else None,
        native_uuid=connection.features.has_native_uuid_field,
        ip=meta.get_field("ip"),
        detail=detail,
        no_detail=detail.get_db_prep_save({}, connection),
    )
    _plans[connection.vendor] = plan
    return plan


# --- break-glass: a platform superuser's explicit, time-limited access to one hospital ------

#: How long a break-glass access lasts unless asked otherwise, and at most, in minutes.
BREAK_GLASS_DEFAULT_MINUTES = 60
BREAK_GLASS_MAX_MINUTES = 240
_REASON_MAX = 500


@contextmanager
def _acting_as(user: Any) -> Iterator[None]:
    """Record ``user`` as the actor of the events written inside (the CLI has no signed-in one)."""
    token = actor_var.set((user.pk, user.email))
    try:
        yield
    finally:
        actor_var.reset(token)


def break_glass_open(
    *,
    user: User,
    hospital: Hospital,
    reason: str,
    minutes: int = BREAK_GLASS_DEFAULT_MINUTES,
    via: str = BreakGlassAccess.Via.API,
) -> BreakGlassAccess:
    """Give platform superuser ``user`` every role in ``hospital`` for ``minutes``, recorded
    with its reason in that hospital's audit log (object type ``break_glass``).

    Raises ValidationFailed (no reason, or minutes outside 1–BREAK_GLASS_MAX_MINUTES),
    BreakGlassNotSuperuser, BreakGlassHospitalNotActive (an archived hospital's log is
    read-only, and a hospital that is not serving has nothing to open).
    """
    reason = reason.strip()
    fields: dict[str, list[str]] = {}
    if not reason:
        fields["reason"] = ["Say why this access is needed."]
    elif len(reason) > _REASON_MAX:
        fields["reason"] = [f"At most {_REASON_MAX} characters."]
    if not 1 <= minutes <= BREAK_GLASS_MAX_MINUTES:
        fields["minutes"] = [f"Between 1 and {BREAK_GLASS_MAX_MINUTES} minutes."]
    if fields:
        raise ValidationFailed("Some of the input is not valid.", fields=fields)
    if not (user.is_active and user.is_superuser):
        raise BreakGlassNotSuperuser()
    if hospital.status != Hospital.Status.ACTIVE:
        raise BreakGlassHospitalNotActive()
    now = timezone.now()
    with transaction.atomic(using=DEFAULT_DB_ALIAS, durable=True):
        access = BreakGlassAccess.objects.create(
            user=user,
            hospital=hospital,
            reason=reason,
            opened_via=via,
            opened_at=now,
            expires_at=now + dt.timedelta(minutes=minutes),
        )
        # The hospital's event commits first (its store, autocommit), the platform row after:
        # should the platform's commit fail, the log names an access that never opened, but
        # an access can never be open without its event.
        with hospital_context(hospital), _acting_as(user):
            audit_record(
                action=AuditEvent.Action.CREATE,
                object_type=BREAK_GLASS_TYPE,
                object_id=access.pk,
                detail={
                    "event": "opened",
                    "user": user.email,
                    "reason": reason,
                    "minutes": minutes,
                    "expires_at": access.expires_at.isoformat(),
                    "via": via,
                },
            )
    logger.warning(
        "break-glass access %s opened for %s into %s for %d min",
        access.pk,
        user.email,
        hospital.code,
        minutes,
    )
    return access


def break_glass_close(*, access: BreakGlassAccess, closed_by: User) -> BreakGlassAccess:
    """End an open break-glass access now, recorded in the hospital's audit log.

    Raises BreakGlassNotOpen when it is already closed or expired.
    """
    now = timezone.now()
    if access.closed_at is not None or access.expires_at <= now:
        raise BreakGlassNotOpen()
    hospital = access.hospital
    with transaction.atomic(using=DEFAULT_DB_ALIAS, durable=True):
        closed = BreakGlassAccess.objects.filter(
            pk=access.pk, closed_at__isnull=True, expires_at__gt=now
        ).update(closed_at=now, closed_by=closed_by)
        if not closed:
            raise BreakGlassNotOpen()
        with hospital_context(hospital), _acting_as(closed_by):
            audit_record(
                action=AuditEvent.Action.UPDATE,
                object_type=BREAK_GLASS_TYPE,
                object_id=access.pk,
                detail={"event": "closed", "user": access.user.email, "by": closed_by.email},
            )
    access.refresh_from_db()
    return access
