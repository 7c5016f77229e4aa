"""The life of a hospital: create (validate first, clone the store, undo everything on failure),
archive (read-only) and repair (finish or clean up an attempt that did not complete).

Provisioning spans a file and the platform store, which no single transaction covers. So each
step records what it made, and a failure at any step removes exactly that; only when the clean-up
itself fails is the hospital left ``failed``, with the reason, for ``repair``.

A process killed part-way (kill -9, a lost machine) cleans up nothing: its hospital stays
``provisioning``, with the ``ProvisioningAttempt`` written with the hospital row — the process
at work and the first admin's email. ``selectors.provisioning_stalled`` tells such a hospital
from one still being made, ``integrity check`` and ``hospitals list`` name it, and ``repair``
finishes it, its admin included, or removes it. Until then it serves nothing: the middleware and
``hospital_context`` refuse every hospital that is not active or archived.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.apps import apps
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from hospitium.accounts.models import Membership, Role, User, normalize_email
from hospitium.core.currencies import default_currency, validate_currency
from hospitium.core.errors import ValidationFailed
from hospitium.core.processes import pause_for_tests
from hospitium.tenancy import stores
from hospitium.tenancy.context import HospitalRef, hospital_context
from hospitium.tenancy.errors import (
    DomainTaken,
    HospitalCodeTaken,
    InvalidDomain,
    InvalidHospitalCode,
    ProvisioningFailed,
    RepairNotNeeded,
)
from hospitium.tenancy.fingerprint import hospital_fingerprint
from hospitium.tenancy.integrity import unguarded_platform_delete
from hospitium.tenancy.models import Domain, Hospital, ProvisioningAttempt
from hospitium.tenancy.selectors import (
    STALE_PROVISIONING,
    forget_cached_hospitals,
    hospital_get,
    provisioning_stalled,
)

logger = logging.getLogger(__name__)

CODE_PATTERN = re.compile(r"[A-Z0-9_]{2,32}")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")

__all__ = ["STALE_PROVISIONING", "hospital_archive", "hospital_create", "hospital_repair"]


@dataclass
class NewHospital:
    """Validated input for provisioning."""

    code: str
    name: str
    hosts: list[str]
    admin_email: str | None
    admin_password: str | None
    #: The ISO 4217 code the hospital invoices in.
    currency: str = ""


@dataclass
class ProvisionResult:
    hospital: Hospital
    admin: User | None = None
    #: Set only when provisioning generated the admin's password: show it once, then forget it.
    generated_password: str | None = None
    admin_created: bool = False


@dataclass
class _Attempt:
    """What one provisioning attempt has made so far, so that a failure can remove exactly it."""

    hospital_id: int | None = None
    store: HospitalRef | None = None
    user_id: int | None = None
    steps: list[str] = field(default_factory=list)


def _checkpoint(step: str) -> None:
    """A named point between provisioning steps. Tests replace it to inject a failure, or (in a
    subprocess under test settings) pause there to be killed: HOSPITIUM_TEST_PAUSE_AT=before_<step>.
    """
    pause_for_tests(f"before_{step}")


def validate_code(code: str) -> str:
    """Return the code unchanged if it is 2–32 characters of A–Z, 0–9 and _; else raise."""
    if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
        raise InvalidHospitalCode(
            f"Hospital code {code!r} is not valid: use 2–32 characters of A–Z, 0–9 and _.",
            fields={"code": ["Use 2–32 characters of A–Z, 0–9 and _ (upper case)."]},
        )
    return code


def normalize_host(host: str) -> str:
    """Lower-case a host name and check its shape (labels of a–z, 0–9 and -; no port)."""
    candidate = host.strip().lower().rstrip(".")
    labels = candidate.split(".")
    if (
        not candidate
        or len(candidate) > 253
        or not all(_LABEL.fullmatch(label) for label in labels)
    ):
        raise InvalidDomain(
            f"{host!r} is not a valid host name.",
            fields={"domains": [f"{host!r} is not a valid host name (no scheme, port or path)."]},
        )
    return candidate


def validate_new_hospital(
    *,
    code: str,
    name: str,
    domains: Sequence[str],
    admin_email: str | None = None,
    admin_password: str | None = None,
    currency: str | None = None,
) -> NewHospital:
    """Check everything before anything is created. Raises a validation or conflict error."""
    validate_code(code)
    currency = default_currency() if currency is None else validate_currency(currency)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationFailed(
            "A hospital needs a name of 1–200 characters.",
            fields={"name": ["Give the hospital a name of 1–200 characters."]},
        )
    if not domains:
        raise InvalidDomain(
            "A hospital needs at least one domain.",
            fields={"domains": ["Give at least one host name."]},
        )
    hosts: list[str] = []
    for raw in domains:
        host = normalize_host(raw)
        if host in hosts:
            raise InvalidDomain(
                f"Domain {host} is given twice.", fields={"domains": [f"{host} is given twice."]}
            )
        hosts.append(host)
    taken = Hospital.objects.filter(code=code).first()
    if taken is not None:
        unfinished = (
            f" by a hospital whose provisioning did not finish: run `hospitium hospitals repair "
            f"{code}` to finish it, or add --clean to remove it"
            if taken.status in (Hospital.Status.PROVISIONING, Hospital.Status.FAILED)
            else ""
        )
        raise HospitalCodeTaken(
            f"Hospital code {code} is already taken{unfinished}.",
            fields={"code": ["Already taken."]},
        )
    holders = dict(
        Domain.objects.filter(host__in=hosts).values_list("host", "hospital__code").order_by("host")
    )
    if holders:
        host, holder = next(iter(holders.items()))
        raise DomainTaken(
            f"Domain {host} is already used by hospital {holder}.",
            fields={
                "domains": [f"{h} is already used by hospital {c}." for h, c in holders.items()]
            },
        )
    email: str | None = None
    if admin_email is not None:
        email = normalize_email(admin_email)
        try:
            validate_email(email)
        except DjangoValidationError:
            raise ValidationFailed(
                f"{admin_email!r} is not a valid email address.",
                fields={"admin_email": ["Enter a valid email address."]},
            ) from None
        if admin_password is not None and not User.objects.filter(email=email).exists():
            try:
                validate_password(admin_password, User(email=email))
            except DjangoValidationError as exc:
                raise ValidationFailed(
                    "The admin password is too weak: " + " ".join(exc.messages),
                    fields={"admin_password": list(exc.messages)},
                ) from None
    elif admin_password is not None:
        raise ValidationFailed(
            "An admin password was given without an admin email.",
            fields={"admin_email": ["Required when a password is given."]},
        )
    return NewHospital(code, name, hosts, email, admin_password, currency=currency)


def hospital_create(
    *,
    code: str,
    name: str,
    domains: Sequence[str],
    admin_email: str | None = None,
    admin_password: str | None = None,
    currency: str | None = None,
) -> ProvisionResult:
    """Create a hospital, ready to use, or nothing at all. It invoices in ``currency`` (an
    ISO 4217 code; HOSPITIUM_DEFAULT_CURRENCY when None).

    Raises InvalidHospitalCode, InvalidDomain, ValidationFailed, HospitalCodeTaken or DomainTaken
    (nothing created), or ProvisioningFailed (everything this attempt made has been removed, or,
    if even that failed, the hospital is marked failed for ``repair``).
    """
    new = validate_new_hospital(
        code=code,
        name=name,
        domains=domains,
        admin_email=admin_email,
        admin_password=admin_password,
        currency=currency,
    )
    attempt = _Attempt()
    try:
        _checkpoint("record")
        hospital = _record(new, attempt)
        _checkpoint("store")
        _clone_store(hospital, attempt)
        _checkpoint("settings")
        _set_up_store(hospital, new, attempt)
        _checkpoint("admin")
        result = ProvisionResult(hospital=hospital)
        with transaction.atomic(durable=True):
            if new.admin_email:
                _add_admin(new, hospital, result, attempt)
            _checkpoint("activate")
            hospital.status = Hospital.Status.ACTIVE
            hospital.migration_fingerprint = hospital_fingerprint()
            hospital.save(update_fields=["status", "migration_fingerprint", "updated_at"])
            ProvisioningAttempt.objects.filter(hospital=hospital).delete()
    except BaseException as exc:
        _undo(attempt, exc)
        if isinstance(exc, HospitalCodeTaken | DomainTaken | ProvisioningFailed):
            raise
        raise ProvisioningFailed(
            f"Hospital {new.code} could not be created (failed while {_doing(attempt)}); "
            "nothing was left behind."
        ) from exc
    forget_cached_hospitals()
    logger.info("provisioned hospital %s", hospital.code)
    return result


def _doing(attempt: _Attempt) -> str:
    return {
        0: "recording the hospital",
        1: "creating its store",
        2: "writing its settings",
        3: "adding the admin and activating",
    }.get(len(attempt.steps), "provisioning")


def _record(new: NewHospital, attempt: _Attempt) -> Hospital:
    try:
        with transaction.atomic(durable=True):
            server, store_name = stores.placement_for_new(new.code)
            hospital = Hospital.objects.create(
                code=new.code,
                name=new.name,
                status=Hospital.Status.PROVISIONING,
                server=server,
                store_name=store_name,
            )
            Domain.objects.bulk_create(
                Domain(hospital=hospital, host=host, is_primary=index == 0)
                for index, host in enumerate(new.hosts)
            )
            ProvisioningAttempt.objects.create(
                hospital=hospital,
                admin_email=new.admin_email or "",
                currency=new.currency,
                host=socket.gethostname(),
                pid=os.getpid(),
                step="recorded",
                started_at=timezone.now(),
            )
    except IntegrityError as exc:
        # Another process won a race between validation and insert: say who holds what.
        if Hospital.objects.filter(code=new.code).exists():
            raise HospitalCodeTaken(f"Hospital code {new.code} is already taken.") from exc
        holder = Domain.objects.filter(host__in=new.hosts).select_related("hospital").first()
        if holder is not None:
            raise DomainTaken(
                f"Domain {holder.host} is already used by hospital {holder.hospital.code}."
            ) from exc
        raise
    attempt.hospital_id = hospital.pk
    attempt.steps.append("record")
    return hospital


def _clone_store(hospital: Hospital, attempt: _Attempt) -> None:
    ref = hospital.as_ref()
    attempt.store = ref
    try:
        stores.store_for(ref).create(ref)
    except stores.StoreExists:
        attempt.store = None  # not ours: never remove it
        raise ProvisioningFailed(
            f"A leftover store for {hospital.code} exists with no hospital recorded for it "
            f"({hospital.store_name}); move it away, then try again."
        ) from None
    attempt.steps.append("store")
    ProvisioningAttempt.objects.filter(hospital_id=hospital.pk).update(step="store created")


def _set_up_store(hospital: Hospital, new: NewHospital, attempt: _Attempt) -> None:
    """Let each hospital app write the new hospital's own settings into its store.

    A hospital app's config may define ``setup_new_hospital(new)``; it runs in the hospital's
    context. This keeps provisioning below the hospital apps (no import of them) while their
    settings live in the hospital's store, beside the data they govern.
    """
    _write_settings(hospital, new)
    attempt.steps.append("settings")
    ProvisioningAttempt.objects.filter(hospital_id=hospital.pk).update(step="settings written")


def _write_settings(hospital: Hospital, new: NewHospital) -> None:
    # For maintenance: the hospital is not active yet, and nothing else may enter it.
    with hospital_context(hospital.as_ref(), maintenance=True):
        for config in apps.get_app_configs():
            setup = getattr(config, "setup_new_hospital", None)
            if setup is not None and config.name in settings.HOSPITAL_APPS:
                setup(new)


def _add_admin(
    new: NewHospital, hospital: Hospital, result: ProvisionResult, attempt: _Attempt
) -> None:
    assert new.admin_email is not None
    user = User.objects.filter(email=new.admin_email).first()
    if user is None:
        password = new.admin_password or secrets.token_urlsafe(12)
        user = User.objects.create_user(new.admin_email, password)
        attempt.user_id = user.pk
        result.admin_created = True
        if new.admin_password is None:
            result.generated_password = password
    Membership.objects.create(user=user, hospital=hospital, role=Role.ADMIN)
    result.admin = user
    attempt.steps.append("admin")


def _remove_store(ref: HospitalRef) -> None:
    stores.close_hospital_connections(ref.code)
    stores.store_for(ref).remove(ref)


def _undo(attempt: _Attempt, cause: BaseException) -> None:
    """Remove what the attempt created; if that fails, mark the hospital failed."""
    try:
        if attempt.store is not None:
            _remove_store(attempt.store)
        with transaction.atomic(), unguarded_platform_delete():
            if attempt.user_id is not None:
                User.objects.filter(pk=attempt.user_id).delete()
            if attempt.hospital_id is not None:
                Hospital.objects.filter(pk=attempt.hospital_id).delete()
    except Exception as undo_error:
        logger.exception("could not clean up a failed provisioning attempt")
        if attempt.hospital_id is not None:
            Hospital.objects.filter(pk=attempt.hospital_id).update(
                status=Hospital.Status.FAILED,
                status_reason=f"Provisioning failed ({cause!r}); clean-up failed ({undo_error!r}).",
            )
    forget_cached_hospitals()


def hospital_archive(*, code: str) -> Hospital:
    """Make an active hospital read-only. Raises HospitalNotFound or RepairNotNeeded."""
    hospital = hospital_get(code)
    if hospital.status != Hospital.Status.ACTIVE:
        raise RepairNotNeeded(
            f"Hospital {hospital.code} is {hospital.status}; "
            "only an active hospital can be archived."
        )
    hospital.status = Hospital.Status.ARCHIVED
    hospital.archived_at = timezone.now()
    hospital.save(update_fields=["status", "archived_at", "updated_at"])
    stores.close_hospital_connections(hospital.code)
    forget_cached_hospitals()
    logger.info("archived hospital %s", hospital.code)
    return hospital


@dataclass
class RepairResult:
    code: str
    action: str  # "finished" or "removed"
    details: list[str] = field(default_factory=list)
    #: The first admin, when repair added it (the email recorded when provisioning started).
    admin: User | None = None
    admin_created: bool = False
    #: Set only when repair generated the new admin's password: show it once, then forget it.
    generated_password: str | None = None


def hospital_repair(
    *,
    code: str,
    clean: bool = False,
    force: bool = False,
    admin_password: str | None = None,
) -> RepairResult:
    """Finish (default) or remove (``clean``) a hospital whose provisioning did not complete.

    Finishing creates or migrates the store, adds the first admin whose email provisioning
    recorded (a new user gets ``admin_password``, or a generated one returned once in the
    result; an existing user keeps theirs) and marks the hospital active.

    Raises HospitalNotFound; RepairNotNeeded for a hospital that is active or archived, or that
    another process may still be provisioning or repairing (``force`` overrides the first);
    ValidationFailed for a weak ``admin_password``.
    """
    hospital = hospital_get(code)
    if hospital.status not in (Hospital.Status.FAILED, Hospital.Status.PROVISIONING):
        raise RepairNotNeeded(f"Hospital {hospital.code} is {hospital.status}; nothing to repair.")
    attempt = ProvisioningAttempt.objects.filter(hospital=hospital).first()
    if (
        hospital.status == Hospital.Status.PROVISIONING
        and not force
        and provisioning_stalled(hospital, attempt) is None
    ):
        who = f" (process {attempt.pid} on {attempt.host})" if attempt is not None else ""
        raise RepairNotNeeded(
            f"Hospital {hospital.code} started provisioning moments ago and is still in "
            f"progress{who}; try again when that process has stopped (or in two minutes), "
            "or pass --force."
        )
    admin_email = attempt.admin_email if attempt is not None else ""
    if admin_password is not None and not clean and admin_email:
        _check_password(admin_email, admin_password)
    attempt = _take_over(hospital, attempt)
    try:
        return _repair(hospital, attempt, admin_password, clean=clean)
    except BaseException:
        # Let the next repair go ahead at once rather than wait for this process to end.
        ProvisioningAttempt.objects.filter(pk=attempt.pk).update(pid=0)
        raise


def _repair(
    hospital: Hospital,
    attempt: ProvisioningAttempt,
    admin_password: str | None,
    *,
    clean: bool,
) -> RepairResult:
    result = RepairResult(code=hospital.code, action="removed" if clean else "finished")
    ref = hospital.as_ref()
    if clean:
        _remove_store(ref)
        hospital.delete()
        result.details.append("removed the store, domains, memberships and the hospital row")
        forget_cached_hospitals()
        return result

    store = stores.store_for(ref)
    if not store.exists(ref):
        store.remove(ref)  # whatever a crash left half-made (an SQLite .partial file)
        store.create(ref)
        result.details.append("created the store from the template")
    try:
        applied = store.migrate(ref)
    finally:
        stores.close_hospital_connections(hospital.code)
    if applied:
        result.details.append(f"applied {len(applied)} migrations to the store")
    domains = list(hospital.domains.all())
    currency = attempt.currency or default_currency()
    # The hospital apps' settings steps are idempotent: written again, they change nothing.
    _write_settings(
        hospital,
        NewHospital(
            code=hospital.code,
            name=hospital.name,
            hosts=[domain.host for domain in domains],
            admin_email=attempt.admin_email or None,
            admin_password=None,
            currency=currency,
        ),
    )
    stores.close_hospital_connections(hospital.code)
    result.details.append(f"wrote its settings (currency {currency})")
    admin_email = attempt.admin_email
    with transaction.atomic(durable=True):
        if domains and not any(domain.is_primary for domain in domains):
            domains[0].is_primary = True
            domains[0].save(update_fields=["is_primary"])
            result.details.append(f"made {domains[0].host} the primary domain")
        if admin_email:
            _repair_admin(admin_email, admin_password, hospital, result)
        hospital.status = Hospital.Status.ACTIVE
        hospital.status_reason = ""
        hospital.migration_fingerprint = hospital_fingerprint()
        hospital.save(
            update_fields=["status", "status_reason", "migration_fingerprint", "updated_at"]
        )
        ProvisioningAttempt.objects.filter(hospital=hospital).delete()
    result.details.append("marked the hospital active")
    forget_cached_hospitals()
    return result


def _take_over(hospital: Hospital, attempt: ProvisioningAttempt | None) -> ProvisioningAttempt:
    """Record this process as the one at work on the hospital, so that a second repair started
    meanwhile is refused (it sees a live process), and a repair killed in its turn is found.

    A compare-and-set on the previous owner: of two repairs that read the same attempt, one
    wins. Raises RepairNotNeeded for the other.
    """
    mine = {"host": socket.gethostname(), "pid": os.getpid(), "started_at": timezone.now()}
    if attempt is None:  # a hospital recorded before attempts were kept
        attempt, created = ProvisioningAttempt.objects.get_or_create(
            hospital=hospital, defaults={**mine, "step": "recorded"}
        )
        if created:
            return attempt
    taken = ProvisioningAttempt.objects.filter(
        pk=attempt.pk, host=attempt.host, pid=attempt.pid, started_at=attempt.started_at
    ).update(**mine)
    if not taken:
        raise RepairNotNeeded(
            f"Another process has just started repairing hospital {hospital.code}."
        )
    attempt.refresh_from_db()
    return attempt


def _check_password(email: str, password: str) -> None:
    if User.objects.filter(email=email).exists():
        return  # an existing user keeps their password; nothing to check
    try:
        validate_password(password, User(email=email))
    except DjangoValidationError as exc:
        raise ValidationFailed(
            "The admin password is too weak: " + " ".join(exc.messages),
            fields={"admin_password": list(exc.messages)},
        ) from None


def _repair_admin(
    email: str, password: str | None, hospital: Hospital, result: RepairResult
) -> None:
    user = User.objects.filter(email=email).first()
    if user is None:
        chosen = password or secrets.token_urlsafe(12)
        user = User.objects.create_user(email, chosen)
        result.admin_created = True
        if password is None:
            result.generated_password = chosen
    _membership, added = Membership.objects.get_or_create(
        user=user, hospital=hospital, role=Role.ADMIN
    )
    result.admin = user
    if added:
        result.details.append(f"made {email} its admin")
