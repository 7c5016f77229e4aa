"""Reads of the audit log (hospital admins only; the API enforces the role)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.db.models import QuerySet

from hospitium.audit.models import AuditEvent
from hospitium.core.ids import first_id_at

#: How far an event's id may lag behind its ``at`` (see ``events_since``).
ID_LAG = dt.timedelta(seconds=1)


def audit_event_list() -> QuerySet[AuditEvent]:
    """The hospital's audit log, newest first (by id: ``AuditEvent.Meta.ordering``)."""
    return AuditEvent.objects.all()


def events_since(events: QuerySet[AuditEvent], since: dt.datetime) -> QuerySet[AuditEvent]:
    """``events`` from ``since`` on (``at >= since``, exactly), narrowed by the primary key so
    that the search starts in its index: there is no index on ``at``.

    The id bound, ``id >= the smallest UUIDv7 of since − ID_LAG``, leaves out only events
    whose id is older than their ``at`` by more than ``ID_LAG``, and there are none: an id is
    a UUIDv7 taken from the same clock just before its event's ``at`` (``audit_record``; the
    ORM's default for the demo generator's events), and uuid6 never gives an id older than
    the clock's millisecond (within a process it only runs ahead, by a millisecond for each id
    beyond one a millisecond). The second of slack covers the id's time being cut to the
    millisecond, the moment between the two readings, and the wall clock stepping forward
    between them. An event written with a historical ``at`` has a newer id: still found.

    Only a lower bound is ever derived from a time. An upper one would lose events whose id
    runs ahead of their ``at`` (a process making over 1,000 ids a second, a clock stepped
    back, an event recorded after the fact), so ``until`` stays ``at < until`` alone.

    Raises ValueError for a naive ``since``.
    """
    return events.filter(pk__gte=first_id_at(since - ID_LAG), at__gte=since)


def audit_event_search(
    *,
    actor_id: int | None = None,
    action: str | None = None,
    object_ids: Iterable[str] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    before: uuid.UUID | None = None,
) -> QuerySet[AuditEvent]:
    """The log narrowed by who acted, what they did, which records (``object_ids``: any of
    them), and when (``since`` ≤ at < ``until``), newest first; ``before`` (an event's id) gives
    the events older than it, for paging by id (each page reads that page only)."""
    events = audit_event_list()
    if actor_id is not None:
        events = events.filter(actor_id=actor_id)
    if action:
        events = events.filter(action=action)
    if object_ids is not None:
        events = events.filter(object_id__in=list(object_ids))
    if since is not None:
        events = events_since(events, since)
    if until is not None:
        events = events.filter(at__lt=until)
    if before is not None:
        events = events.filter(pk__lt=before)
    return events
