"""Errors of the tenancy core, each with a stable code."""

from __future__ import annotations

from hospitium.core.errors import (
    BusinessRuleViolation,
    Category,
    Conflict,
    DatabaseUnavailable,
    HospitiumError,
    NotFound,
    Severity,
    ValidationFailed,
)


class NoHospitalSelected(HospitiumError):
    """A hospital model was touched with no hospital bound to the current context."""

    code = "no_hospital_selected"
    category = Category.TENANT
    default_message = (
        "No hospital is selected. Use the hospital's own address or send the X-Hospital header."
    )


class HospitalMismatch(HospitiumError):
    """A row loaded in one hospital's context was used in another hospital's context."""

    code = "hospital_mismatch"
    category = Category.TENANT
    severity = Severity.CRITICAL
    status = 500
    default_message = "A record of one hospital was used in another hospital's context."


class HospitalNotFound(NotFound):
    code = "hospital_not_found"
    default_message = "No such hospital."


class HospitalNotActive(HospitiumError):
    code = "hospital_not_active"
    category = Category.TENANT
    status = 503
    default_message = "This hospital is not available right now."


class HospitalReadOnly(BusinessRuleViolation):
    code = "hospital_read_only"
    status = 409
    default_message = "This hospital is archived and read-only; nothing can be changed."


class HospitalStoreUnavailable(DatabaseUnavailable):
    code = "hospital_store_unavailable"
    default_message = "This hospital's data store cannot be opened."


class InvalidHospitalCode(ValidationFailed):
    code = "invalid_hospital_code"


class InvalidDomain(ValidationFailed):
    code = "invalid_domain"


class HospitalCodeTaken(Conflict):
    code = "hospital_code_taken"


class DomainTaken(Conflict):
    code = "domain_taken"


class ProvisioningFailed(HospitiumError):
    code = "provisioning_failed"
    category = Category.SYSTEM
    default_message = "The hospital could not be created."


class RepairNotNeeded(BusinessRuleViolation):
    code = "repair_not_needed"


class InvalidPlatformReference(ValidationFailed):
    code = "invalid_platform_reference"


class ProtectedByHospitals(Conflict):
    code = "protected_by_hospitals"


class BackupInvalid(ValidationFailed):
    code = "backup_invalid"


class DeleteRefused(BusinessRuleViolation):
    code = "delete_refused"


class MoveRefused(BusinessRuleViolation):
    code = "move_refused"
