"""Requests per second of a hospital-routed view against the same view without routing.

    .venv/bin/python -m bench.routing [--hospitals 10000] [--rounds 5] [--round-requests 3000]
                                      [--profile SCENARIO]

In-process WSGI: hospitium.wsgi.application (Django's WSGIHandler: the whole MIDDLEWARE stack,
request signals included) is called directly with prebuilt environ dicts, the same way on both
sides, and every response is consumed and closed (which sends request_finished). Requests are
anonymous; settings.ROOT_URLCONF points at bench.urls. Routed: GET /bench/patient/<id>/ with
``X-Hospital: CODE`` on host 127.0.0.1 (or the hospital's own domain as Host), reading one
Patient by primary key in that hospital.
Unrouted: GET /bench/hospital/<id>/ on 127.0.0.1 with no header, reading one platform row.

Each scenario interleaves rounds of the routed and the unrouted requests and compares the medians,
so that drift (other load on the machine) hits both sides alike. Target: routed ≥ 0.9× unrouted
with requests spread over 100 hospitals. Settings as shipped, except in the scenarios named after
the setting they change (the values before commit e7bfaae, for comparison).
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

        from hospitium.tenancy import stores
        from hospitium.tenancy.migration import ensure_template
        from hospitium.tenancy.models import Hospital

        settings.ROOT_URLCONF = "bench.urls"
        default_max_open = settings.HOSPITIUM_MAX_OPEN_STORES
        patient_id = _common.seed_template(ensure_template())
        provision_seconds, codes = _common.timed(lambda: _common.provision(hospitals))
        pks = dict(Hospital.objects.values_list("code", "pk"))
        from django.db import connections

        # The production entry point (it also raises the open-file limit, where it does so).
        from hospitium.wsgi import application as app

        shipped_max_age = connections["default"].settings_dict.get("CONN_MAX_AGE", 0)
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
            _set_platform_max_age(0 if scenario.platform_reopen else shipped_max_age)
            stores.close_hospital_connections()
            settings.HOSPITIUM_MAX_OPEN_STORES = scenario.max_open or default_max_open
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
                "platform_conn_max_age": 0 if scenario.platform_reopen else shipped_max_age,
                "target": scenario.target,
                "max_open": scenario.max_open or default_max_open,
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
        f"of {result['round_requests']} requests; HOSPITIUM_MAX_OPEN_STORES="
        f"{result['max_open_stores']}, platform CONN_MAX_AGE={result['platform_conn_max_age']}, "
        "HOSPITIUM_TENANT_CACHE_SECONDS=5"
    )
    print(
        "  ratio = routed / unrouted with no hospital store open in the thread; "
        "'unrouted, stores open' = the unrouted view right after the routed round"
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
    args = parser.parse_args()
    result = run(args.hospitals, args.rounds, args.round_requests, args.profile)
    report(result)
    _common.emit("routing", result)


if __name__ == "__main__":
    main()
