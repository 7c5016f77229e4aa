"""Errors of the audit app's break-glass services, each with a stable code."""

from __future__ import annotations

from hospitium.core.errors import BusinessRuleViolation, Conflict, PermissionRefused


class BreakGlassNotSuperuser(BusinessRuleViolation):
    code = "break_glass_not_superuser"
    default_message = (
        "Break-glass access is for platform superusers; give a hospital's staff a role instead."
    )


class BreakGlassHospitalNotActive(BusinessRuleViolation):
    code = "break_glass_hospital_not_active"
    default_message = (
        "Break-glass access needs an active hospital: its audit log must be able to record it."
    )


class BreakGlassNotOpen(Conflict):
    code = "break_glass_not_open"
    default_message = "This break-glass access is already closed or expired."


class BreakGlassSuperuserRequired(PermissionRefused):
    code = "superuser_required"
    default_message = "Only a platform superuser opens or lists break-glass access."
