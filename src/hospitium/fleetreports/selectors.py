"""Reads of whole-fleet reports (platform store). Every platform superuser sees every fleet
report: they are the platform's, not one person's."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from hospitium.core.errors import NotFound
from hospitium.fleetreports.models import FleetReport


def fleet_report_list() -> QuerySet[FleetReport]:
    return FleetReport.objects.all()


def fleet_report_get(report_id: uuid.UUID | str) -> FleetReport:
    """One fleet report; NotFound for an unknown or malformed id."""
    try:
        return FleetReport.objects.get(pk=report_id)
    except (FleetReport.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such fleet report.") from None
