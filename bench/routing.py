"""Requests per second of a hospital-routed view against the same view without routing.

    .venv/bin/python -m bench.routing [--hospitals 10000] [--rounds 5] [--round-requests 3000]
                                      [--profile SCENARIO] [--only SCENARIO ...]

In-process WSGI: hospitium.wsgi.application (Django's WSGIHandler: the whole MIDDLEWARE stack,
request signals included) is called directly with prebuilt environ dicts, the same way on both
sides, and every response is consumed and closed (which sends request_finished). Requests are
anonymous; settings.ROOT_URLCONF points at bench.urls. Routed: GET /bench/patient/<id>/ with
``X-Hospital: CODE`` on host 127.0.0.1 (or the hospital's own domain as Host), reading one
Patient by primary key in that hospital.
Unrouted, the same view: GET /bench/single/<id>/ on 127.0.0.1 with no header: the same query for
the same row, in one SQLite store listed statically in DATABASES (a copy of the hospitals'
template, with the hospital stores' connection settings) — what a single-hospital deployment of
the view would run. The platform view (GET /bench/hospital/<id>/, one platform row, no hospital)
was the baseline until 2026-11-22; it is still measured and printed. It differs from the routed
view in more than routing (another table, integer key, a lighter model), which is why it gave
way.

Each scenario interleaves rounds of the routed and the unrouted requests and compares the medians,
so that drift (other load on the machine) hits both sides alike; it also records each side's CPU
time (time.thread_time), which waiting for a CPU on a shared machine does not inflate. Target:
routed ≥ 0.9× the same view unrouted with requests spread over 100 hospitals. Settings as shipped,
except in the scenarios named after the setting they change (the values before commit e7bfaae,
for comparison). ``BENCH_GC_FREEZE=1`` calls gc.freeze() after each scenario's warm-up (an
experiment: does the collector walking the open stores' objects explain the spread cost?).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import _common

TARGET_RATIO = 0.9
PLATFORM_HOST = "127.0.0.1"


@dataclass
class Scenario:
    name: str
    hospitals: int
    #: random: uniform random choice; cyclic: round robin; distinct: a shuffled permutation,
    #: replayed, so consecutive requests never repeat a hospital within ``hospitals`` requests.
    order: str
    by_host: bool = False
    target: bool = False
    #: Comparison variants (the settings before commit e7bfaae): open and close the platform
    #: connection around every request (CONN_MAX_AGE=0 on "default"), or another bound on the
    #: open hospital stores per thread. Unset: the settings as shipped.
    platform_reopen: bool = False
    max_open: int | None = None


SCENARIOS = [
    Scenario("1 hospital", 1, "cyclic"),
    Scenario("100 random (target)", 100, "random", target=True),
    Scenario("100 random, Host header", 100, "random", by_host=True),
    Scenario("100 round-robin", 100, "cyclic"),
    Scenario("100 random, MAX_OPEN_STORES=64", 100, "random", max_open=64),
    Scenario("100 random, platform CONN_MAX_AGE=0", 100, "random", platform_reopen=True),
    Scenario("1 hospital, platform CONN_MAX_AGE=0", 1, "cyclic", platform_reopen=True),
    # The large fleets last: they leave thousands of objects behind (routing cache entries).
    Scenario("1,000 distinct", 1000, "distinct"),
    Scenario("10,000 distinct", 10000, "distinct"),
]


def _environ(path: str, host: str, hospital: str | None = None) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": host,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": host,
        "HTTP_ACCEPT": "application/json",
        "HTTP_USER_AGENT": "hospitium-bench",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if hospital is not None:
        env["HTTP_X_HOSPITAL"] = hospital
    return env


class Player:
    """Replays a list of environ dicts through a WSGI application, resuming where it stopped."""

    def __init__(self, app: Callable[..., Any], environs: list[dict[str, Any]]) -> None:
        self.app = app
        self.environs = environs
        self.position = 0
        self.failures = 0
        #: CPU seconds this thread spent in the last ``play`` (time.thread_time): on a machine
        #: shared with other work, time waiting for a CPU inflates the wall clock, not this.
        self.cpu = 0.0

    def play(self, count: int) -> float:
        app, environs, size = self.app, self.environs, len(self.environs)
        position = self.position
        status: list[str] = [""]

        def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = line
            return None

        failures = 0
        cpu_started = time.thread_time()
        started = time.perf_counter()
        for _ in range(count):
            env = environs[position].copy()
            env["wsgi.input"] = io.BytesIO()
            position += 1
            if position == size:
                position = 0
            response = app(env, start_response)
            for _chunk in response:
                pass
            response.close()
            if status[0] != "200 OK":
                failures += 1
        elapsed = time.perf_counter() - started
        self.cpu = time.thread_time() - cpu_started
        self.position = position
        self.failures += failures
        return elapsed


class Counters:
    """Hospital connections opened and routing-cache misses, counted on the slow paths only."""

    def __init__(self) -> None:
        self.opens = 0
        self.misses = 0

    def install(self) -> None:
        from django.db.backends.signals import connection_created

        from hospitium.tenancy import selectors, stores

        def on_open(sender: Any, connection: Any, **kwargs: Any) -> None:
            if stores.is_hospital_alias(connection.alias):
                self.opens += 1

        connection_created.connect(on_open, weak=False, dispatch_uid="bench-opens")
        remember = selectors._remember

        def counting_remember(kind: str, key: str, ref: Any) -> None:
            self.misses += 1
            remember(kind, key, ref)

        selectors._remember = counting_remember

    def reset(self) -> None:
        self.opens = self.misses = 0


def _set_platform_max_age(max_age: int | None) -> None:
    from django.db import connections

    default = connections["default"]
    default.settings_dict["CONN_MAX_AGE"] = max_age
    default.close()


def _profile_round(player: Player, count: int, label: str) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    player.play(count)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    # Our own code, by cumulative time: where routing and the request handlers spend it.
    stats.sort_stats("cumulative").print_stats(r"hospitium|tenancy", 40)
    print(f"--- profile: {label}, {count} requests, by own time ---")
    print(out.getvalue())


def run(
    hospitals: int = 10_000,
    rounds: int = 5,
    round_requests: int = 3000,
    profile: str | None = None,
    seed: int = 20261121,
    only: list[str] | None = None,
    in_process: bool = False,
) -> dict[str, Any]:
    rng = random.Random(seed)
    scenarios = [
        s
        for s in SCENARIOS
        if s.hospitals <= hospitals and (not only or any(part in s.name for part in only))
    ]
    with _common.django_home("routing"):
        from django.conf import settings

        from bench.urls import SINGLE_ALIAS
        from hospitium.tenancy import stores
        from hospitium.tenancy.migration import ensure_template
        from hospitium.tenancy.models import Hospital

        settings.ROOT_URLCONF = "bench.urls"
        default_max_open = settings.HOSPITIUM_MAX_OPEN_STORES
        template = ensure_template()
        patient_id = _common.seed_template(template)
        provisioner = _common.provision if in_process else _common.provision_in_child
        provision_seconds, codes = _common.timed(lambda: provisioner(hospitals))
        pks = dict(Hospital.objects.values_list("code", "pk"))
        from django.db import connections

        # The same view without routing reads a store listed statically in DATABASES, as a
        # single-hospital deployment would configure it: a copy of the seeded template (the
        # same rows every hospital was cloned with), with the hospital stores' own settings.
        single_path = Path(settings.HOSPITIUM_HOME) / "bench-single.sqlite3"
        shutil.copyfile(template, single_path)
        stores.registry.install()[SINGLE_ALIAS] = stores.sqlite_config(single_path, mode="rw")

        # The production entry point (it also raises the open-file limit, where it does so).
        from hospitium.wsgi import application as app

        shipped_max_age = connections["default"].settings_dict.get("CONN_MAX_AGE", 0)
        counters = Counters()
        counters.install()

        platform_envs = [
            _environ(f"/bench/hospital/{pks[code]}/", PLATFORM_HOST) for code in codes[:100]
        ]
        rng.shuffle(platform_envs)
        single_envs = [_environ(f"/bench/single/{patient_id}/", PLATFORM_HOST)]
        results: list[dict[str, Any]] = []
        for scenario in scenarios:
            pool = codes[: scenario.hospitals]
            if scenario.order == "random":
                picked = [rng.choice(pool) for _ in range(20_000)]
            elif scenario.order == "distinct":
                picked = rng.sample(pool, len(pool))
            else:
                picked = list(pool)
            path = f"/bench/patient/{patient_id}/"
            routed_envs = [
                _environ(path, _common.domain_of(code))
                if scenario.by_host
                else _environ(path, PLATFORM_HOST, code)
                for code in picked
            ]
            _common.maybe_wait_for_quiet()
            _set_platform_max_age(0 if scenario.platform_reopen else shipped_max_age)
            stores.close_hospital_connections()
            settings.HOSPITIUM_MAX_OPEN_STORES = scenario.max_open or default_max_open
            routed = Player(app, routed_envs)
            single, platform_view = Player(app, single_envs), Player(app, platform_envs)
            # Warm up: every hospital of the scenario once (and the unrouted views as much).
            warm = max(min(len(routed_envs), scenario.hospitals * 2, 20_000), 500)
            routed.play(warm)
            single.play(warm)
            platform_view.play(warm)
            if os.environ.get("BENCH_GC_FREEZE"):
                import gc

                gc.collect()
                gc.freeze()
            if profile and profile in scenario.name:
                _profile_round(routed, round_requests, f"routed, {scenario.name}")
                stores.close_hospital_connections()
                _profile_round(single, round_requests, f"same view unrouted, {scenario.name}")
            rps: dict[str, list[float]] = {"routed": [], "single": [], "mixed": [], "platform": []}
            cpu: dict[str, list[float]] = {"routed": [], "single": []}
            opens = misses = 0
            others = _common.OthersLoad()
            with others:
                for _ in range(rounds):
                    # Unrouted, clean: this thread holds no hospital connection.
                    stores.close_hospital_connections()
                    rps["single"].append(round_requests / single.play(round_requests))
                    cpu["single"].append(round_requests / single.cpu)
                    rps["platform"].append(round_requests / platform_view.play(round_requests))
                    # Routed, in steady state: refill the open-store LRU first (untimed).
                    routed.play(min(len(routed_envs), 300))
                    counters.reset()
                    rps["routed"].append(round_requests / routed.play(round_requests))
                    cpu["routed"].append(round_requests / routed.cpu)
                    opens, misses = opens + counters.opens, misses + counters.misses
                    # Unrouted, mixed: right after the routed round, with its stores still open.
                    rps["mixed"].append(round_requests / single.play(round_requests))
            measured = rounds * round_requests
            r_med = statistics.median(rps["routed"])
            clean, mixed = statistics.median(rps["single"]), statistics.median(rps["mixed"])
            plat = statistics.median(rps["platform"])
            result = {
                "scenario": scenario.name,
                "hospitals": scenario.hospitals,
                "order": scenario.order,
                "by_host": scenario.by_host,
                "platform_conn_max_age": 0 if scenario.platform_reopen else shipped_max_age,
                "target": scenario.target,
                "max_open": scenario.max_open or default_max_open,
                "routed_rps": r_med,
                "unrouted_rps": clean,
                "unrouted_mixed_rps": mixed,
                "platform_view_rps": plat,
                "ratio": r_med / clean,
                "ratio_vs_mixed": r_med / mixed,
                "cpu_ratio": statistics.median(cpu["routed"]) / statistics.median(cpu["single"]),
                "routed_cpu_us": 1e6 / statistics.median(cpu["routed"]),
                "unrouted_cpu_us": 1e6 / statistics.median(cpu["single"]),
                "ratio_vs_platform_view": r_med / plat,
                "routed_us": 1e6 / r_med,
                "unrouted_us": 1e6 / clean,
                "unrouted_mixed_us": 1e6 / mixed,
                "platform_view_us": 1e6 / plat,
                "opens_per_request": opens / measured,
                "cache_misses_per_request": misses / measured,
                "failures": routed.failures + single.failures + platform_view.failures,
                "others_busy": others.fraction,
            }
            settings.HOSPITIUM_MAX_OPEN_STORES = default_max_open
            results.append(result)
            _print_row(result)
        _set_platform_max_age(shipped_max_age)
    target_rows = [r for r in results if r["target"]]
    return {
        "hospitals": hospitals,
        "rounds": rounds,
        "round_requests": round_requests,
        "provision_seconds": provision_seconds,
        "provisioned_in_process": in_process,
        "max_open_stores": default_max_open,
        "platform_conn_max_age": shipped_max_age,
        "tenant_cache_seconds": 5,
        "scenarios": results,
        "target_ratio": TARGET_RATIO,
        "met": all(r["ratio"] >= TARGET_RATIO for r in target_rows),
    }


def _print_row(r: dict[str, Any]) -> None:
    print(
        f"  {r['scenario']:<44} routed {r['routed_rps']:5.0f}/s {r['routed_us']:5.0f} µs"
        f" | unrouted {r['unrouted_rps']:5.0f}/s {r['unrouted_us']:5.0f} µs"
        f" | ratio {r['ratio']:.2f}"
        f" (CPU time: {r['routed_cpu_us']:.0f} vs {r['unrouted_cpu_us']:.0f} µs,"
        f" {r['cpu_ratio']:.2f})"
        f" | unrouted, stores open {r['unrouted_mixed_us']:5.0f} µs ({r['ratio_vs_mixed']:.2f})"
        f" | platform view {r['platform_view_us']:5.0f} µs ({r['ratio_vs_platform_view']:.2f})"
        f" | opens/req {r['opens_per_request']:.2f}"
        f" misses/req {r['cache_misses_per_request']:.2f}"
        f" | others {r['others_busy']:.0%}"
        + (f"  FAILURES {r['failures']}" if r["failures"] else ""),
        flush=True,
    )


def report(result: dict[str, Any]) -> None:
    print(
        f"routing: {result['hospitals']} hospitals provisioned in "
        f"{result['provision_seconds']:.1f} s; median of {result['rounds']} interleaved rounds "
        f"of {result['round_requests']} requests; HOSPITIUM_MAX_OPEN_STORES="
        f"{result['max_open_stores']}, platform CONN_MAX_AGE={result['platform_conn_max_age']}, "
        "HOSPITIUM_TENANT_CACHE_SECONDS=5"
    )
    print(
        "  ratio = routed / the same view unrouted (one static store), no hospital store open "
        "in the thread; 'unrouted, stores open' = the same, right after the routed round; "
        "'platform view' = a platform row read with no hospital (the baseline before 2026-11-22)"
    )
    print("  (one line per scenario above, printed as each was measured)")
    print(
        f"  target routed >= {TARGET_RATIO}x unrouted at 100 hospitals: "
        f"{_common.verdict(result['met'])}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hospitals", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--round-requests", type=int, default=3000)
    parser.add_argument(
        "--profile", help="cProfile one round of the scenario with this in its name"
    )
    parser.add_argument(
        "--only",
        action="append",
        help="run only the scenarios with this in their name (repeatable)",
    )
    parser.add_argument(
        "--provision-in-process",
        action="store_true",
        help="provision the hospitals in the measured process (the default until 2026-11-22; "
        "now a child process provisions them, as a web process never does)",
    )
    args = parser.parse_args()
    result = run(
        args.hospitals,
        args.rounds,
        args.round_requests,
        args.profile,
        only=args.only,
        in_process=args.provision_in_process,
    )
    report(result)
    _common.emit("routing", result)


if __name__ == "__main__":
    main()
