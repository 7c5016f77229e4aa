"""Writes to platform users and memberships."""

from __future__ import annotations

from django.db import transaction

from hospitium.accounts.models import Membership, Role, User, normalize_email
from hospitium.core.errors import Conflict, ValidationFailed
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
