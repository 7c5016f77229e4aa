"""Reads of the audit log (hospital admins only; the API enforces the role)."""

from __future__ import annotations

from django.db.models import QuerySet

from hospitium.audit.models import AuditEvent


def audit_event_list() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.all()
