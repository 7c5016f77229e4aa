"""The role matrix: which roles of a hospital may read and write which resource.

One table, used by the API's permission class and by selectors and services that check roles,
and printed into docs/permissions.md (``as_markdown``; a test keeps the two in sync). Platform
superusers may do everything. Analysts read aggregates and run reports; they do not read
patients' records.

Every route of the API declares the rule it is decided by: a row of ``MATRIX`` (the resource it
reads or writes, whatever its path: ``/api/patients/{id}/visits/`` reads ``visits``), or one of
the few ``AUDIENCES`` of routes that are not a hospital's resource. Views declare it as their
``resource`` (a custom action with ``@action(..., resource=...)``); routes of views this project
does not write are listed in ``FOREIGN_ROUTES``. tests/accounts/test_route_permissions.py walks
the URLconf and fails for a route without a rule.
"""

from __future__ import annotations

from collections.abc import Mapping

from hospitium.accounts.models import Role

READ = "read"
WRITE = "write"

ADMIN, DOCTOR, NURSE = Role.ADMIN.value, Role.DOCTOR.value, Role.NURSE.value
RECEPTION, BILLING, ANALYST = Role.RECEPTIONIST.value, Role.BILLING.value, Role.ANALYST.value
EVERYONE = frozenset({ADMIN, DOCTOR, NURSE, RECEPTION, BILLING, ANALYST})
CLINICAL = frozenset({ADMIN, DOCTOR, NURSE})
FRONT_DESK = CLINICAL | {RECEPTION}


def _rule(
    read: frozenset[str] | set[str], write: frozenset[str] | set[str]
) -> dict[str, frozenset[str]]:
    return {READ: frozenset(read), WRITE: frozenset(write)}


MATRIX: Mapping[str, Mapping[str, frozenset[str]]] = {
    "patients": _rule(FRONT_DESK | {BILLING}, FRONT_DESK),
    "departments": _rule(EVERYONE, {ADMIN}),
    "practitioners": _rule(EVERYONE, {ADMIN}),
    "appointments": _rule(FRONT_DESK, FRONT_DESK),
    "visits": _rule(CLINICAL, {ADMIN, DOCTOR}),
    "diagnoses": _rule(CLINICAL, {ADMIN, DOCTOR}),
    "treatments": _rule(CLINICAL, {ADMIN, DOCTOR}),
    "wards": _rule(EVERYONE, {ADMIN}),
    "beds": _rule(EVERYONE, {ADMIN}),
    "admissions": _rule(FRONT_DESK, CLINICAL | {RECEPTION}),
    "invoices": _rule({ADMIN, BILLING, RECEPTION}, {ADMIN, BILLING}),
    "payments": _rule({ADMIN, BILLING, RECEPTION}, {ADMIN, BILLING, RECEPTION}),
    "feedback": _rule(CLINICAL | {RECEPTION}, {ADMIN, RECEPTION}),
    "campaigns": _rule(EVERYONE, CLINICAL),
    "participations": _rule(CLINICAL, CLINICAL),
    "audit-events": _rule({ADMIN}, set()),
    "break-glass": _rule({ADMIN}, {ADMIN}),
    "members": _rule({ADMIN}, {ADMIN}),
    "reports": _rule({ADMIN, ANALYST}, {ADMIN, ANALYST}),
    "report-settings": _rule({ADMIN, ANALYST}, {ADMIN}),
    # A report's patient-level rows (``include_rows``): names, birth dates, MRNs, diagnoses.
    "report-rows": _rule({ADMIN}, set()),
}


#: Routes that are not one of a hospital's resources, and who reaches them. The view's own
#: permission classes enforce these; no hospital role changes the answer.
ANYONE = "anyone"
ANY_MEMBER = "any-member"
SUPERUSERS = "superusers"
AUDIENCES: Mapping[str, str] = {
    ANYONE: "anyone, signed in or not: signing in and out, the API's schema and its docs",
    ANY_MEMBER: (
        "every member of the hospital, whatever their role: the hospital's name, the API's "
        "index, and the reports they requested themselves (admins and analysts see all)"
    ),
    SUPERUSERS: "platform superusers only, never a hospital role: reports over the whole fleet",
}

#: Routes served by views this project does not write (Django's, DRF's, drf-spectacular's), by
#: URL name, with their audience. Our own views declare ``resource`` instead.
FOREIGN_ROUTES: Mapping[str, str] = {
    "api-root": ANY_MEMBER,
    "schema": ANYONE,
    "docs": ANYONE,
    "rest_framework:login": ANYONE,
    "rest_framework:logout": ANYONE,
}


def allowed(resource: str, action: str, roles: frozenset[str] | set[str]) -> bool:
    """Whether any of ``roles`` may ``action`` ("read" or "write") the ``resource``.

    Raises KeyError for a resource that is not in the matrix (a programming error).
    """
    return bool(MATRIX[resource][action] & set(roles))


def permits(rule: str, action: str, roles: frozenset[str] | set[str]) -> bool:
    """Whether ``roles`` pass the role check of a route decided by ``rule`` (a resource of the
    matrix or an audience): the matrix for resources; every member for ``ANYONE`` and
    ``ANY_MEMBER``; no hospital role for ``SUPERUSERS``.

    Raises KeyError for a rule that is neither (a programming error).
    """
    if rule in (ANYONE, ANY_MEMBER):
        return True
    if rule == SUPERUSERS:
        return False
    return allowed(rule, action, roles)


def as_markdown() -> str:
    """The matrix as a Markdown table (for docs/permissions.md)."""
    roles = [ADMIN, DOCTOR, NURSE, RECEPTION, BILLING, ANALYST]
    lines = [
        "| resource | " + " | ".join(roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for resource, rule in MATRIX.items():
        cells = []
        for role in roles:
            cell = ("R" if role in rule[READ] else "") + ("W" if role in rule[WRITE] else "")
            cells.append(cell or "–")
        lines.append(f"| `{resource}` | " + " | ".join(cells) + " |")
    lines += ["", "Routes that are not a hospital's resource:", ""]
    lines += [f"- `{audience}`: {text}." for audience, text in AUDIENCES.items()]
    return "\n".join(lines)
