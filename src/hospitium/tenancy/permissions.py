"""API permission: the request must address a hospital, and the user must belong to it."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from hospitium.core.context import user_id_var
from hospitium.tenancy.errors import NoHospitalSelected
from hospitium.tenancy.selectors import is_member


class IsHospitalMember(BasePermission):
    """Authenticated members of the addressed hospital (and platform superusers) pass.

    A non-member gets 404, never 403, so a hospital's existence is not revealed.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        user_id_var.set(str(user.pk))
        hospital = getattr(request._request, "hospital", None)
        if hospital is None:
            raise NoHospitalSelected()
        if user.is_superuser or is_member(user_id=user.pk, hospital_id=hospital.id):
            return True
        raise NotFound()


class IsPlatformUser(BasePermission):
    """Any authenticated user; for platform-level endpoints that need no hospital."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated)
