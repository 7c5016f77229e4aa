"""Which PostgreSQL schema a server connection should be on, right now.

Kept apart from the backend so that the rule is in one small place: the schema of the hospital
bound to the context if it lives on this connection's server, or an explicit maintenance
override (template building, migrations, backups), or none at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache

from psycopg import sql

from hospitium.tenancy.context import HospitalRef, current_hospital_or_none

SERVER_PREFIX = "server:"
#: Extensions (btree_gist, …) live here, never tables.
EXTENSIONS_SCHEMA = "extensions"

_override: ContextVar[tuple[str, str] | None] = ContextVar("hospitium_schema", default=None)


def server_alias(server: str) -> str:
    return SERVER_PREFIX + server


@dataclass(frozen=True)
class Session:
    key: str
    statement: str
    params: tuple[str, ...]
    #: The hospital schema that must exist (checked in the same round trip), if any.
    required: str | None = None
    read_only: bool = False
    #: The same settings as one literal statement ending in "; ", to be sent in front of a query
    #: in the same round trip. It fails with SQLSTATE 3F000 when ``required`` does not exist
    #: (the cast to regnamespace), which aborts the rest of that round trip.
    inline: str = ""
    #: The end of ``key`` that says the read-only mode (``|ro`` or ``|rw``): a field, not a
    #: property, as the cursor compares it on every statement.
    mode: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", "|ro" if self.read_only else "|rw")


_STATEMENT = (
    "SELECT pg_catalog.set_config('search_path', %s, false), "
    "pg_catalog.set_config('default_transaction_read_only', %s, false)"
)
_CHECKED_STATEMENT = (
    _STATEMENT + ", EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s)"
)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return sql.Literal(value).as_string().strip()


@cache
def session_for(schema: str | None, read_only: bool, *, check: bool = False) -> Session:
    """Session settings for a schema; ``check`` also asks whether the schema exists."""
    path = f"{_quote(schema)}, {_quote(EXTENSIONS_SCHEMA)}" if schema else ""
    params: tuple[str, ...] = (path, "on" if read_only else "off")
    inline = (
        f"SELECT pg_catalog.set_config('search_path', {_literal(path)}, false), "
        f"pg_catalog.set_config('default_transaction_read_only', '{params[1]}', false)"
    )
    if check and schema:
        return Session(
            key=f"{schema}|{'ro' if read_only else 'rw'}",
            statement=_CHECKED_STATEMENT,
            params=(*params, schema),
            required=schema,
            read_only=read_only,
            inline=f"{inline}, {_literal(_quote(schema))}::pg_catalog.regnamespace; ",
        )
    return Session(
        key=f"{schema or ''}|{'ro' if read_only else 'rw'}",
        statement=_STATEMENT,
        params=params,
        read_only=read_only,
        inline=f"{inline}; ",
    )


#: No hospital: an empty search path.
_NO_SESSION = session_for(None, False)


def _hospital_session(ref: HospitalRef) -> tuple[str, Session]:
    """(server alias, session) of a hospital on PostgreSQL, ("", no session) on SQLite; kept on
    the ref (``HospitalRef.derived``)."""
    if ref.server:
        wanted = (server_alias(ref.server), session_for(ref.store_name, ref.read_only, check=True))
    else:
        wanted = ("", _NO_SESSION)
    ref.derived["session"] = wanted
    return wanted


def wanted_session(alias: str) -> Session:
    """The session settings a connection to ``alias`` needs for the current context."""
    override = _override.get()
    if override is not None and override[0] == alias:
        return session_for(override[1], False)
    ref = current_hospital_or_none()
    if ref is not None:
        # Asked three times a statement (the compiler twice, the cursor): worked out once a ref.
        server, session = ref.derived.get("session") or _hospital_session(ref)
        if server == alias:
            return session
    return _NO_SESSION


@contextmanager
def schema_context(alias: str, schema: str) -> Iterator[None]:
    """Point connections to ``alias`` at ``schema`` (writable) for the block: maintenance only."""
    token = _override.set((alias, schema))
    try:
        yield
    finally:
        _override.reset(token)
