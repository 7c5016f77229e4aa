"""Writes to a hospital's report settings: how each code template is offered (enabled, display
name, default parameters, formats) and how long generated files are kept.

Both are hospital data (the hospital's own store). Every change is validated before anything is
written, then written and audited in one transaction.
"""

from __future__ import annotations

from typing import Any

from hospitium.audit.services import audit_record
from hospitium.core.db import atomic_service
from hospitium.core.errors import NotFound, ValidationFailed
from hospitium.reports import registry
from hospitium.reports.base import ReportTemplate
from hospitium.reports.generation import DEFAULT_RETENTION_DAYS
from hospitium.reports.models import ReportPolicy, ReportTemplateSetting
from hospitium.reports.services import _field_errors, _write_alias, template_settings

#: The range the database also enforces (report_policy_retention_range).
RETENTION_MIN_DAYS = 1
RETENTION_MAX_DAYS = 3650
#: Request-time parameters: given with every generation, so they have no per-hospital default.
REQUEST_PARAMETERS = frozenset({"date_from", "date_to", "include_rows"})
#: A period any template accepts, used only to run its validation over the defaults alone.
_PROBE_PERIOD = {"date_from": "2000-01-01", "date_to": "2000-01-31"}
_UNSET: Any = object()


def supported_formats(template: ReportTemplate) -> list[str]:
    """The formats a template can be produced in here (its own, installed ones)."""
    installed = registry.formats()
    return [f for f in template.formats if f in installed]


def _template(template_key: str) -> ReportTemplate:
    template = registry.templates().get(template_key)
    if template is None:
        raise NotFound(f"There is no report template {template_key!r}.")
    return template


def validated_default_parameters(template: ReportTemplate, defaults: Any) -> dict[str, Any]:
    """``defaults`` checked by the template's own parameter validation; returns them as they
    are stored (the serializer's representation). Raises ValidationFailed with a field error
    per refused filter (``default_parameters.<name>``)."""
    if not isinstance(defaults, dict):
        raise ValidationFailed(
            "The default parameters must be an object of filter names and values.",
            fields={"default_parameters": ['Expected an object, e.g. {"kind": "emergency"}.']},
        )
    known = set(template.parameters().fields) - REQUEST_PARAMETERS
    unknown = sorted(set(defaults) - known)
    if unknown:
        raise ValidationFailed(
            "Some default parameters are not filters of this report.",
            fields={
                "default_parameters": [
                    f"Unknown or not defaultable: {', '.join(map(str, unknown))}. "
                    f"This report's filters: {', '.join(sorted(known)) or 'none'}."
                ]
            },
        )
    serializer = template.parameters(data={**defaults, **_PROBE_PERIOD})
    if not serializer.is_valid():
        errors = {
            key: messages
            for key, messages in _field_errors(serializer.errors).items()
            if key not in REQUEST_PARAMETERS
        }
        if errors:
            raise ValidationFailed(
                "The default parameters are not valid for this report.",
                fields={
                    f"default_parameters.{key}" if key else "default_parameters": messages
                    for key, messages in errors.items()
                },
            )
    data = serializer.data if serializer.is_valid() else serializer.initial_data
    return {key: data[key] for key in defaults}


def _validated_formats(template: ReportTemplate, formats: Any) -> list[str]:
    supported = supported_formats(template)
    if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
        raise ValidationFailed(
            "The formats must be a list of format names.",
            fields={"formats": [f"Choose from: {', '.join(supported)} (empty: all of them)."]},
        )
    refused = sorted({f for f in formats if f not in supported})
    if refused:
        raise ValidationFailed(
            f"This report cannot be produced as {', '.join(refused)}.",
            fields={"formats": [f"Choose from: {', '.join(supported)} (empty: all of them)."]},
        )
    return list(dict.fromkeys(formats))


@atomic_service(_write_alias)
def report_template_setting_update(
    *,
    template_key: str,
    enabled: bool = _UNSET,
    display_name: str = _UNSET,
    default_parameters: dict[str, Any] = _UNSET,
    formats: list[str] = _UNSET,
) -> ReportTemplateSetting:
    """Change how a template is offered in the current hospital; only the given fields change.

    ``formats`` empty means every format the template supports; ``display_name`` empty means
    the template's own title. Raises NotFound for an unknown template and ValidationFailed (with
    field errors, nothing written) for defaults the template refuses, unsupported formats, or a
    display name longer than 200 characters.
    """
    template = _template(template_key)
    setting = template_settings()[template_key]
    changes: dict[str, Any] = {}
    if enabled is not _UNSET:
        changes["enabled"] = bool(enabled)
    if display_name is not _UNSET:
        name = (display_name or "").strip()
        if len(name) > 200:
            raise ValidationFailed(
                "The display name is too long.",
                fields={"display_name": ["At most 200 characters."]},
            )
        changes["display_name"] = name
    if default_parameters is not _UNSET:
        changes["default_parameters"] = validated_default_parameters(template, default_parameters)
    if formats is not _UNSET:
        changes["allowed_formats"] = _validated_formats(template, formats)
    changed = {k: v for k, v in changes.items() if getattr(setting, k) != v}
    if changed:
        ReportTemplateSetting.objects.filter(pk=setting.pk).update(**changed)
        audit_record(
            action="update",
            object_type="report-settings",
            object_id=template_key,
            detail={"changed": changed},
        )
    return ReportTemplateSetting.objects.get(pk=setting.pk)


@atomic_service(_write_alias)
def report_retention_update(*, retention_days: int) -> ReportPolicy:
    """Set how many days the current hospital keeps generated report files (from 1 to 3650).

    Expiry (hourly) removes a file once its report finished longer ago than the retention or
    passed the expiry date set when it completed: a shorter retention therefore reaches reports
    already completed, a longer one only those completed from now on. Raises ValidationFailed
    (nothing written) outside the range.
    """
    if (
        isinstance(retention_days, bool)
        or not isinstance(retention_days, int)
        or not RETENTION_MIN_DAYS <= retention_days <= RETENTION_MAX_DAYS
    ):
        raise ValidationFailed(
            "The retention is out of range.",
            fields={
                "retention_days": [
                    f"A whole number of days from {RETENTION_MIN_DAYS} to {RETENTION_MAX_DAYS}."
                ]
            },
        )
    policy, _ = ReportPolicy.objects.get_or_create(
        singleton=1, defaults={"retention_days": DEFAULT_RETENTION_DAYS}
    )
    if policy.retention_days != retention_days:
        before = policy.retention_days
        policy.retention_days = retention_days
        policy.save(update_fields=["retention_days", "updated_at"])
        audit_record(
            action="update",
            object_type="report-settings",
            object_id="retention",
            detail={"retention_days": [before, retention_days]},
        )
    return policy
