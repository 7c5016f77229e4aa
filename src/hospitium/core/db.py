"""The one place where transient database errors are retried, around a service's transaction."""

from __future__ import annotations

import functools
import logging
import random
import re
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import DatabaseError, InterfaceError, OperationalError, transaction

from hospitium.core.errors import DatabaseUnavailable

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: Fragments of driver messages and SQLSTATE codes that mean "try again", not "you are wrong".
_TRANSIENT_MESSAGES = (
    "database is locked",
    "database table is locked",
    "could not serialize access",
    "deadlock detected",
    "server closed the connection",
    "connection already closed",
    "terminating connection",
)
_TRANSIENT_SQLSTATES = {"40001", "40P01", "57P01", "08006", "08003", "08000"}


def is_transient(exc: BaseException) -> bool:
    """True when a database error is worth retrying (lock, serialization, lost connection)."""
    if not isinstance(exc, OperationalError | InterfaceError | DatabaseError):
        return False
    cause = exc.__cause__ or exc
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if sqlstate in _TRANSIENT_SQLSTATES:
        return True
    text = str(exc).lower()
    return any(fragment in text for fragment in _TRANSIENT_MESSAGES)


def atomic_service(
    using: Callable[[], str], *, attempts: int = 3, durable: bool = True
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the decorated service in its own transaction on the store ``using()`` names.

    Transient errors roll the whole transaction back and run it again, at most ``attempts``
    times, then raise DatabaseUnavailable. ``durable`` makes nesting inside another transaction
    an error, because a service that owns its transaction must not be folded into another.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            for attempt in range(1, attempts + 1):
                try:
                    with transaction.atomic(using=using(), durable=durable):
                        return func(*args, **kwargs)
                except (OperationalError, InterfaceError) as exc:
                    if not is_transient(exc):
                        raise
                    if attempt == attempts:
                        raise DatabaseUnavailable() from exc
                    logger.warning(
                        "transient database error in %s, attempt %d: %s",
                        func.__qualname__,
                        attempt,
                        exc,
                    )
                    time.sleep(0.05 * attempt + random.random() * 0.05)
            raise AssertionError("unreachable")  # pragma: no cover

        return run

    return decorate


def platform_alias() -> str:
    """The alias of the platform store."""
    return "default"


_RULE_MESSAGE = re.compile(r"constraint failed: (\w+)")


def broken_rule(exc: BaseException) -> str | None:
    """The name of the database rule an IntegrityError reports, on either store, or None.

    SQLite names a CHECK constraint or a rule trigger in its message (``CHECK constraint failed:
    <name>``; our triggers raise the same text on PostgreSQL); PostgreSQL names a constraint in
    the error's diagnostics. A foreign key refused by SQLite (which names none) is
    ``"FOREIGN KEY"``.
    """
    cause = exc.__cause__ or exc
    text = str(exc)
    found = _RULE_MESSAGE.search(text)
    if found:
        return found.group(1)
    diag = getattr(cause, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        return str(name)
    if "FOREIGN KEY constraint failed" in text:
        return "FOREIGN KEY"
    return None
