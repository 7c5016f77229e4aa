"""Requests per second of a hospital-routed view against the same view without routing.

    .venv/bin/python -m bench.routing [--hospitals 10000] [--rounds 5] [--round-requests 3000]
                                      [--profile SCENARIO]

In-process WSGI: Django's WSGIHandler (the whole MIDDLEWARE stack, request signals included) is
called directly with prebuilt environ dicts, the same way on both sides, and every response is
consumed and closed (which sends request_finished). Requests are anonymous; settings.ROOT_URLCONF
points at bench.urls. Routed: GET /bench/patient/<id>/ with ``X-Hospital: CODE`` on host 127.0.0.1
(or the hospital's own domain as Host), reading one Patient by primary key in that hospital.
Unrouted: GET /bench/hospital/<id>/ on 127.0.0.1 with no header, reading one platform row.

Each scenario interleaves rounds of the routed and the unrouted requests and compares the medians,
so that drift (other load on the machine) hits both sides alike. Target: routed ≥ 0.9× unrouted
with requests spread over 100 hospitals.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import _common

TARGET_RATIO = 0.9
FAIR_SCENARIO = "P: 100 random"
PLATFORM_HOST = "127.0.0.1"


@dataclass
class Scenario:
    name: str
    hospitals: int
    #: random: uniform random choice; cyclic: round robin; distinct: a shuffled permutation,
    #: replayed, so consecutive requests never repeat a hospital within ``hospitals`` requests.
    order: str
    by_host: bool = False
    #: Keep the platform connection open between requests (CONN_MAX_AGE=None on "default"); the
    #: shipped settings open and close it on every request that touches the platform.
    persistent_platform: bool = False
    target: bool = False
    #: What-if experiments, emulating changes proposed for src/ (see docs/benchmarks.md).
    max_open: int | None = None
    used_only_handlers: bool = False


SCENARIOS = [
    Scenario("1 hospital", 1, "cyclic"),
    Scenario("100 random (target)", 100, "random", target=True),
    Scenario("100 random, Host header", 100, "random", by_host=True),
    Scenario("100 round-robin", 100, "cyclic"),
    Scenario("P: 1 hospital", 1, "cyclic", persistent_platform=True),
    Scenario("P: 100 random", 100, "random", persistent_platform=True),
    Scenario(
        "P: 100 random, what-if used-only handlers",
        100,
        "random",
        persistent_platform=True,
        used_only_handlers=True,
    ),
    Scenario(
        "P: 100 random, what-if MAX_OPEN_STORES=128",
        100,
        "random",
        persistent_platform=True,
        max_open=128,
    ),
    Scenario(
        "P: 100 random, what-if both",
        100,
        "random",
        persistent_platform=True,
        max_open=128,
        used_only_handlers=True,
    ),
    # The large fleets last: they leave thousands of objects behind (routing cache entries).
    Scenario("1,000 distinct", 1000, "distinct"),
    Scenario("10,000 distinct", 10000, "distinct"),
    Scenario("P: 10,000 distinct", 10000, "distinct", persistent_platform=True),
]


class UsedOnlyHandlers:
    """What-if: request handlers that look after only the stores the request used.

    The shipped handlers (hospitium.tenancy.stores.on_request_started/finished) walk every store
    this thread has open — up to HOSPITIUM_MAX_OPEN_STORES — twice per request, routed or not.
    This emulation records the aliases routed during the request (by wrapping stores.touch) and
    checks only those when the request finishes. It is installed for one scenario and removed.
    """

    def __init__(self) -> None:
        self.used: set[str] = set()
        self.original_touch: Callable[[str], None] | None = None

    def install(self) -> None:
        from django.core import signals

        from hospitium.tenancy import stores

        self.original_touch = original = stores.touch
        used = self.used

        def touch(alias: str) -> None:
            used.add(alias)
            original(alias)

        stores.touch = touch
        signals.request_started.disconnect(dispatch_uid="hospitium-stores")
        signals.request_finished.disconnect(dispatch_uid="hospitium-stores")
        signals.request_started.connect(self.started, dispatch_uid="bench-used-only")
        signals.request_finished.connect(self.finished, dispatch_uid="bench-used-only")

    def started(self, **kwargs: Any) -> None:
        self.used.clear()

    def finished(self, **kwargs: Any) -> None:
        from hospitium.tenancy.stores.registry import connection_if_open

        for alias in self.used:
            conn = connection_if_open(alias)
            if conn is not None:
                conn.queries_log.clear()
                if not conn.in_atomic_block:
                    conn.close_if_unusable_or_obsolete()
        self.used.clear()

    def uninstall(self) -> None:
        from django.core import signals

        from hospitium.tenancy import stores

        assert self.original_touch is not None
        stores.touch = self.original_touch  # type: ignore[assignment]
        signals.request_started.disconnect(dispatch_uid="bench-used-only")
        signals.request_finished.disconnect(dispatch_uid="bench-used-only")
        signals.request_started.connect(stores.on_request_started, dispatch_uid="hospitium-stores")
        signals.request_finished.connect(
            stores.on_request_finished, dispatch_uid="hospitium-stores"
        )


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

    def play(self, count: int) -> float:
        app, environs, size = self.app, self.environs, len(self.environs)
        position = self.position
        status: list[str] = [""]

        def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = line
            return None

        failures = 0
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


def _set_platform_persistent(persistent: bool) -> None:
    from django.db import connections

    default = connections["default"]
    default.settings_dict["CONN_MAX_AGE"] = None if persistent else 0
    default.close()


def _profile_round(player: Player, count: int, label: str) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    player.play(count)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    print(f"--- profile: {label}, {count} requests, by own time ---")
    print(out.getvalue())


def run(
    hospitals: int = 10_000,
    rounds: int = 5,
    round_requests: int = 3000,
    profile: str | None = None,
    seed: int = 20261121,
) -> dict[str, Any]:
    rng = random.Random(seed)
    scenarios = [s for s in SCENARIOS if s.hospitals <= hospitals]
    with _common.django_home("routing"):
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application

        from hospitium.tenancy import stores
        from hospitium.tenancy.migration import ensure_template
        from hospitium.tenancy.models import Hospital

        settings.ROOT_URLCONF = "bench.urls"
        default_max_open = settings.HOSPITIUM_MAX_OPEN_STORES
        patient_id = _common.seed_template(ensure_template())
        provision_seconds, codes = _common.timed(lambda: _common.provision(hospitals))
        pks = dict(Hospital.objects.values_list("code", "pk"))
        app = get_wsgi_application()
        counters = Counters()
        counters.install()

        unrouted_envs = [
            _environ(f"/bench/hospital/{pks[code]}/", PLATFORM_HOST) for code in codes[:100]
        ]
        rng.shuffle(unrouted_envs)
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
            _set_platform_persistent(scenario.persistent_platform)
            stores.close_hospital_connections()
            settings.HOSPITIUM_MAX_OPEN_STORES = scenario.max_open or default_max_open
            what_if = UsedOnlyHandlers() if scenario.used_only_handlers else None
            if what_if is not None:
                what_if.install()
            routed, unrouted = Player(app, routed_envs), Player(app, unrouted_envs)
            # Warm up: every hospital of the scenario once (and the unrouted view as much).
            warm = max(min(len(routed_envs), scenario.hospitals * 2, 20_000), 500)
            routed.play(warm)
            unrouted.play(warm)
            if profile and profile in scenario.name:
                _profile_round(routed, round_requests, f"routed, {scenario.name}")
                stores.close_hospital_connections()
                _profile_round(unrouted, round_requests, f"unrouted, {scenario.name}")
            rps: dict[str, list[float]] = {"routed": [], "clean": [], "mixed": []}
            opens = misses = 0
            others = _common.OthersLoad()
            with others:
                for _ in range(rounds):
                    # Unrouted, clean: this thread holds no hospital connection.
                    stores.close_hospital_connections()
                    rps["clean"].append(round_requests / unrouted.play(round_requests))
                    # Routed, in steady state: refill the open-store LRU first (untimed).
                    routed.play(min(len(routed_envs), 300))
                    counters.reset()
                    rps["routed"].append(round_requests / routed.play(round_requests))
                    opens, misses = opens + counters.opens, misses + counters.misses
                    # Unrouted, mixed: right after the routed round, with its stores still open.
                    rps["mixed"].append(round_requests / unrouted.play(round_requests))
            measured = rounds * round_requests
            r_med = statistics.median(rps["routed"])
            clean, mixed = statistics.median(rps["clean"]), statistics.median(rps["mixed"])
            result = {
                "scenario": scenario.name,
                "hospitals": scenario.hospitals,
                "order": scenario.order,
                "by_host": scenario.by_host,
                "persistent_platform": scenario.persistent_platform,
                "target": scenario.target,
                "max_open": scenario.max_open or default_max_open,
                "used_only_handlers": scenario.used_only_handlers,
                "routed_rps": r_med,
                "unrouted_rps": clean,
                "unrouted_mixed_rps": mixed,
                "ratio": r_med / clean,
                "ratio_vs_mixed": r_med / mixed,
                "routed_us": 1e6 / r_med,
                "unrouted_us": 1e6 / clean,
                "unrouted_mixed_us": 1e6 / mixed,
                "opens_per_request": opens / measured,
                "cache_misses_per_request": misses / measured,
                "failures": routed.failures + unrouted.failures,
                "others_busy": others.fraction,
            }
            if what_if is not None:
                what_if.uninstall()
            settings.HOSPITIUM_MAX_OPEN_STORES = default_max_open
            results.append(result)
            _print_row(result)
        _set_platform_persistent(False)
    target_rows = [r for r in results if r["target"]]
    return {
        "hospitals": hospitals,
        "rounds": rounds,
        "round_requests": round_requests,
        "provision_seconds": provision_seconds,
        "max_open_stores": 64,
        "tenant_cache_seconds": 5,
        "scenarios": results,
        "target_ratio": TARGET_RATIO,
        "met": all(r["ratio"] >= TARGET_RATIO for r in target_rows),
        # The same comparison with the platform connection kept open on both sides.
        "met_fair": all(
            r["ratio"] >= TARGET_RATIO for r in results if r["scenario"] == FAIR_SCENARIO
        ),
    }


def _print_row(r: dict[str, Any]) -> None:
    print(
        f"  {r['scenario']:<44} routed {r['routed_rps']:5.0f}/s {r['routed_us']:5.0f} µs"
        f" | unrouted {r['unrouted_rps']:5.0f}/s {r['unrouted_us']:5.0f} µs"
        f" | ratio {r['ratio']:.2f}"
        f" | unrouted, stores open {r['unrouted_mixed_us']:5.0f} µs ({r['ratio_vs_mixed']:.2f})"
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
        f"of {result['round_requests']} requests; MAX_OPEN_STORES=64, TENANT_CACHE_SECONDS=5"
    )
    print(
        "  ratio = routed / unrouted with no hospital store open in the thread; "
        "'unrouted, stores open' = the unrouted view right after the routed round; "
        "P: = persistent platform connection (CONN_MAX_AGE=None) on both sides"
    )
    print("  (one line per scenario above, printed as each was measured)")
    print(
        f"  target routed >= {TARGET_RATIO}x unrouted at 100 hospitals: "
        f"{_common.verdict(result['met'])} as shipped; "
        f"{_common.verdict(result['met_fair'])} with the platform connection kept open",
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
    args = parser.parse_args()
    result = run(args.hospitals, args.rounds, args.round_requests, args.profile)
    report(result)
    _common.emit("routing", result)


if __name__ == "__main__":
    main()
