"""Writes to patients' feedback: one per visit, answered by the hospital."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from hospitium.audit.services import audit_record
from hospitium.core.db import atomic_service
from hospitium.core.errors import Conflict, ValidationFailed
from hospitium.encounters.models import Visit
from hospitium.feedback.models import Feedback
from hospitium.tenancy.router import current_alias


def _write_alias() -> str:
    return current_alias(write=True)


def _aware(value: dt.datetime, field: str) -> dt.datetime:
    if timezone.is_naive(value):
        raise ValidationFailed("Times need a time zone.", fields={field: ["Give a time zone."]})
    return value


def _already(visit: Visit) -> Conflict:
    return Conflict(
        f"The visit of {visit.started_at:%Y-%m-%d %H:%M} already has feedback; there is one "
        "per visit.",
        fields={"visit": ["Already has feedback."]},
    )


@atomic_service(_write_alias)
def feedback_submit(
    *, visit: Visit, rating: int, comment: str = "", submitted_at: dt.datetime | None = None
) -> Feedback:
    """Record a patient's feedback on a visit (``submitted_at`` defaults to now).

    Raises ValidationFailed (rating not 1–5, submitted before the visit started, a voided
    visit) and Conflict (the visit already has feedback).
    """
    errors: dict[str, list[str]] = {}
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        errors["rating"] = ["A rating is from 1 to 5."]
    when = _aware(submitted_at or timezone.now(), "submitted_at")
    if when < visit.started_at:
        errors["submitted_at"] = [
            f"Cannot be before the visit started ({visit.started_at:%Y-%m-%d %H:%M})."
        ]
    if visit.voided_at is not None:
        errors["visit"] = ["This visit was voided."]
    if errors:
        raise ValidationFailed("The feedback is not valid.", fields=errors)
    if Feedback.objects.filter(visit=visit).exists():
        raise _already(visit)
    try:
        with transaction.atomic(using=_write_alias()):
            feedback = Feedback.objects.create(
                visit=visit, rating=rating, comment=comment.strip(), submitted_at=when
            )
    except IntegrityError as exc:  # a concurrent submission for the same visit won
        raise _already(visit) from exc
    audit_record(
        action="create",
        object_type="feedback",
        object_id=feedback.pk,
        detail={"visit": str(visit.pk), "rating": rating},
    )
    return feedback


@atomic_service(_write_alias)
def feedback_respond(
    *, feedback: Feedback, response: str, responded_at: dt.datetime | None = None
) -> Feedback:
    """Answer a patient's feedback (a later answer replaces an earlier one).

    Raises ValidationFailed for an empty response or one dated before the submission.
    """
    text = (response or "").strip()
    fresh = Feedback.objects.select_for_update().get(pk=feedback.pk)
    when = _aware(responded_at or timezone.now(), "responded_at")
    errors: dict[str, list[str]] = {}
    if not text:
        errors["response"] = ["Required."]
    if when < fresh.submitted_at:
        errors["responded_at"] = [
            f"Cannot be before the feedback was submitted ({fresh.submitted_at:%Y-%m-%d %H:%M})."
        ]
    if errors:
        raise ValidationFailed("The response is not valid.", fields=errors)
    fresh.response = text
    fresh.responded_at = when
    fresh.save(update_fields=["response", "responded_at", "updated_at"])
    audit_record(
        action="update", object_type="feedback", object_id=fresh.pk, detail={"responded": True}
    )
    return fresh


@atomic_service(_write_alias)
def feedback_delete(*, feedback: Feedback) -> None:
    """Delete feedback recorded by mistake (feedback is not a clinical record)."""
    Feedback.objects.filter(pk=feedback.pk).delete()
    audit_record(action="delete", object_type="feedback", object_id=feedback.pk)
