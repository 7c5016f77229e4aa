"""A hospital's members (its staff accounts and their roles), managed by its admins, with every
change written into that hospital's audit log.

The platform-side writes and their rules (admins only, never the last admin) are in
``hospitium.accounts.services``; the accounts layer may not import the audit app (a hospital
app, above it), so these services, in a hospital app that may import both, hand it the writer
of the hospital's audit event (object type ``members``, object id the user's id). The web pages
and the API call these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hospitium.accounts import services as accounts
from hospitium.accounts.models import User
from hospitium.audit.services import audit_record
from hospitium.core.context import actor_var
from hospitium.tenancy.context import HospitalRef, hospital_context
from hospitium.tenancy.models import Hospital

#: The object type of membership events in a hospital's audit log.
MEMBERS_TYPE = "members"


def _recorder(*, by: User, hospital: Hospital | HospitalRef) -> accounts.MemberRecorder:
    def record(*, action: str, user: User, detail: dict[str, Any]) -> object:
        token = actor_var.set((by.pk, by.email))
        try:
            with hospital_context(hospital):
                return audit_record(
                    action=action, object_type=MEMBERS_TYPE, object_id=user.pk, detail=detail
                )
        finally:
            actor_var.reset(token)

    return record


def member_invite_or_create(
    *,
    by: User,
    hospital: Hospital | HospitalRef,
    email: str,
    roles: Iterable[str],
    full_name: str = "",
    password: str | None = None,
) -> tuple[User, bool]:
    """See ``accounts.services.member_invite_or_create``; audited."""
    return accounts.member_invite_or_create(
        by=by,
        hospital=hospital,
        email=email,
        roles=roles,
        full_name=full_name,
        password=password,
        record=_recorder(by=by, hospital=hospital),
    )


def member_role_grant(
    *, by: User, hospital: Hospital | HospitalRef, user: User, roles: Iterable[str]
) -> list[str]:
    """See ``accounts.services.member_role_grant``; audited."""
    record = _recorder(by=by, hospital=hospital)
    return accounts.member_role_grant(
        by=by, hospital=hospital, user=user, roles=roles, record=record
    )


def member_role_revoke(
    *, by: User, hospital: Hospital | HospitalRef, user: User, roles: Iterable[str]
) -> list[str]:
    """See ``accounts.services.member_role_revoke``; audited."""
    record = _recorder(by=by, hospital=hospital)
    return accounts.member_role_revoke(
        by=by, hospital=hospital, user=user, roles=roles, record=record
    )


def member_roles_set(
    *, by: User, hospital: Hospital | HospitalRef, user: User, roles: Iterable[str]
) -> tuple[list[str], list[str]]:
    """See ``accounts.services.member_roles_set``; audited."""
    record = _recorder(by=by, hospital=hospital)
    return accounts.member_roles_set(
        by=by, hospital=hospital, user=user, roles=roles, record=record
    )


def member_remove(*, by: User, hospital: Hospital | HospitalRef, user: User) -> None:
    """See ``accounts.services.member_remove``; audited."""
    accounts.member_remove(
        by=by, hospital=hospital, user=user, record=_recorder(by=by, hospital=hospital)
    )
