"""Integrity across stores: cross-store references' on-delete policies, enforced over every
hospital, and a check that finds orphans and foreign-key violations in every store, and
hospitals whose provisioning stopped part-way."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any

from django.db import connections, models, transaction

from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.errors import HospitalStoreUnavailable, ProtectedByHospitals
from hospitium.tenancy.fields import PROTECT, SET_NULL, PlatformRef, forget_known, platform_refs
from hospitium.tenancy.models import Hospital
from hospitium.tenancy.router import current_alias, is_hospital_model

logger = logging.getLogger(__name__)

_deleting: ContextVar[bool] = ContextVar("hospitium_platform_delete", default=False)


@dataclass(frozen=True)
class Finding:
    store: str  # a hospital code, or "platform"
    #: "orphaned_reference", "foreign_key_violation", "store_unavailable", "check_failed" or
    #: "provisioning_unfinished"
    kind: str
    table: str
    row: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _live_hospitals(code: str | None = None) -> list[Hospital]:
    qs = Hospital.objects.filter(status__in=[Hospital.Status.ACTIVE, Hospital.Status.ARCHIVED])
    if code is not None:
        qs = qs.filter(code=code.strip().upper())
    return list(qs.order_by("code"))


def _unfinished_provisioning(code: str | None = None) -> list[Finding]:
    """A finding for each hospital whose provisioning stopped part-way and will not finish by
    itself (``selectors.provisioning_stalled``); one still being made is not a problem."""
    from hospitium.tenancy.models import ProvisioningAttempt
    from hospitium.tenancy.selectors import provisioning_stalled

    qs = Hospital.objects.filter(
        status__in=[Hospital.Status.PROVISIONING, Hospital.Status.FAILED]
    ).select_related("provisioning_attempt")
    if code is not None:
        qs = qs.filter(code=code.strip().upper())
    findings: list[Finding] = []
    for hospital in qs.order_by("code"):
        try:
            attempt: ProvisioningAttempt | None = hospital.provisioning_attempt
        except ProvisioningAttempt.DoesNotExist:
            attempt = None
        reason = provisioning_stalled(hospital, attempt)
        if reason is None:
            continue
        findings.append(
            Finding(
                hospital.code,
                "provisioning_unfinished",
                Hospital._meta.db_table,
                str(hospital.pk),
                f"the hospital is {hospital.status} and serves nothing: {reason}. Run "
                f"`hospitium hospitals repair {hospital.code}` to finish it (its admin "
                "included), or add --clean to remove it.",
            )
        )
    return findings


def _hospital_refs(
    target: type[models.Model] | None = None,
) -> list[tuple[type[models.Model], PlatformRef]]:
    return [
        (model, field)
        for model, field in platform_refs()
        if is_hospital_model(model) and (target is None or field.target is target)
    ]


def _foreign_key_violations(alias: str, store: str) -> list[Finding]:
    connection = connections[alias]
    if connection.vendor != "sqlite":  # PostgreSQL enforces every constraint; nothing to scan
        return []
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA foreign_key_check")
        rows = cursor.fetchall()
    return [
        Finding(
            store, "foreign_key_violation", table, str(rowid), f"references a missing {parent} row"
        )
        for table, rowid, parent, _fk in rows
    ]


def integrity_check(*, code: str | None = None) -> list[Finding]:
    """Scan the platform store (unless one hospital is named) and each live hospital store.

    Raises HospitalNotFound when ``code`` names no hospital.
    """
    findings: list[Finding] = []
    if code is None:
        findings += _foreign_key_violations("default", "platform")
    else:
        from hospitium.tenancy.selectors import hospital_get

        hospital_get(code)
    findings += _unfinished_provisioning(code)
    refs = _hospital_refs()
    for hospital in _live_hospitals(code):
        try:
            with hospital_context(hospital, maintenance=True):
                alias = current_alias(write=False)
                findings += _foreign_key_violations(alias, hospital.code)
                findings += _orphans(hospital.code, refs)
        except HospitalStoreUnavailable as exc:
            findings.append(Finding(hospital.code, "store_unavailable", "", "", exc.message))
        except Exception as exc:
            # A store whose rows cannot even be read is itself a finding, not a crash of the scan.
            detail = f"{type(exc).__name__}: {exc}"
            findings.append(Finding(hospital.code, "check_failed", "", "", detail))
    return findings


def _orphans(store: str, refs: list[tuple[type[models.Model], PlatformRef]]) -> list[Finding]:
    findings: list[Finding] = []
    for model, field in refs:
        attname = field.attname
        ids = set(
            model._base_manager.exclude(**{f"{attname}__isnull": True})
            .values_list(attname, flat=True)
            .distinct()
        )
        if not ids:
            continue
        existing = set(field.target._base_manager.filter(pk__in=ids).values_list("pk", flat=True))
        missing = ids - existing
        if not missing:
            continue
        rows = model._base_manager.filter(**{f"{attname}__in": missing}).values_list("pk", attname)
        findings += [
            Finding(
                store,
                "orphaned_reference",
                model._meta.db_table,
                str(pk),
                f"{field.name} points at {field.target._meta.label} {ref_id}, which does not exist",
            )
            for pk, ref_id in rows
        ]
    return findings


def is_platform_delete_allowed() -> bool:
    return _deleting.get()


@contextmanager
def unguarded_platform_delete() -> Iterator[None]:
    """Allow deleting platform rows that no hospital can reference yet (rows the caller created
    moments ago, as provisioning's clean-up does). Everything else goes through platform_delete."""
    token = _deleting.set(True)
    try:
        yield
    finally:
        _deleting.reset(token)


def platform_delete(instance: models.Model) -> None:
    """Delete a platform row after enforcing, in every hospital, the policies of the references
    that point at it: PROTECT refuses (naming the hospitals), SET_NULL clears them first.

    Raises ProtectedByHospitals when any hospital still holds a protecting reference.
    """
    target = type(instance)
    refs = _hospital_refs(target)
    pk = instance.pk
    hospitals = _live_hospitals() if refs else []
    blockers: list[str] = []
    for hospital in hospitals:
        with hospital_context(hospital, maintenance=True):
            counts = {
                model._meta.verbose_name_plural: model._base_manager.filter(
                    **{field.attname: pk}
                ).count()
                for model, field in refs
                if field.on_delete == PROTECT
            }
            held = ", ".join(f"{count} {noun}" for noun, count in counts.items() if count)
            if held:
                blockers.append(f"{hospital.code} ({held})")
    if blockers:
        raise ProtectedByHospitals(
            f"{str(target._meta.verbose_name).capitalize()} {instance} is still referenced by "
            f"{'; '.join(blockers)}. Reassign or void those records first."
        )
    # Set-null in each hospital first: if the run stops half-way, the platform row still exists
    # and nothing dangles; running the delete again finishes the job.
    for hospital in hospitals:
        with hospital_context(hospital, maintenance=True):
            alias = current_alias(write=True)
            with transaction.atomic(using=alias):
                for model, field in refs:
                    if field.on_delete == SET_NULL:
                        model._base_manager.filter(**{field.attname: pk}).update(
                            **{field.attname: None}
                        )
    with unguarded_platform_delete(), transaction.atomic(using="default"):
        instance.delete()
    forget_known(target._meta.label, [pk])
    logger.info("deleted %s %s after enforcing references", target._meta.label, pk)


def refuse_unguarded_delete(sender: type[models.Model], instance: Any, **kwargs: Any) -> None:
    """pre_delete receiver: a platform row that hospital rows may reference must be deleted
    through ``platform_delete``, or hospitals would be left pointing at nothing."""
    if not is_platform_delete_allowed():
        from hospitium.core.errors import BusinessRuleViolation

        raise BusinessRuleViolation(
            f"{str(sender._meta.verbose_name).capitalize()} rows are deleted through the integrity "
            "service (hospitium.tenancy.integrity.platform_delete), which enforces hospital "
            "references first."
        )
