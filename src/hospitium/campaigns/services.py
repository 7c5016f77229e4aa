"""Writes to health campaigns and patients' participation in them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from hospitium.audit.services import audit_record
from hospitium.campaigns.models import Campaign, Participation
from hospitium.core.db import atomic_service, broken_rule
from hospitium.core.errors import BusinessRuleViolation, Conflict, ValidationFailed
from hospitium.patients.models import Patient
from hospitium.tenancy.router import current_alias

CAMPAIGN_EDITABLE = ("name", "kind", "starts_on", "ends_on", "target")


def _write_alias() -> str:
    return current_alias(write=True)


def _validate_campaign(fields: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if "name" in fields and not fields["name"]:
        errors["name"] = ["Required."]
    elif "name" in fields and len(fields["name"]) > 200:
        errors["name"] = ["At most 200 characters."]
    if "kind" in fields and fields["kind"] not in Campaign.Kind.values:
        errors["kind"] = [f"Choose one of {', '.join(Campaign.Kind.values)}."]
    target = fields.get("target", 0)
    if isinstance(target, bool) or not isinstance(target, int) or target < 0:
        errors["target"] = ["The target is a whole number, 0 or more."]
    starts, ends = fields.get("starts_on"), fields.get("ends_on")
    if isinstance(starts, dt.date) and isinstance(ends, dt.date) and ends <= starts:
        errors["ends_on"] = ["A campaign must end after it starts."]
    if errors:
        raise ValidationFailed("The campaign is not valid.", fields=errors)


def _name_taken(name: str) -> Conflict:
    return Conflict(
        f"There is already a campaign named {name!r}.", fields={"name": ["Already in use."]}
    )


@atomic_service(_write_alias)
def campaign_create(
    *,
    name: str,
    starts_on: dt.date,
    ends_on: dt.date,
    kind: str = Campaign.Kind.OTHER,
    target: int = 0,
) -> Campaign:
    """Create a campaign. Raises ValidationFailed (ends before it starts, negative target, bad
    kind) and Conflict (the name is taken)."""
    fields: dict[str, Any] = {
        "name": name.strip(),
        "kind": kind,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "target": target,
    }
    _validate_campaign(fields)
    taken = Campaign.objects.filter(name__iexact=fields["name"]).values_list("name", flat=True)
    if taken:
        raise _name_taken(taken[0])
    try:
        with transaction.atomic(using=_write_alias()):
            campaign = Campaign.objects.create(**fields)
    except IntegrityError as exc:  # a concurrent create took the name first
        raise _name_taken(fields["name"]) from exc
    audit_record(action="create", object_type="campaigns", object_id=campaign.pk)
    return campaign


@atomic_service(_write_alias)
def campaign_update(*, campaign: Campaign, **changes: Any) -> Campaign:
    """Change a campaign. Raises ValidationFailed (as for create, or a period that would leave
    participants outside it) and Conflict (the name is taken)."""
    unknown = set(changes) - set(CAMPAIGN_EDITABLE)
    if unknown:
        raise ValidationFailed(
            "These fields cannot be changed here.", fields={k: ["Not editable."] for k in unknown}
        )
    if isinstance(changes.get("name"), str):
        changes["name"] = changes["name"].strip()
    fresh = Campaign.objects.select_for_update().get(pk=campaign.pk)
    merged = {name: getattr(fresh, name) for name in CAMPAIGN_EDITABLE} | changes
    _validate_campaign(merged)
    if "name" in changes:
        taken = (
            Campaign.objects.filter(name__iexact=merged["name"])
            .exclude(pk=fresh.pk)
            .values_list("name", flat=True)
        )
        if taken:
            raise _name_taken(taken[0])
    _refuse_participants_outside(fresh, merged["starts_on"], merged["ends_on"])
    for name, value in changes.items():
        setattr(fresh, name, value)
    try:
        with transaction.atomic(using=_write_alias()):
            fresh.save(update_fields=[*changes, "updated_at"])
    except IntegrityError as exc:
        if broken_rule(exc) == "participation_within_campaign":
            raise _participants_outside(fresh, merged["starts_on"], merged["ends_on"]) from exc
        raise _name_taken(merged["name"]) from exc
    audit_record(
        action="update",
        object_type="campaigns",
        object_id=fresh.pk,
        detail={"fields": sorted(changes)},
    )
    return fresh


def _participants_outside(
    campaign: Campaign, starts_on: dt.date, ends_on: dt.date
) -> ValidationFailed:
    outside = _joined_outside(campaign, starts_on, ends_on)
    return ValidationFailed(
        f"{outside} participant(s) joined outside the new period.",
        fields={"starts_on": ["Participants joined outside this period."]},
    )


def _refuse_participants_outside(campaign: Campaign, starts_on: dt.date, ends_on: dt.date) -> None:
    if _joined_outside(campaign, starts_on, ends_on):
        raise _participants_outside(campaign, starts_on, ends_on)


def _joined_outside(campaign: Campaign, starts_on: dt.date, ends_on: dt.date) -> int:
    rows = Participation.objects.filter(campaign=campaign).values_list("joined_at", flat=True)
    return sum(
        1 for joined in rows if not starts_on <= timezone.localtime(joined).date() <= ends_on
    )


@atomic_service(_write_alias)
def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a campaign nobody joined. Raises BusinessRuleViolation otherwise."""
    try:
        Campaign.objects.filter(pk=campaign.pk).delete()
    except ProtectedError as exc:
        raise BusinessRuleViolation(
            f"Campaign {campaign.name!r} has participants and cannot be deleted."
        ) from exc
    audit_record(action="delete", object_type="campaigns", object_id=campaign.pk)


def _joined_twice(patient: Patient, campaign: Campaign) -> Conflict:
    return Conflict(
        f"{patient} already takes part in {campaign.name!r}.",
        fields={"patient": ["Already takes part in this campaign."]},
    )


def _joined_within(campaign: Campaign, when: dt.datetime) -> bool:
    return campaign.starts_on <= timezone.localtime(when).date() <= campaign.ends_on


def _outside_campaign(campaign: Campaign) -> ValidationFailed:
    return ValidationFailed(
        "The participation is not valid.",
        fields={
            "joined_at": [
                f"Must be within the campaign, {campaign.starts_on} to {campaign.ends_on}."
            ]
        },
    )


@atomic_service(_write_alias)
def participation_join(
    *,
    campaign: Campaign,
    patient: Patient,
    joined_at: dt.datetime | None = None,
    outcome: str = Participation.Outcome.ENROLLED,
) -> Participation:
    """Enrol a patient in a campaign (``joined_at`` defaults to now).

    Raises ValidationFailed (joined outside the campaign's period, bad outcome) and Conflict
    (the patient already takes part).
    """
    when = joined_at or timezone.now()
    if timezone.is_naive(when):
        raise ValidationFailed("Times need a time zone.", fields={"joined_at": ["Give a zone."]})
    errors: dict[str, list[str]] = {}
    if not _joined_within(campaign, when):
        errors.update(_outside_campaign(campaign).fields)
    if outcome not in Participation.Outcome.values:
        errors["outcome"] = [f"Choose one of {', '.join(Participation.Outcome.values)}."]
    if errors:
        raise ValidationFailed("The participation is not valid.", fields=errors)
    if Participation.objects.filter(campaign=campaign, patient=patient).exists():
        raise _joined_twice(patient, campaign)
    try:
        with transaction.atomic(using=_write_alias()):
            participation = Participation.objects.create(
                campaign=campaign, patient=patient, joined_at=when, outcome=outcome
            )
    except IntegrityError as exc:
        if broken_rule(exc) == "participation_within_campaign":
            raise _outside_campaign(campaign) from exc
        raise _joined_twice(patient, campaign) from exc
    audit_record(
        action="create",
        object_type="participations",
        object_id=participation.pk,
        detail={"campaign": str(campaign.pk), "patient": str(patient.pk)},
    )
    return participation


@atomic_service(_write_alias)
def participation_set_outcome(*, participation: Participation, outcome: str) -> Participation:
    """Record how a participation ended. Raises ValidationFailed for an unknown outcome."""
    if outcome not in Participation.Outcome.values:
        raise ValidationFailed(
            f"Choose one of {', '.join(Participation.Outcome.values)}.",
            fields={"outcome": ["Not an outcome."]},
        )
    fresh = Participation.objects.select_for_update().get(pk=participation.pk)
    fresh.outcome = outcome
    fresh.save(update_fields=["outcome", "updated_at"])
    audit_record(
        action="update",
        object_type="participations",
        object_id=fresh.pk,
        detail={"outcome": outcome},
    )
    return fresh
