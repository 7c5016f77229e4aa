"""Background tasks: the tenancy's own upkeep (refilling a server's spare schemas), and the
decorator for tasks that work inside one hospital.

A hospital task never relies on a hospital bound in the process that enqueued it (the worker is
another process): the hospital code is its first argument, and the task binds it before running.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from huey.contrib.djhuey import db_task

from hospitium.tenancy.context import hospital_context

P = ParamSpec("P")
R = TypeVar("R")


def hospital_task(
    **task_options: Any,
) -> Callable[[Callable[P, R]], Any]:
    """Declare a Huey task whose first argument is a hospital code.

    Call it as ``task(hospital_code, *args)``; inside, the hospital is bound (maintenance writes
    are not allowed: an archived hospital stays read-only for tasks too). Raises HospitalNotFound
    in the worker when the hospital no longer exists.
    """

    def decorate(func: Callable[P, R]) -> Any:
        @functools.wraps(func)
        def run(hospital_code: str, *args: P.args, **kwargs: P.kwargs) -> R:
            with hospital_context(hospital_code):
                return func(*args, **kwargs)

        wrapped: Callable[Concatenate[str, P], R] = run
        return db_task(**task_options)(wrapped)

    return decorate


@db_task()
def refill_spare_schemas(server: str) -> int:
    """Top up one PostgreSQL server's pool of spare schemas (enqueued when provisioning took a
    spare); return how many were built. Raises what the refill raises (logged by Huey)."""
    from hospitium.tenancy.spares import spares_refill

    return sum(len(result.built) for result in spares_refill(server=server))
