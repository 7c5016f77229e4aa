"""Factory functions for test data (no JSON fixtures)."""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
import uuid

from hospitium.audit.models import AuditEvent
from hospitium.core.ids import first_id_at
from hospitium.patients.models import Patient
from hospitium.staff.models import Department, Practitioner

_seq = itertools.count(1)


def patient(**overrides: object) -> Patient:
    """Create a patient in the current hospital's store."""
    n = next(_seq)
    fields: dict[str, object] = {
        "mrn": f"MRN{n:06d}",
        "given_name": f"Given{n}",
        "family_name": f"Family{n}",
        "birth_date": dt.date(1980, 1, 1) + dt.timedelta(days=n),
        "sex": "female",
    }
    fields.update(overrides)
    return Patient.objects.create(**fields)


def department(**overrides: object) -> Department:
    fields: dict[str, object] = {"name": f"Department {next(_seq)}"}
    fields.update(overrides)
    return Department.objects.create(**fields)


def practitioner(**overrides: object) -> Practitioner:
    fields: dict[str, object] = {"display_name": f"Dr. Practitioner {next(_seq)}"}
    fields.update(overrides)
    if "department" not in fields:
        fields["department"] = department()
    return Practitioner.objects.create(**fields)


def id_made_at(moment: dt.datetime) -> uuid.UUID:
    """A UUIDv7 as ``new_id`` would have made it at ``moment`` (its millisecond, random bits)."""
    return uuid.UUID(int=first_id_at(moment).int | secrets.randbits(62))


def audit_event(*, at: dt.datetime, **overrides: object) -> AuditEvent:
    """Create an audit event in the current hospital's store, as ``audit_record`` would have
    written it at ``at`` (its id made at that moment) unless ``id`` is given (say, a new id
    for an event recorded after the fact)."""
    fields: dict[str, object] = {
        "id": id_made_at(at),
        "at": at,
        "action": AuditEvent.Action.READ,
        "object_type": "patients",
        "object_id": f"p{next(_seq)}",
    }
    fields.update(overrides)
    return AuditEvent.objects.create(**fields)
