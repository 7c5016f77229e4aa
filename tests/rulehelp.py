"""Helpers for the tests of rules held twice: by a service (first, with a clear error) and by the
database (an IntegrityError naming the rule, on both stores)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connections, models, transaction

from hospitium.core.db import broken_rule
from hospitium.core.errors import HospitiumError
from hospitium.tenancy import stores
from hospitium.tenancy.router import current_alias
from tests import storehelp


def refused_by_database(rule: str, write: Callable[[], Any]) -> None:
    """``write``, straight through the ORM, is refused by the database, naming ``rule`` (at the
    statement or at commit: the block is the hospital store's outermost transaction)."""
    with (
        pytest.raises(IntegrityError) as caught,
        transaction.atomic(using=current_alias(write=True)),
    ):
        write()
    assert broken_rule(caught.value) == rule, str(caught.value)


def error_of(call: Callable[[], Any]) -> HospitiumError:
    with pytest.raises(HospitiumError) as caught:
        call()
    return caught.value


def same_error_from_the_database(
    monkeypatch: pytest.MonkeyPatch,
    call: Callable[[], Any],
    *,
    skip: list[tuple[Any, str]],
    rule: str,
    replace: list[tuple[Any, str, Callable[..., Any]]] = (),  # type: ignore[assignment]
) -> HospitiumError:
    """The service's error for ``call``, then the same call with the service's own check(s)
    ``skip`` (module, name) replaced by no-ops (or as ``replace`` says), so the database refuses
    the write: the user gets
    the very same error (class, code, message, fields), caused by the database naming ``rule``.
    """
    expected = error_of(call)
    with monkeypatch.context() as patched:
        for module, name in skip:
            patched.setattr(module, name, lambda *args, **kwargs: None)
        for module, name, replacement in replace:
            patched.setattr(module, name, replacement)
        got = error_of(call)
    assert isinstance(got.__cause__, IntegrityError), "the database did not refuse it"
    assert broken_rule(got.__cause__) == rule, str(got.__cause__)
    assert (type(got), got.code, got.message, got.fields) == (
        type(expected),
        expected.code,
        expected.message,
        expected.fields,
    )
    return got


def sqlite_trigger_plan(trigger: str, row: models.Model) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN of a trigger's statement, with each ``NEW."column"`` bound to
    ``row``'s stored value: what the trigger does for a write of that row."""
    connection = connections[current_alias(write=False)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [trigger]
        )
        (sql,) = cursor.fetchone()
        body = sql[sql.index(" BEGIN ") + 7 : sql.rindex("END")].strip().rstrip(";")
        body = re.sub(r"RAISE\([^)]*\)", "1", body)  # RAISE is allowed only in a trigger
        columns = {field.column: field for field in row._meta.concrete_fields}
        params: list[Any] = []

        def bind(match: re.Match[str]) -> str:
            value = getattr(row, columns[match.group(1)].attname)
            if isinstance(value, uuid.UUID):
                value = value.hex
            elif isinstance(value, dt.datetime):
                value = connection.ops.adapt_datetimefield_value(value)
            params.append(value)
            return "%s"

        cursor.execute("EXPLAIN QUERY PLAN " + re.sub(r'NEW\."(\w+)"', bind, body), params)
        return [str(step[-1]) for step in cursor.fetchall()]


def reopen_hospital_connections() -> None:
    """Hospital connections opened from now on see the current settings.TIME_ZONE (PostgreSQL's
    pool configures a connection once, when it is made; call again before the test ends)."""
    alias = current_alias(write=True)
    stores.close_hospital_connections()
    if storehelp.on_postgres():
        connections[alias].close_pool()
