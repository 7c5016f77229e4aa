"""The current hospital, as a context variable: threads, asyncio tasks and Huey tasks each have
their own, and ``hospital_context`` nests and restores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from hospitium.tenancy.errors import NoHospitalSelected

if TYPE_CHECKING:
    from hospitium.tenancy.models import Hospital


@dataclass(frozen=True, slots=True)
class HospitalRef:
    """What routing needs to know about a hospital; immutable, so safe to cache and share."""

    id: int
    code: str
    name: str
    status: str
    server: str
    store_name: str
    #: Read-only for the time being (a move or a restore is under way).
    locked: bool = False
    #: Set only by platform maintenance (migrations, integrity repairs): writes to an archived
    #: hospital are allowed.
    maintenance: bool = False

    @property
    def read_only(self) -> bool:
        return (self.status == "archived" or self.locked) and not self.maintenance

    def for_maintenance(self) -> HospitalRef:
        return replace(self, maintenance=True)


_current: ContextVar[HospitalRef | None] = ContextVar("hospitium_hospital", default=None)


def current_hospital() -> HospitalRef:
    """Return the bound hospital; raise NoHospitalSelected when none is bound."""
    ref = _current.get()
    if ref is None:
        raise NoHospitalSelected()
    return ref


def current_hospital_or_none() -> HospitalRef | None:
    return _current.get()


def as_ref(hospital: Hospital | HospitalRef | str) -> HospitalRef:
    """Accept a Hospital row, a HospitalRef or a code, and return a HospitalRef.

    Raises HospitalNotFound for an unknown code.
    """
    if isinstance(hospital, HospitalRef):
        return hospital
    if isinstance(hospital, str):
        from hospitium.tenancy.selectors import hospital_ref_by_code

        return hospital_ref_by_code(hospital)
    return hospital.as_ref()


@contextmanager
def hospital_context(
    hospital: Hospital | HospitalRef | str, *, maintenance: bool = False
) -> Iterator[HospitalRef]:
    """Bind a hospital for the duration of the block; the previous binding comes back after."""
    ref = as_ref(hospital)
    if maintenance:
        ref = ref.for_maintenance()
    token = _current.set(ref)
    try:
        yield ref
    finally:
        _current.reset(token)


@contextmanager
def no_hospital() -> Iterator[None]:
    """Unbind any hospital for the block (platform-only work inside a hospital request)."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)
