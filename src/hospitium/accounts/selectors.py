"""Reads of memberships and roles."""

from __future__ import annotations

from hospitium.accounts.models import Membership


def roles_of(*, user_id: int, hospital_id: int) -> frozenset[str]:
    """The roles a user holds in a hospital (empty when not a member)."""
    return frozenset(
        Membership.objects.filter(user_id=user_id, hospital_id=hospital_id).values_list(
            "role", flat=True
        )
    )
