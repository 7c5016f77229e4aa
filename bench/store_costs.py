"""Where a routed request's time goes: the unit costs behind bench.routing (no target).

    .venv/bin/python -m bench.store_costs [--iterations 2000]

1. The two per-request handlers (tenancy stores' on_request_started/finished) against the number
   of hospital stores the thread has open: every request pays this, routed or not.
2. One Patient read by primary key in a hospital whose store is already open, against one whose
   store must be opened (evicting the least recently used one, as beyond HOSPITIUM_MAX_OPEN_STORES).
3. One platform row read with the platform connection kept open, against opening and closing it
   around the read (what CONN_MAX_AGE=0, the shipped setting, does on every request).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench import _common


def _per_call_us(func: Callable[[], Any], iterations: int, repeats: int = 5) -> float:
    """Median over ``repeats`` of the mean time of one call, in microseconds."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(iterations):
            func()
        samples.append((time.perf_counter() - started) / iterations * 1e6)
    return statistics.median(samples)


def run(iterations: int = 2000) -> dict[str, Any]:
    with _common.django_home("store-costs"):
        from django.conf import settings
        from django.db import connections

        from hospitium.patients.models import Patient
        from hospitium.tenancy import stores
        from hospitium.tenancy.context import hospital_context
        from hospitium.tenancy.migration import ensure_template
        from hospitium.tenancy.models import Hospital
        from hospitium.tenancy.selectors import hospital_ref_by_code

        patient_id = _common.seed_template(ensure_template())
        count = max(2 * iterations, 1000)
        codes = _common.provision(count)
        refs = [hospital_ref_by_code(code) for code in codes]
        limit: int = settings.HOSPITIUM_MAX_OPEN_STORES

        def read(ref: Any) -> None:
            with hospital_context(ref):
                Patient.objects.get(pk=patient_id)

        def handlers() -> None:
            stores.on_request_started()
            stores.on_request_finished()

        handler_us = {}
        for open_count in (0, 1, 16, limit):
            stores.close_hospital_connections()
            for ref in refs[:open_count]:
                read(ref)
            assert len(stores.open_aliases()) == open_count
            handler_us[open_count] = _per_call_us(handlers, iterations)

        stores.close_hospital_connections()
        hot = refs[:10]
        for ref in hot:
            read(ref)
        position = [0]

        def read_hot() -> None:
            read(hot[position[0] % 10])
            position[0] += 1

        hot_us = _per_call_us(read_hot, iterations)
        # Cold: every read is to a hospital not open in this thread; after the first
        # HOSPITIUM_MAX_OPEN_STORES, each also closes the least recently used store.
        for ref in refs[:limit]:
            read(ref)
        cold = iter(refs[limit:])

        def read_cold() -> None:
            read(next(cold))

        cold_us = _per_call_us(read_cold, (count - limit) // 5, repeats=5)

        pk = Hospital.objects.values_list("pk", flat=True).first()
        assert pk is not None
        default = connections["default"]

        def platform_persistent() -> None:
            Hospital.objects.get(pk=pk)

        def platform_reopened() -> None:
            Hospital.objects.get(pk=pk)
            default.close()

        persistent_us = _per_call_us(platform_persistent, iterations)
        reopened_us = _per_call_us(platform_reopened, iterations)
    return {
        "handlers_us_by_open_stores": handler_us,
        "hospital_read_open_us": hot_us,
        "hospital_read_opening_us": cold_us,
        "platform_read_persistent_us": persistent_us,
        "platform_read_reopened_us": reopened_us,
    }


def report(result: dict[str, Any]) -> None:
    print("unit costs behind a routed request")
    for open_count, us in result["handlers_us_by_open_stores"].items():
        print(f"  request handlers with {open_count:>3} stores open: {us:7.1f} µs per request")
    print(f"  Patient by pk, store open:             {result['hospital_read_open_us']:7.1f} µs")
    print(f"  Patient by pk, store opened (+ evict): {result['hospital_read_opening_us']:7.1f} µs")
    print(
        f"  platform row, connection kept:         {result['platform_read_persistent_us']:7.1f} µs"
    )
    print(
        f"  platform row, connection re-opened:    {result['platform_read_reopened_us']:7.1f} µs",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    result = run(args.iterations)
    report(result)
    _common.emit("store_costs", result)


if __name__ == "__main__":
    main()
