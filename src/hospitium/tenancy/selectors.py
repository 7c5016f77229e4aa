"""Reads of hospitals and domains, with a per-process cache for request routing that the
platform store's routing generation keeps fresh."""

from __future__ import annotations

import socket
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from hospitium.core.processes import pid_alive
from hospitium.tenancy.context import HospitalRef
from hospitium.tenancy.errors import HospitalNotFound
from hospitium.tenancy.models import Domain, Hospital, ProvisioningAttempt, RoutingGeneration

#: A hospital still provisioning after this long is presumed abandoned, even when the process
#: that provisions it cannot be checked (it ran on another machine). A normal provisioning takes
#: well under a second; building a new template after a deploy, a few seconds.
STALE_PROVISIONING = timedelta(minutes=2)

_MISSING = HospitalRef(id=0, code="", name="", status="", server="", store_name="")

#: Bound on the routing cache; past it, expired entries go first, then everything.
MAX_CACHED = 20_000
#: How long an entry may live at most, however quiet the routing generation: a safety net only
#: (the generation's triggers are what make changes known), and a bound on what a hospital that
#: no request asks for any more keeps in memory.
MAX_AGE_SECONDS = 300.0

# The routing cache: (kind, key) → (expires at, ref), read on every request. A plain dict rather
# than cachetools.TTLCache (which this used before): TTLCache is not thread-safe, so each lookup
# needed a lock (~2 µs on the hot path of every request, and contention between a worker's
# threads), while a dict's get and set are atomic under the GIL. An entry read a moment after
# another thread replaced it is no staler than the check interval already allows.
_entries: dict[tuple[str, str], tuple[float, HospitalRef]] = {}


class _Generation:
    """The routing generation (tenancy.models.RoutingGeneration) as this process last read it.

    The platform store raises the number on every write to a hospital's routing facts or a
    domain (triggers, so no writer can forget). Every HOSPITIUM_TENANT_CACHE_SECONDS the first
    lookup reads it again — one small query per process, however many hospitals are cached —
    and empties the cache if it moved. So a change reaches every process within that interval,
    as the per-entry TTL guaranteed before, while an unchanged hospital is read from the
    platform store once per MAX_AGE_SECONDS instead of once per TTL. Plain attributes: two
    threads that both re-read at the boundary only cost one query more.
    """

    value: int | None = None
    next_check = 0.0


def forget_cached_hospitals() -> None:
    """Drop what this process cached about hospitals (after a status or domain change)."""
    _entries.clear()
    _Generation.next_check = 0.0


def _revalidate(now: float, interval: float) -> None:
    current = RoutingGeneration.objects.values_list("value", flat=True).first()
    if current is None or current != _Generation.value:
        # Moved (or unreadable: then nothing is kept that the number cannot vouch for).
        _entries.clear()
    _Generation.value = current
    _Generation.next_check = now + interval


def _cached(kind: str, key: str) -> HospitalRef | None:
    interval = settings.HOSPITIUM_TENANT_CACHE_SECONDS
    if interval <= 0:
        return None
    now = time.monotonic()
    if now >= _Generation.next_check:
        _revalidate(now, interval)
    hit = _entries.get((kind, key))
    if hit is None or hit[0] <= now:
        return None
    return hit[1]


def _remember(kind: str, key: str, ref: HospitalRef) -> None:
    if settings.HOSPITIUM_TENANT_CACHE_SECONDS <= 0:
        return
    if len(_entries) >= MAX_CACHED:
        _prune()
    _entries[(kind, key)] = (time.monotonic() + MAX_AGE_SECONDS, ref)


def _prune() -> None:
    now = time.monotonic()
    # list() copies the items in one C call, under the GIL: safe while other threads write.
    for key, (expires, _ref) in list(_entries.items()):
        if expires <= now:
            _entries.pop(key, None)
    if len(_entries) >= MAX_CACHED:
        _entries.clear()


def hospital_ref_by_code(code: str, *, cached: bool = False) -> HospitalRef:
    """The hospital with this code (case-insensitive); raises HospitalNotFound."""
    key = code.strip().upper()
    ref = _cached("code", key) if cached else None
    if ref is None:
        hospital = Hospital.objects.filter(code=key).first()
        ref = hospital.as_ref() if hospital else _MISSING
        if cached:
            _remember("code", key, ref)
    if ref is _MISSING or not ref.code:
        raise HospitalNotFound(f"There is no hospital with code {key}.")
    return ref


def hospital_ref_by_host(host: str) -> HospitalRef | None:
    """The hospital a host name belongs to (cached briefly), or None for an unknown host."""
    key = host.lower()
    ref = _cached("host", key)
    if ref is None:
        domain = Domain.objects.select_related("hospital").filter(host=key).first()
        ref = domain.hospital.as_ref() if domain else _MISSING
        _remember("host", key, ref)
    return None if ref is _MISSING or not ref.code else ref


def hospital_get(code: str) -> Hospital:
    """The Hospital row with this code; raises HospitalNotFound."""
    hospital = Hospital.objects.filter(code=code.strip().upper()).first()
    if hospital is None:
        raise HospitalNotFound(f"There is no hospital with code {code.strip().upper()}.")
    return hospital


def hospital_list() -> list[Hospital]:
    return list(Hospital.objects.prefetch_related("domains").order_by("code"))


def is_member(*, user_id: int, hospital_id: int) -> bool:
    from hospitium.accounts.models import Membership

    return Membership.objects.filter(user_id=user_id, hospital_id=hospital_id).exists()


def bind_actor(*, user: object, hospital_id: int | None) -> frozenset[str]:
    """Record the signed-in user for logs and audit, and their roles in the hospital.

    Returns the roles (empty for a non-member; a platform superuser is one unless a
    break-glass access is open, see accounts.selectors.roles_of).
    """
    from hospitium.accounts.selectors import roles_of
    from hospitium.core.context import actor_var, roles_var, user_id_var

    pk = getattr(user, "pk", None)
    if pk is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    bound = actor_var.get()
    if hospital_id is not None and bound is not None and bound[0] == pk and roles_var.get():
        # Already bound for this request (the middleware, then the API's permission check):
        # the roles cannot have changed in between, so do not ask the platform store twice.
        return roles_var.get()
    user_id_var.set(str(pk))
    actor_var.set((pk, getattr(user, "email", "")))
    if hospital_id is None:
        return frozenset()
    roles = roles_of(
        user_id=pk, hospital_id=hospital_id, is_superuser=bool(getattr(user, "is_superuser", False))
    )
    roles_var.set(roles)
    return roles


def provisioning_stalled(
    hospital: Hospital,
    attempt: ProvisioningAttempt | None = None,
    *,
    now: datetime | None = None,
) -> str | None:
    """Why this hospital's provisioning will not finish by itself, or None when it is not
    provisioning or may still be at work.

    ``failed`` always needs repair. ``provisioning`` is stalled when the process doing it ran on
    this machine and is gone (found at once), or when it started more than STALE_PROVISIONING
    ago (a process on another machine, a pid reused since, or a hospital recorded before
    attempts were kept). ``attempt`` saves a query when the caller has it.
    """
    if hospital.status == Hospital.Status.FAILED:
        return hospital.status_reason or "provisioning failed"
    if hospital.status != Hospital.Status.PROVISIONING:
        return None
    if attempt is None:
        attempt = ProvisioningAttempt.objects.filter(hospital=hospital).first()
    now = now or timezone.now()
    started = attempt.started_at if attempt is not None else hospital.updated_at
    done = f" (last step done: {attempt.step})" if attempt is not None else ""
    if attempt is not None and attempt.host == socket.gethostname() and not pid_alive(attempt.pid):
        return f"the process provisioning it (pid {attempt.pid}) is gone{done}"
    if now - started >= STALE_PROVISIONING:
        minutes = int((now - started).total_seconds() // 60)
        return f"it has been provisioning for {minutes} minutes{done}"
    return None
