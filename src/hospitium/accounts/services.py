"""Writes to platform users and memberships."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from hospitium.accounts.models import Membership, Role, User, normalize_email
from hospitium.accounts.selectors import ALL_ROLES, roles_of
from hospitium.core.errors import (
    BusinessRuleViolation,
    Conflict,
    NotFound,
    PermissionRefused,
    ValidationFailed,
)
from hospitium.tenancy.context import HospitalRef
from hospitium.tenancy.integrity import platform_delete
from hospitium.tenancy.models import Hospital


def user_create(
    *, email: str, password: str | None, full_name: str = "", is_superuser: bool = False
) -> User:
    """Create a platform user. Raises ValidationFailed or Conflict (email in use)."""
    email = normalize_email(email)
    if not email or "@" not in email:
        raise ValidationFailed(
            "Enter a valid email address.", fields={"email": ["Enter a valid email address."]}
        )
    with transaction.atomic(durable=True):
        if User.objects.filter(email=email).exists():
            raise Conflict(
                f"A user with email {email} already exists.", fields={"email": ["Already in use."]}
            )
        if is_superuser:
            return User.objects.create_superuser(email, password, full_name=full_name)
        return User.objects.create_user(email, password, full_name=full_name)


def membership_grant(*, user: User, hospital: Hospital, role: str) -> Membership:
    """Give a user a role in a hospital (idempotent).

    Raises ValidationFailed for an unknown role.
    """
    if role not in Role.values:
        raise ValidationFailed(
            f"Unknown role {role!r}.", fields={"role": [f"Choose one of {', '.join(Role.values)}."]}
        )
    with transaction.atomic(durable=True):
        membership, _created = Membership.objects.get_or_create(
            user=user, hospital=hospital, role=role
        )
    return membership


def user_delete(*, user: User) -> None:
    """Delete a user after enforcing hospital references (see integrity.platform_delete).

    Raises ProtectedByHospitals when a hospital still holds a protecting reference.
    """
    platform_delete(user)


# --- a hospital's members, managed by its admins -----------------------------------------------
#
# These are the platform-side writes. Each change must also be written into the hospital's
# audit log, which lives in the audit app (a hospital app, a layer above this one), so each
# service takes ``record``: a callable that writes that event, called inside the platform
# transaction so that a failed event rolls the change back. ``hospitium.staff.members`` passes
# the hospital audit log's writer; the web pages and the API call those, never these directly.


class AdminRequired(PermissionRefused):
    code = "admin_required"
    default_message = "Only the hospital's administrators manage its staff."


class LastAdmin(BusinessRuleViolation):
    code = "last_admin"
    default_message = "A hospital keeps at least one administrator."


class NotAMember(NotFound):
    code = "member_not_found"
    default_message = "No such member of this hospital."


class MemberRecorder(Protocol):
    def __call__(self, *, action: str, user: User, detail: dict[str, Any]) -> object: ...


def _require_admin(by: User, hospital: Hospital | HospitalRef) -> None:
    roles = roles_of(user_id=by.pk, hospital_id=hospital.id, is_superuser=by.is_superuser)
    if not (Role.ADMIN.value in roles or roles >= ALL_ROLES):
        raise AdminRequired()


def _clean_roles(roles: Iterable[str], *, allow_empty: bool = False) -> list[str]:
    chosen = sorted(set(roles))
    unknown = [role for role in chosen if role not in Role.values]
    if unknown or (not chosen and not allow_empty):
        message = f"Choose one or more of {', '.join(Role.values)}."
        raise ValidationFailed(message, fields={"roles": [message]})
    return chosen


def _lock_roles(user: User, hospital: Hospital | HospitalRef) -> set[str]:
    """The user's roles in the hospital, with the hospital's admin rows locked (so two admins
    removing each other at once cannot leave the hospital with none)."""
    list(
        Membership.objects.select_for_update()
        .filter(hospital_id=hospital.id, role=Role.ADMIN.value)
        .values_list("pk", flat=True)
    )
    return set(
        Membership.objects.filter(user=user, hospital_id=hospital.id).values_list("role", flat=True)
    )


def _refuse_losing_last_admin(
    user: User, hospital: Hospital | HospitalRef, losing: set[str]
) -> None:
    if Role.ADMIN.value not in losing:
        return
    others = (
        Membership.objects.filter(hospital_id=hospital.id, role=Role.ADMIN.value)
        .exclude(user=user)
        .exists()
    )
    if not others:
        raise LastAdmin()


def member_invite_or_create(
    *,
    by: User,
    hospital: Hospital | HospitalRef,
    email: str,
    roles: Iterable[str],
    record: MemberRecorder,
    full_name: str = "",
    password: str | None = None,
) -> tuple[User, bool]:
    """Make a person a member of ``hospital`` with ``roles``; returns (user, created).

    A new email creates the platform account with the ``password`` the admin gives (required
    then, checked by the password validators; the person changes it after signing in). An
    existing account is added as it is: a password may not be given for it (an admin of one
    hospital never sets the password of an account others use). Roles already held are kept.

    Raises AdminRequired, ValidationFailed.
    """
    _require_admin(by, hospital)
    chosen = _clean_roles(roles)
    email = normalize_email(email)
    fields: dict[str, list[str]] = {}
    if not email or "@" not in email or len(email) > 254:
        fields["email"] = ["Enter a valid email address."]
    if len(full_name) > 200:
        fields["full_name"] = ["At most 200 characters."]
    if fields:
        raise ValidationFailed("Some of the input is not valid.", fields=fields)
    with transaction.atomic(durable=True):
        user = User.objects.select_for_update().filter(email=email).first()
        created = user is None
        if user is None:
            if not password:
                raise ValidationFailed(
                    "Give the new account a first password.",
                    fields={"password": ["Give the new account a first password."]},
                )
            try:
                validate_password(password, User(email=email, full_name=full_name))
            except DjangoValidationError as exc:
                raise ValidationFailed(
                    "Choose a stronger password.", fields={"password": list(exc.messages)}
                ) from exc
            user = User.objects.create_user(email, password, full_name=full_name.strip())
        elif password:
            raise ValidationFailed(
                "This person already has an account; leave the password empty.",
                fields={"password": ["This person already has an account; leave it empty."]},
            )
        held = set(
            Membership.objects.filter(user=user, hospital_id=hospital.id).values_list(
                "role", flat=True
            )
        )
        added = [role for role in chosen if role not in held]
        Membership.objects.bulk_create(
            [Membership(user=user, hospital_id=hospital.id, role=role) for role in added]
        )
        record(
            action="create" if not held else "update",
            user=user,
            detail={"email": user.email, "granted": added, "new_account": created},
        )
    return user, created


def member_role_grant(
    *,
    by: User,
    hospital: Hospital | HospitalRef,
    user: User,
    roles: Iterable[str],
    record: MemberRecorder,
) -> list[str]:
    """Give a member more roles; returns those newly granted. Raises AdminRequired,
    NotAMember (grant to someone not yet a member through ``member_invite_or_create``),
    ValidationFailed."""
    _require_admin(by, hospital)
    chosen = _clean_roles(roles)
    with transaction.atomic(durable=True):
        held = _lock_roles(user, hospital)
        if not held:
            raise NotAMember()
        added = [role for role in chosen if role not in held]
        Membership.objects.bulk_create(
            [Membership(user=user, hospital_id=hospital.id, role=role) for role in added]
        )
        if added:
            record(action="update", user=user, detail={"email": user.email, "granted": added})
    return added


def member_role_revoke(
    *,
    by: User,
    hospital: Hospital | HospitalRef,
    user: User,
    roles: Iterable[str],
    record: MemberRecorder,
) -> list[str]:
    """Take roles from a member; returns those revoked. Revoking every role is removing the
    member. Raises AdminRequired, NotAMember, LastAdmin, ValidationFailed."""
    _require_admin(by, hospital)
    chosen = _clean_roles(roles)
    with transaction.atomic(durable=True):
        held = _lock_roles(user, hospital)
        if not held:
            raise NotAMember()
        losing = held & set(chosen)
        _refuse_losing_last_admin(user, hospital, losing)
        Membership.objects.filter(user=user, hospital_id=hospital.id, role__in=losing).delete()
        if losing:
            action = "delete" if losing == held else "update"
            detail = {"email": user.email, "revoked": sorted(losing)}
            record(action=action, user=user, detail=detail)
    return sorted(losing)


def member_roles_set(
    *,
    by: User,
    hospital: Hospital | HospitalRef,
    user: User,
    roles: Iterable[str],
    record: MemberRecorder,
) -> tuple[list[str], list[str]]:
    """Make a member's roles exactly ``roles`` (at least one); returns (granted, revoked).
    Raises AdminRequired, NotAMember, LastAdmin, ValidationFailed."""
    _require_admin(by, hospital)
    chosen = set(_clean_roles(roles))
    with transaction.atomic(durable=True):
        held = _lock_roles(user, hospital)
        if not held:
            raise NotAMember()
        added, losing = sorted(chosen - held), held - chosen
        _refuse_losing_last_admin(user, hospital, losing)
        Membership.objects.filter(user=user, hospital_id=hospital.id, role__in=losing).delete()
        Membership.objects.bulk_create(
            [Membership(user=user, hospital_id=hospital.id, role=role) for role in added]
        )
        if added or losing:
            detail = {"email": user.email, "granted": added, "revoked": sorted(losing)}
            record(action="update", user=user, detail=detail)
    return added, sorted(losing)


def member_remove(
    *, by: User, hospital: Hospital | HospitalRef, user: User, record: MemberRecorder
) -> None:
    """Take every role of ``user`` in ``hospital`` (the platform account stays: it may belong
    to other hospitals). Raises AdminRequired, NotAMember, LastAdmin."""
    _require_admin(by, hospital)
    with transaction.atomic(durable=True):
        held = _lock_roles(user, hospital)
        if not held:
            raise NotAMember()
        _refuse_losing_last_admin(user, hospital, held)
        Membership.objects.filter(user=user, hospital_id=hospital.id).delete()
        record(action="delete", user=user, detail={"email": user.email, "revoked": sorted(held)})
