"""Reads of patients' feedback, always in the current hospital's store."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from hospitium.core.errors import NotFound
from hospitium.feedback.models import Feedback


def feedback_list() -> QuerySet[Feedback]:
    """Feedback of the current hospital, newest first, with its visit and patient."""
    return Feedback.objects.select_related("visit__patient").order_by("-submitted_at")


def feedback_get(feedback_id: uuid.UUID | str) -> Feedback:
    """The feedback with this id; raises NotFound."""
    try:
        return feedback_list().get(pk=feedback_id)
    except (Feedback.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such feedback.") from None
