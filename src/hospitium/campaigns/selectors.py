"""Reads of campaigns and participations, always in the current hospital's store."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet

from hospitium.campaigns.models import Campaign, Participation
from hospitium.core.errors import NotFound


def campaign_list() -> QuerySet[Campaign]:
    """Campaigns of the current hospital with their number of participants."""
    return Campaign.objects.annotate(participant_count=Count("participations")).order_by(
        "-starts_on", "name"
    )


def campaign_get(campaign_id: uuid.UUID | str) -> Campaign:
    """The campaign with this id; raises NotFound."""
    try:
        return campaign_list().get(pk=campaign_id)
    except (Campaign.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such campaign.") from None


def participation_list(campaign: Campaign | None = None) -> QuerySet[Participation]:
    """Participations (of one campaign, if given), newest first."""
    rows = Participation.objects.select_related("campaign", "patient").order_by("-joined_at")
    return rows.filter(campaign=campaign) if campaign is not None else rows


def participation_get(participation_id: uuid.UUID | str) -> Participation:
    """The participation with this id; raises NotFound."""
    try:
        return participation_list().get(pk=participation_id)
    except (Participation.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such participation.") from None
