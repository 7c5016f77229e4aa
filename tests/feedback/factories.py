"""Feedback test data, created in the current hospital's store."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hospitium.encounters.models import Visit
from hospitium.patients.models import Patient
from tests import factories

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def visit(patient: Patient | None = None, **overrides: Any) -> Visit:
    """A visit straight through the ORM (the visits service belongs to another app)."""
    fields: dict[str, Any] = {
        "patient": patient or factories.patient(),
        "practitioner": factories.practitioner(),
        "kind": Visit.Kind.MEDICAL,
        "started_at": T0,
    }
    fields.update(overrides)
    return Visit.objects.create(**fields)
