"""The role matrix: which roles of a hospital may read and write which resource.

One table, used by the API's permission class and by selectors and services that check roles,
and printed into docs/permissions.md by ``hospitium roles --markdown``. Platform superusers may do
everything. Analysts read aggregates and run reports; they do not read patients' records.
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
    "reports": _rule({ADMIN, ANALYST}, {ADMIN, ANALYST}),
    "report-settings": _rule({ADMIN, ANALYST}, {ADMIN}),
}


def allowed(resource: str, action: str, roles: frozenset[str] | set[str]) -> bool:
    """Whether any of ``roles`` may ``action`` ("read" or "write") the ``resource``.

    Raises KeyError for a resource that is not in the matrix (a programming error).
    """
    return bool(MATRIX[resource][action] & set(roles))


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
    return "\n".join(lines)
