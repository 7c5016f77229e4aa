"""Who may see what in the web interface: the API's role matrix (accounts.roles), asked in one
place. Views call these helpers; templates only show what the view decided."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404, HttpRequest
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from hospitium.accounts.roles import READ, WRITE, allowed
from hospitium.core.context import roles_var
from hospitium.core.errors import PermissionRefused
from hospitium.tenancy.context import HospitalRef

__all__ = ["READ", "WRITE", "NavItem", "can", "current_hospital", "nav_items", "require", "roles"]


class PageRefused(PermissionRefused):
    code = "role_forbidden"


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url: str
    #: The resource of the role matrix the page reads; None for pages every member sees.
    resource: str | None
    #: Which first path segment marks the item as the current page.
    section: str


#: The navigation, in order. A page appears only when the role may read its resource; pages
#: added later (appointments, admissions, billing, staff, audit) add one row here.
NAV: tuple[NavItem, ...] = (
    NavItem(_("Today"), "/", None, ""),
    NavItem(_("Patients"), "/patients/", "patients", "patients"),
    NavItem(_("Appointments"), "/appointments/", "appointments", "appointments"),
    NavItem(_("Admissions"), "/admissions/", "admissions", "admissions"),
    NavItem(_("Billing"), "/billing/", "invoices", "billing"),
    NavItem(_("Feedback"), "/feedback/", "feedback", "feedback"),
    NavItem(_("Campaigns"), "/campaigns/", "campaigns", "campaigns"),
    NavItem(_("Staff"), "/staff/", "members", "staff"),
    NavItem(_("Audit log"), "/audit/", "audit-events", "audit"),
)


def roles() -> frozenset[str]:
    """The signed-in user's roles in the request's hospital ({"*"} for a platform superuser)."""
    return roles_var.get()


def can(resource: str, action: str = READ) -> bool:
    """Whether the signed-in user may ``action`` ("read"/"write") ``resource`` here."""
    held = roles()
    return "*" in held or allowed(resource, action, held)


def require(resource: str, action: str = READ) -> None:
    """Raise PermissionRefused (the 403 page) unless the user may ``action`` ``resource``."""
    if not can(resource, action):
        raise PageRefused(gettext("Your role may not open this page."))


def nav_items(path: str) -> list[tuple[NavItem, bool]]:
    """The navigation the signed-in user may see, each with whether it is the current page."""
    section = path.strip("/").split("/", 1)[0]
    return [
        (item, item.section == section)
        for item in NAV
        if item.resource is None or can(item.resource, READ)
    ]


def current_hospital(request: HttpRequest) -> HospitalRef:
    """The hospital the request addresses; the platform's own hosts have no hospital pages."""
    hospital: HospitalRef | None = getattr(request, "hospital", None)
    if hospital is None:
        raise Http404("no hospital on this host")
    return hospital
