"""The current hospital, as a context variable: threads, asyncio tasks and Huey tasks each have
their own, and ``hospital_context`` nests and restores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from hospitium.tenancy.errors import HospitalNotActive, NoHospitalSelected

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
    #: What routing works out from this ref, kept the first time it is needed (the store's
    #: alias, the server session its connection wants): the same on every request for the
    #: hospital, so worked out once per ref rather than per request or per statement. It cannot
    #: go stale: every field it is worked out from is immutable, and a hospital archived, locked,
    #: moved or deleted is read again into a new ref (or none) when the routing cache drops the
    #: old one (selectors.py). Not part of equality, hashing or repr.
    derived: dict[str, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    @property
    def read_only(self) -> bool:
        return (self.status == "archived" or self.locked) and not self.maintenance

    def for_maintenance(self) -> HospitalRef:
        return replace(self, maintenance=True)


#: Statuses of a hospital whose provisioning has not finished: its store may be missing, half
#: made or without an admin, so nothing but platform maintenance may use it.
UNFINISHED = frozenset({"provisioning", "failed"})

_current: ContextVar[HospitalRef | None] = ContextVar("hospitium_hospital", default=None)


def current_hospital() -> HospitalRef:
    """Return the bound hospital; raise NoHospitalSelected when none is bound."""
    ref = _current.get()
    if ref is None:
        raise NoHospitalSelected()
    return ref


#: The bound hospital, or None. The context variable's own ``get`` rather than a function
#: around it: it is asked several times a statement, and a Python call costs more than the get.
current_hospital_or_none: Callable[[], HospitalRef | None] = _current.get


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


class hospital_context:
    """Bind a hospital for the duration of the block; the previous binding comes back after.

    A class rather than a ``@contextmanager`` generator: every hospital request enters one,
    and the generator's machinery cost more than the binding itself. Single use, like those.

    Raises HospitalNotActive for a hospital whose provisioning has not finished, unless for
    ``maintenance``: the request middleware refuses those first, this holds for every other
    way in (tasks, commands, scripts).
    """

    __slots__ = ("_token", "ref")

    def __init__(
        self, hospital: Hospital | HospitalRef | str, *, maintenance: bool = False
    ) -> None:
        ref = hospital if isinstance(hospital, HospitalRef) else as_ref(hospital)
        if ref.status in UNFINISHED and not maintenance:
            raise HospitalNotActive(
                f"Hospital {ref.code} is not available: its provisioning has not finished."
            )
        self.ref = ref.for_maintenance() if maintenance else ref
        self._token: Token[HospitalRef | None] | None = None

    def __enter__(self) -> HospitalRef:
        self._token = _current.set(self.ref)
        return self.ref

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None


@contextmanager
def no_hospital() -> Iterator[None]:
    """Unbind any hospital for the block (platform-only work inside a hospital request)."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)
