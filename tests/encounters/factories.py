"""Factory functions for visits, diagnoses and treatments (written straight through the ORM)."""

from __future__ import annotations

import datetime as dt

from hospitium.encounters.models import Diagnosis, Treatment, Visit
from tests import factories

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def visit(**overrides: object) -> Visit:
    """Create a visit in the current hospital (a new patient and practitioner unless given)."""
    fields: dict[str, object] = {"kind": "medical", "started_at": T0, "chief_complaint": "Cough"}
    fields.update(overrides)
    if "patient" not in fields:
        fields["patient"] = factories.patient()
    if "practitioner" not in fields:
        fields["practitioner"] = factories.practitioner()
    return Visit.objects.create(**fields)


def diagnosis(visit: Visit, **overrides: object) -> Diagnosis:
    fields: dict[str, object] = {"code": "J45.0", "description": "Predominantly allergic asthma"}
    fields.update(overrides)
    return Diagnosis.objects.create(visit=visit, **fields)


def treatment(visit: Visit, **overrides: object) -> Treatment:
    fields: dict[str, object] = {"procedure": "Inhaler", "performed_on": T0.date()}
    fields.update(overrides)
    return Treatment.objects.create(visit=visit, **fields)
