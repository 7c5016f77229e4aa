"""Reads of memberships and roles: the one place that decides what a user may be in a hospital."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from hospitium.accounts.models import BreakGlassAccess, Membership, User

#: The roles of a platform superuser inside a hospital while their break-glass access is open.
ALL_ROLES = frozenset({"*"})


def roles_of(*, user_id: int, hospital_id: int, is_superuser: bool = False) -> frozenset[str]:
    """The roles a user holds in a hospital (empty when not a member).

    Being a platform superuser grants nothing by itself: a superuser holds every role
    (``{"*"}``) only while a break-glass access to this hospital is open. Pass the user's
    ``is_superuser`` so that the others cost no look-up of break-glass rows.
    """
    roles = frozenset(
        Membership.objects.filter(user_id=user_id, hospital_id=hospital_id).values_list(
            "role", flat=True
        )
    )
    if is_superuser and break_glass_open_for(user_id=user_id, hospital_id=hospital_id):
        return roles | ALL_ROLES
    return roles


def break_glass_open_for(
    *, user_id: int, hospital_id: int, at: dt.datetime | None = None
) -> BreakGlassAccess | None:
    """The user's break-glass access to the hospital that is open at ``at`` (now), or None."""
    now = at or timezone.now()
    return (
        BreakGlassAccess.objects.filter(
            user_id=user_id,
            hospital_id=hospital_id,
            user__is_superuser=True,
            user__is_active=True,
            closed_at__isnull=True,
            opened_at__lte=now,
            expires_at__gt=now,
        )
        .order_by("-expires_at")
        .first()
    )


def break_glass_list(
    *, hospital_id: int | None = None, user_id: int | None = None
) -> QuerySet[BreakGlassAccess]:
    """Break-glass accesses, newest first, narrowed to one hospital and/or one user."""
    accesses = BreakGlassAccess.objects.select_related("user", "hospital", "closed_by")
    if hospital_id is not None:
        accesses = accesses.filter(hospital_id=hospital_id)
    if user_id is not None:
        accesses = accesses.filter(user_id=user_id)
    return accesses


@dataclass(frozen=True)
class Member:
    """One person of a hospital's staff and the roles they hold there."""

    user: User
    roles: tuple[str, ...]

    @property
    def id(self) -> int:
        return int(self.user.pk)

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def full_name(self) -> str:
        return self.user.full_name


def member_list(*, hospital_id: int) -> list[Member]:
    """A hospital's members, by email, each with their roles (one query)."""
    members: dict[int, Member] = {}
    rows = (
        Membership.objects.filter(hospital_id=hospital_id)
        .select_related("user")
        .order_by("user__email", "role")
    )
    for row in rows:
        held = members.get(row.user_id)
        roles = (*held.roles, row.role) if held else (row.role,)
        members[row.user_id] = Member(user=row.user, roles=roles)
    return list(members.values())


def member_get(*, hospital_id: int, user_id: int) -> Member | None:
    """One member of a hospital with their roles, or None when the user holds no role there."""
    rows = list(
        Membership.objects.filter(hospital_id=hospital_id, user_id=user_id)
        .select_related("user")
        .order_by("role")
    )
    if not rows:
        return None
    return Member(user=rows[0].user, roles=tuple(row.role for row in rows))
