"""Campaign test data, created in the current hospital's store."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from hospitium.campaigns.models import Campaign
from hospitium.campaigns.services import campaign_create

_seq = itertools.count(1)
STARTS = dt.date(2026, 3, 1)
ENDS = dt.date(2026, 3, 31)
DURING = dt.datetime(2026, 3, 15, 10, tzinfo=dt.UTC)


def campaign(**overrides: Any) -> Campaign:
    """A campaign through the service (March 2026 unless told otherwise)."""
    fields: dict[str, Any] = {
        "name": f"Campaign {next(_seq)}",
        "kind": Campaign.Kind.VACCINATION,
        "starts_on": STARTS,
        "ends_on": ENDS,
        "target": 100,
    }
    fields.update(overrides)
    return campaign_create(**fields)
