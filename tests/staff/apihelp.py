"""Helpers for the API tests of staff, scheduling and admissions: the error envelope, users of
each role, and the audit log."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from hospitium.accounts.models import Role, User
from hospitium.accounts.roles import allowed
from hospitium.audit.models import AuditEvent
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests.conftest import make_user

ALPHA = "alpha.example.test"
BRAVO = "bravo.example.test"
ENVELOPE_KEYS = {"code", "message", "category", "fields", "request_id"}
ROLES = [role.value for role in Role]


def envelope_of(
    response: Any, *, status: int, code: str, category: str | None = None
) -> dict[str, Any]:
    """Check that ``response`` is the error envelope with this status and code; return it."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == ENVELOPE_KEYS
    assert error["code"] == code
    if category is not None:
        assert error["category"] == category
    assert error["message"]
    assert error["request_id"] == response["X-Request-ID"]
    return error


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def user_with_role(hospital: Hospital, role: str) -> User:
    return make_user(f"{role}@{hospital.code.lower()}.example.test", hospital=hospital, role=role)


def may(resource: str, action: str, role: str) -> bool:
    return allowed(resource, action, {role})


def audit_trail(hospital: Hospital, object_type: str, **filters: Any) -> list[AuditEvent]:
    """The hospital's audit events about ``object_type``, oldest first."""
    with hospital_context(hospital):
        return list(AuditEvent.objects.filter(object_type=object_type, **filters).order_by("id"))
