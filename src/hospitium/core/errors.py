"""The one exception hierarchy. Every error has a category, a severity, a stable code, an HTTP
status and a message that is safe to show to the person who caused it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import ClassVar


class Category(StrEnum):
    VALIDATION = "validation"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    BUSINESS_RULE = "business_rule"
    TENANT = "tenant"
    DATABASE = "database"
    EXTERNAL = "external"
    SYSTEM = "system"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


#: The HTTP status each category answers with unless a class says otherwise.
CATEGORY_STATUS: Mapping[Category, int] = {
    Category.VALIDATION: 400,
    Category.AUTHENTICATION: 401,
    Category.PERMISSION: 403,
    Category.NOT_FOUND: 404,
    Category.CONFLICT: 409,
    Category.BUSINESS_RULE: 422,
    Category.TENANT: 400,
    Category.DATABASE: 503,
    Category.EXTERNAL: 502,
    Category.SYSTEM: 500,
}

FieldErrors = Mapping[str, Sequence[str]]


class HospitiumError(Exception):
    """Base of every error Hospitium raises on purpose.

    Subclasses set ``code`` (stable, snake_case), ``category`` and ``default_message``; the
    message given at raise time must be safe to show (no SQL, paths or stack traces).
    """

    code: ClassVar[str] = "error"
    category: ClassVar[Category] = Category.SYSTEM
    severity: ClassVar[Severity] = Severity.ERROR
    default_message: ClassVar[str] = "Something went wrong."
    status: ClassVar[int | None] = None

    def __init__(self, message: str | None = None, *, fields: FieldErrors | None = None) -> None:
        self.message = message or self.default_message
        self.fields: dict[str, list[str]] = {k: list(v) for k, v in (fields or {}).items()}
        super().__init__(self.message)

    @property
    def http_status(self) -> int:
        return self.status or CATEGORY_STATUS[self.category]

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "category": str(self.category),
            "fields": self.fields,
        }


class ValidationFailed(HospitiumError):
    code = "validation_error"
    category = Category.VALIDATION
    severity = Severity.INFO
    default_message = "Some of the input is not valid."


class RequestTooLarge(HospitiumError):
    code = "request_too_large"
    category = Category.VALIDATION
    severity = Severity.INFO
    status = 413
    default_message = "The request body is larger than this server accepts."


class PermissionRefused(HospitiumError):
    code = "permission_denied"
    category = Category.PERMISSION
    severity = Severity.WARNING
    default_message = "You do not have permission to do this."


class NotFound(HospitiumError):
    code = "not_found"
    category = Category.NOT_FOUND
    severity = Severity.INFO
    default_message = "Not found."


class Conflict(HospitiumError):
    code = "conflict"
    category = Category.CONFLICT
    severity = Severity.INFO
    default_message = "This conflicts with what is already stored."


class BusinessRuleViolation(HospitiumError):
    code = "business_rule"
    category = Category.BUSINESS_RULE
    severity = Severity.INFO
    default_message = "This is not allowed."


class DatabaseUnavailable(HospitiumError):
    code = "database_unavailable"
    category = Category.DATABASE
    severity = Severity.CRITICAL
    default_message = "The database is busy or unavailable. Please try again shortly."


class InternalError(HospitiumError):
    code = "internal_error"
    category = Category.SYSTEM
    severity = Severity.CRITICAL
    default_message = "An unexpected error occurred. It has been logged."
