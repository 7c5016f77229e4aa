"""Voiding a clinical record: it stays, marked with who, when and why, and disappears from the
default queries (``objects``); ``all_objects`` still sees it."""

from __future__ import annotations

from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from hospitium.audit.services import audit_record
from hospitium.core.context import actor_var
from hospitium.core.errors import BusinessRuleViolation, ValidationFailed
from hospitium.core.models import Voidable
from hospitium.tenancy.router import current_alias

V = TypeVar("V", bound=Voidable)


def record_void(instance: V, *, reason: str, object_type: str) -> V:
    """Void ``instance`` in the current hospital and audit it, in one transaction.

    Raises ValidationFailed without a reason, BusinessRuleViolation when already voided.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why the record is voided.", fields={"reason": ["Required."]})
    with transaction.atomic(using=current_alias(write=True)):
        fresh = type(instance).all_objects.select_for_update().get(pk=instance.pk)
        if fresh.voided_at is not None:
            raise BusinessRuleViolation(f"This {object_type} was already voided.")
        actor = actor_var.get()
        fresh.voided_at = timezone.now()
        fresh.voided_by_id = actor[0] if actor else None
        fresh.void_reason = reason[:500]
        fresh.save(update_fields=["voided_at", "voided_by_id", "void_reason", "updated_at"])
        audit_record(
            action="void", object_type=object_type, object_id=fresh.pk, detail={"reason": reason}
        )
    return fresh
