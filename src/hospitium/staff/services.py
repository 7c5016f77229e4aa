"""Writes to departments and practitioners."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError
from django.db.models import ProtectedError

from hospitium.audit.services import audit_record
from hospitium.core.db import atomic_service
from hospitium.core.errors import BusinessRuleViolation, Conflict, ValidationFailed
from hospitium.staff.models import Department, Practitioner
from hospitium.tenancy.errors import InvalidPlatformReference
from hospitium.tenancy.router import current_alias

PRACTITIONER_EDITABLE = ("display_name", "kind", "specialty", "department", "user_id")


def _write_alias() -> str:
    return current_alias(write=True)


def _clean_department_name(name: str, *, excluding: Department | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("A department needs a name.", fields={"name": ["Required."]})
    if len(name) > 120:
        raise ValidationFailed(fields={"name": ["At most 120 characters."]})
    taken = Department.objects.filter(name__iexact=name)
    if excluding is not None:
        taken = taken.exclude(pk=excluding.pk)
    if taken.exists():
        raise Conflict(
            f"There is already a department called {name}.",
            fields={"name": ["Already in use in this hospital."]},
        )
    return name


@atomic_service(_write_alias)
def department_create(*, name: str) -> Department:
    """Create a department. Raises ValidationFailed (no name) or Conflict (name in use)."""
    name = _clean_department_name(name)
    try:
        department = Department.objects.create(name=name)
    except IntegrityError as exc:  # a concurrent create took the name first
        raise Conflict(f"There is already a department called {name}.") from exc
    audit_record(action="create", object_type="departments", object_id=department.pk)
    return department


@atomic_service(_write_alias)
def department_rename(*, department: Department, name: str) -> Department:
    """Rename a department. Raises ValidationFailed or Conflict like department_create."""
    name = _clean_department_name(name, excluding=department)
    fresh = Department.objects.select_for_update().get(pk=department.pk)
    old = fresh.name
    fresh.name = name
    try:
        fresh.save(update_fields=["name", "updated_at"])
    except IntegrityError as exc:
        raise Conflict(f"There is already a department called {name}.") from exc
    audit_record(
        action="update",
        object_type="departments",
        object_id=fresh.pk,
        detail={"name": {"from": old, "to": name}},
    )
    return fresh


@atomic_service(_write_alias)
def department_delete(*, department: Department) -> None:
    """Delete an empty department. Raises BusinessRuleViolation while practitioners belong to
    it (the database protects them too)."""
    held = Practitioner.objects.filter(department_id=department.pk).count()
    if held:
        raise _department_in_use(department, held)
    try:
        Department.objects.filter(pk=department.pk).delete()
    except ProtectedError as exc:  # a practitioner was added meanwhile
        raise _department_in_use(department, len(exc.protected_objects)) from exc
    audit_record(action="delete", object_type="departments", object_id=department.pk)


def _department_in_use(department: Department, count: int) -> BusinessRuleViolation:
    noun = "practitioner" if count == 1 else "practitioners"
    return BusinessRuleViolation(
        f"Department {department.name} still has {count} {noun}; "
        "move them to another department before deleting it."
    )


def _validate_practitioner(fields: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if "display_name" in fields:
        name = str(fields["display_name"] or "").strip()
        if not name:
            errors["display_name"] = ["Required."]
        elif len(name) > 200:
            errors["display_name"] = ["At most 200 characters."]
    if "kind" in fields and fields["kind"] not in Practitioner.Kind.values:
        errors["kind"] = [f"Choose one of {', '.join(Practitioner.Kind.values)}."]
    if "specialty" in fields and len(str(fields["specialty"] or "")) > 120:
        errors["specialty"] = ["At most 120 characters."]
    if "department" in fields and not isinstance(fields["department"], Department):
        errors["department"] = ["Choose a department of this hospital."]
    if errors:
        raise ValidationFailed(fields=errors)
    user_id = fields.get("user_id")
    if user_id is not None:
        field = Practitioner._meta.get_field("user")
        try:
            field.ensure_exists(int(user_id))
        except InvalidPlatformReference as exc:
            raise ValidationFailed(
                f"There is no platform user with id {user_id}.",
                fields={"user": [f"There is no user with id {user_id}."]},
            ) from exc


@atomic_service(_write_alias)
def practitioner_create(
    *,
    display_name: str,
    department: Department,
    kind: str = Practitioner.Kind.DOCTOR,
    specialty: str = "",
    user_id: int | None = None,
) -> Practitioner:
    """Add a practitioner to a department; ``user_id`` links the platform user who signs in as
    them. Raises ValidationFailed (bad input, unknown user id)."""
    fields: dict[str, Any] = {
        "display_name": (display_name or "").strip(),
        "department": department,
        "kind": kind,
        "specialty": (specialty or "").strip(),
        "user_id": user_id,
    }
    _validate_practitioner(fields)
    practitioner = Practitioner.objects.create(**fields)
    audit_record(action="create", object_type="practitioners", object_id=practitioner.pk)
    return practitioner


@atomic_service(_write_alias)
def practitioner_update(*, practitioner: Practitioner, **changes: Any) -> Practitioner:
    """Change a practitioner's name, kind, specialty, department or linked user.

    Raises ValidationFailed for unknown fields, bad values or an unknown user id.
    """
    unknown = set(changes) - set(PRACTITIONER_EDITABLE)
    if unknown:
        raise ValidationFailed(
            "These fields cannot be changed here.", fields={k: ["Not editable."] for k in unknown}
        )
    changes = {k: v.strip() if isinstance(v, str) else v for k, v in changes.items()}
    _validate_practitioner(changes)
    fresh = Practitioner.objects.select_for_update().get(pk=practitioner.pk)
    for name, value in changes.items():
        setattr(fresh, name, value)
    fresh.save(update_fields=[*changes, "updated_at"])
    audit_record(
        action="update",
        object_type="practitioners",
        object_id=fresh.pk,
        detail={"fields": sorted(changes)},
    )
    return fresh
