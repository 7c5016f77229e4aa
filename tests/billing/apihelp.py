"""Small helpers for API tests of the billing, feedback and campaigns apps."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from hospitium.accounts.models import User

ALPHA = "alpha.example.test"
BRAVO = "bravo.example.test"
ROLES = ["admin", "doctor", "nurse", "receptionist", "billing", "analyst"]


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The envelope's error of a JSON error response with this status."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "category", "fields", "request_id"}
    assert error["request_id"] == response["X-Request-ID"]
    return error


def as_user(client: APIClient, user: User) -> APIClient:
    client.force_login(user)
    return client


def results(response: Any) -> list[dict[str, Any]]:
    """The rows of a (paginated) list response."""
    assert response.status_code == 200, response.content
    return response.json()["results"]
