"""Factory functions for wards and beds (tests/factories.py belongs to everyone)."""

from __future__ import annotations

import itertools

from hospitium.admissions.models import Bed, Room, Ward

_seq = itertools.count(1)


def ward(**overrides: object) -> Ward:
    fields: dict[str, object] = {"name": f"Ward {next(_seq)}"}
    fields.update(overrides)
    return Ward.objects.create(**fields)


def bed(*, ward_: Ward | None = None, room: str = "1", label: str | None = None) -> Bed:
    """A bed in ``room`` of ``ward_`` (a new ward by default)."""
    place, _ = Room.objects.get_or_create(ward=ward_ or ward(), number=room)
    return Bed.objects.create(room=place, label=label or f"B{next(_seq)}")
