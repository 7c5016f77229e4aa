"""Running several clients at once against one hospital: each in a thread of its own, with its
own connections, all released together by a barrier so that they really contend."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from django.db import connections

from hospitium.tenancy import stores
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital


def run_together(
    hospital: Hospital | None, clients: int, work: Callable[[int], Any], *, timeout: float = 60
) -> list[Any]:
    """Run ``work(i)`` for i in 0..clients-1, each in its own thread (in ``hospital``'s context,
    or in none: API clients, whose requests bind it), starting together. Returns what each
    returned, or the exception it raised, in order."""
    barrier = threading.Barrier(clients)
    outcomes: list[Any] = [None] * clients

    def client(index: int) -> None:
        try:
            with hospital_context(hospital) if hospital else contextlib.nullcontext():
                barrier.wait(timeout=timeout)
                outcomes[index] = work(index)
        except BaseException as exc:  # reported to the test, which decides
            outcomes[index] = exc
        finally:
            stores.close_hospital_connections()
            connections.close_all()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a client did not finish in time"
    return outcomes
