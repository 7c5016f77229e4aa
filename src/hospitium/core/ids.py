"""Identifiers for hospital rows: UUIDv7, time-ordered so primary-key indexes stay compact."""

from __future__ import annotations

import uuid

import uuid6


def new_id() -> uuid.UUID:
    """Return a new time-ordered UUID (version 7) as a standard uuid.UUID."""
    return uuid.UUID(int=uuid6.uuid7().int)
