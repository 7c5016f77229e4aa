"""API permission: the request must address a hospital, and the user must belong to it."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from rest_framework.exceptions import NotFound
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from hospitium.core.context import roles_var
from hospitium.core.errors import PermissionRefused
from hospitium.tenancy.errors import NoHospitalSelected
from hospitium.tenancy.selectors import bind_actor


class RoleDenied(PermissionRefused, DjangoPermissionDenied):
    """A member whose roles do not allow the action. Also a Django PermissionDenied, which is
    what DRF's OPTIONS metadata expects while it probes whether the user may write: without
    it, OPTIONS answered 403 to every member who may read but not write."""

    code = "role_forbidden"


class IsHospitalMember(BasePermission):
    """Authenticated members of the addressed hospital pass (a platform superuser only with an
    open break-glass access: accounts.selectors.roles_of).

    A non-member gets 404, never 403, so a hospital's existence is not revealed.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        hospital = getattr(request._request, "hospital", None)
        if hospital is None:
            bind_actor(user=user, hospital_id=None)
            raise NoHospitalSelected()
        if bind_actor(user=user, hospital_id=hospital.id):
            return True
        raise NotFound()


class RolePermission(BasePermission):
    """The role matrix (accounts.roles) for the rule the view's route declares: its
    ``resource`` (a custom action sets its own with ``@action(..., resource=...)``, so a nested
    route is decided by what it reads, not by the path it hangs from). GET/HEAD/OPTIONS read,
    everything else writes. A member without the role gets 403 with the reason; a view that
    declares no rule is refused (fail closed)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        from hospitium.accounts.roles import READ, WRITE, permits

        resource: str | None = getattr(view, "resource", None)
        if not resource:
            raise ImproperlyConfigured(f"{type(view).__name__} declares no resource rule.")
        action = READ if request.method in SAFE_METHODS else WRITE
        roles = roles_var.get()
        if "*" in roles or permits(resource, action, roles):
            return True
        raise RoleDenied(
            f"Your role ({', '.join(sorted(roles)) or 'none'}) may not {action} {resource}."
        )


class IsPlatformUser(BasePermission):
    """Any authenticated user; for platform-level endpoints that need no hospital."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated)
