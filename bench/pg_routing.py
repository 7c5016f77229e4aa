"""Requests per second of a hospital-routed view on PostgreSQL, against the same view without
routing.

    .venv/bin/python -m bench.pg_routing [--hospitals 1000] [--rounds 5] [--round-requests 2000]
                                         [--servers 2] [--pg URL] [--profile SCENARIO]

The same in-process WSGI harness as bench.routing (its ``_environ`` and ``Player`` are reused):
Django's WSGIHandler, the whole middleware stack, anonymous requests, settings.ROOT_URLCONF =
bench.urls. Routed: GET /bench/patient/<id>/ with ``X-Hospital: CODE`` on host 127.0.0.1, reading
one Patient by primary key in that hospital's schema (through the server's pooled connection and
its search_path). Unrouted, the same view: GET /bench/single/<id>/ on 127.0.0.1 with no header:
the same query for the same row, through a DATABASES entry listed statically that uses Django's
stock PostgreSQL backend with the same pool settings, its search_path fixed at connect time to
one hospital's schema — what a single-hospital deployment of the view would run. The platform
view (GET /bench/hospital/<id>/: one platform row) was the baseline until 2026-11-22 and is
still printed. In each round the routed and the same view run back to back, in alternating order
(ABBA), and the ratio is the median of the rounds' paired ratios (since 2026-12-07; before, the
ratio of the two sides' medians, still recorded as ``ratio_of_medians``: this host's speed
drifts by tens of percent from minute to minute). Target: routed ≥ 0.9× the same
view unrouted (with requests spread over 100 hospitals, as issue 2 asks of SQLite).

Also measured: how many search_path switches each request makes (the backend sets the session
when the one a cursor wants differs from what its pooled connection last set, except for ORM
reads, which name their tables with the hospital's schema since 2026-11-22), how many of them
went in a round trip of their own, how many statements reach a hospital server per request, and
on one raw pooled connection: SELECT 1 alone, the switch statement alone, and SELECT 1 with the
switch in front of it in one query (the form the backend sends since the switch rides with the
first query). Run it against an older commit by putting that commit's src first on PYTHONPATH
(``git archive COMMIT src | tar -x -C /tmp/pinned``): every count falls back to what that code
does.

``--instructions`` counts instead the instructions this process executes per request, routed and
unrouted, under valgrind's callgrind (the bench runs itself again under ``valgrind
--tool=callgrind --instr-atstart=no`` and zeroes and dumps the count around each round with
``callgrind_control``, as bench.audit does): the client's own work — Django, psycopg, our
routing — which the host's drifting speed does not change. The server's work (another process)
and the waiting for it are not in it, so the ratio of instructions is a proxy for the target's
ratio with the server's share left out. About 50 times slower: use small sizes
(``--hospitals 100 --only random --rounds 3 --round-requests 300``).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import random
import statistics
import time
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, cast

from bench import _common
from bench.pg_provisioning import DEFAULT_PG, Load, pg_home, pg_machine
from bench.routing import Player, _environ

if TYPE_CHECKING:
    # For the type checker only: hospitium is imported in the functions, once the benchmark has
    # set its environment and Django up.
    from hospitium.tenancy.backends.postgresql.base import DatabaseWrapper as HospitiumWrapper
    from hospitium.tenancy.stores.postgresql import PostgresStore

TARGET_RATIO = 0.9
PLATFORM_HOST = "127.0.0.1"


@dataclass
class Scenario:
    name: str
    hospitals: int
    order: str  # random | cyclic | distinct (a shuffled permutation, replayed)
    target: bool = False


SCENARIOS = [
    Scenario("1 hospital", 1, "cyclic"),
    Scenario("100 random (target)", 100, "random", target=True),
    Scenario("100 round-robin", 100, "cyclic"),
    Scenario("1,000 distinct", 1000, "distinct"),
]


class RoundTrips:
    """Counts what the hospital backend sends to hospital servers: search_path switches, the
    switches sent in a round trip of their own (all of them in code from before the switch rode
    with the first query: it has no ``_switch_apart``), and statements (Django cursor executes on
    ``server:`` aliases; one round trip each, switch included when it rides along)."""

    def __init__(self) -> None:
        self.switches = 0
        self.apart = 0
        self.statements = 0
        self.inline = False

    def reset(self) -> None:
        self.switches = self.apart = self.statements = 0

    def install(self) -> None:
        from django.db.backends import utils

        from hospitium.tenancy.backends.postgresql import base
        from hospitium.tenancy.stores.schemas import wanted_session

        counter = self
        create_cursor = base.DatabaseWrapper.create_cursor

        def counting_create_cursor(self: Any, name: str | None = None) -> Any:
            # Code from before the switch rode with the first query switched here, apart.
            if not counter.inline and wanted_session(self.alias).key != self.hospitium_session:
                counter.switches += 1
                counter.apart += 1
            return create_cursor(self, name)

        base.DatabaseWrapper.create_cursor = counting_create_cursor  # type: ignore[method-assign]
        switch_apart = getattr(base, "_switch_apart", None)
        if switch_apart is not None:
            self.inline = True

            def counting_switch_apart(connection: Any, wanted: Any) -> None:
                counter.apart += 1
                switch_apart(connection, wanted)

            base._switch_apart = counting_switch_apart
        # A private method of Django's cursor wrapper (the stubs do not declare it).
        execute = utils.CursorWrapper._execute_with_wrappers  # type: ignore[attr-defined]

        def counting_execute(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not self.db.alias.startswith("server:"):
                return execute(self, *args, **kwargs)
            counter.statements += 1
            before = self.db.hospitium_session
            try:
                return execute(self, *args, **kwargs)
            finally:
                # A switch is a session change; a read that names its schema makes none.
                if counter.inline and self.db.hospitium_session not in (before, None):
                    counter.switches += 1

        utils.CursorWrapper._execute_with_wrappers = counting_execute  # type: ignore[attr-defined]


def _seed_templates() -> Any:
    """One patient in each server's template schema, so every hospital cloned after has it (the
    same id everywhere). Written with the model's own field preparation, in raw SQL: the ORM's
    hospital checks want a hospital, and a template is none."""
    from django.db import connections

    from hospitium.patients.models import Patient
    from hospitium.tenancy import stores
    from hospitium.tenancy.stores.schemas import schema_context

    patient = Patient(
        mrn="BENCH-0001", given_name="Ada", family_name="Lovelace", birth_date=date(1815, 12, 10)
    )
    for server in stores.configured_servers():
        # A configured server's store is a PostgresStore.
        store = cast("PostgresStore", stores.store_for_server(server))
        template = store.ensure_template()
        alias = store.server_alias
        connection = connections[alias]
        stores.touch(alias)
        fields = Patient._meta.concrete_fields
        values = [f.get_db_prep_save(f.pre_save(patient, add=True), connection) for f in fields]
        columns = ", ".join(cast(str, f.column) for f in fields)  # concrete fields have columns
        marks = ", ".join(["%s"] * len(fields))
        insert = f"INSERT INTO {Patient._meta.db_table} ({columns}) VALUES ({marks})"  # noqa: S608
        with schema_context(alias, template), connection.cursor() as cursor:
            cursor.execute(insert, values)
    return patient.pk


def _switch_cost(codes: list[str], repeats: int = 2000) -> dict[str, float]:
    """The round trip of the search_path statement on its own (alternating two schemas), against
    a trivial query, on one pooled server connection."""
    from django.db import connections

    from hospitium.tenancy import stores
    from hospitium.tenancy.models import Hospital
    from hospitium.tenancy.stores.schemas import session_for

    hospitals = list(Hospital.objects.filter(code__in=codes[:2]))
    alias = stores.alias_for(hospitals[0].as_ref())
    same = [h for h in hospitals if stores.alias_for(h.as_ref()) == alias]
    stores.touch(alias)
    wrapper = cast("HospitiumWrapper", connections[alias])  # a server alias: hospitium's backend
    wrapper.ensure_connection()
    raw = wrapper.connection
    sessions = [session_for(h.store_name, False, check=True) for h in same]
    measured: list[tuple[str, Any]] = [
        ("select_1_us", lambda i: raw.execute("SELECT 1").fetchone()),
        (
            "switch_us",
            lambda i: raw.execute(
                sessions[i % len(sessions)].statement, sessions[i % len(sessions)].params
            ).fetchone(),
        ),
    ]
    if getattr(sessions[0], "inline", ""):
        # What the backend sends now: the switch in front of the query, one simple-protocol
        # query, and the cursor moved to the query's own result.
        def inline(i: int) -> None:
            cursor = raw.execute(
                "SET transaction_read_only TO off; "
                + sessions[i % len(sessions)].inline
                + "SELECT 1"
            )
            cursor.set_result(2)
            cursor.fetchone()

        measured.append(("switch_and_select_1_us", inline))
    timings: dict[str, float] = {}
    for label, statement in measured:
        for i in range(200):
            statement(i)
        started = time.perf_counter()
        for i in range(repeats):
            statement(i)
        timings[label] = (time.perf_counter() - started) / repeats * 1e6
    wrapper.hospitium_session = None  # we moved it behind the backend's back
    stores.close_hospital_connections()
    return timings


def _profile_round(player: Player, count: int, label: str) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    player.play(count)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    # Our own functions by cumulative time: where routing spends (hospitium.* only).
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats("hospitium/", 25)
    print(f"--- profile: {label}, {count} requests, by own time, then ours by cumulative time ---")
    print(out.getvalue(), flush=True)


def run(
    hospitals: int = 1000,
    rounds: int = 5,
    round_requests: int = 2000,
    servers: int = 2,
    pg: str = DEFAULT_PG,
    profile: str | None = None,
    seed: int = 20261121,
    only: list[str] | None = None,
) -> dict[str, Any]:
    rng = random.Random(seed)
    counting = _common.CALLGRIND_ENV in os.environ
    instructions: _common.Instructions | None = None
    scenarios = [
        s
        for s in SCENARIOS
        if s.hospitals <= hospitals and (not only or any(part in s.name for part in only))
    ]
    with pg_home("routing", servers=servers, pg=pg):
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application

        from bench.urls import SINGLE_ALIAS
        from hospitium.settings.stores import postgres_settings
        from hospitium.tenancy import stores
        from hospitium.tenancy.models import Hospital

        machine = pg_machine()
        settings.ROOT_URLCONF = "bench.urls"
        patient_id = _seed_templates()
        provision_s, codes = _common.timed(lambda: _common.provision(hospitals))
        pks = dict(Hospital.objects.values_list("code", "pk"))
        switch = {} if counting else _switch_cost(codes)
        app = get_wsgi_application()
        counter = RoundTrips()
        if counting:
            # The counter's own wrappers run on the routed side only: not in a count of
            # instructions (the counts of switches and statements are not reported there).
            # The routing generation is checked every few seconds; under valgrind requests run
            # ~50 times slower, so the same interval is ~50 times as many checks a request.
            settings.HOSPITIUM_TENANT_CACHE_SECONDS *= 50
        else:
            counter.install()

        # The same view unrouted: one hospital's schema, reached through a static entry with
        # Django's own backend and the search_path fixed when the connection is made.
        first = Hospital.objects.get(code=codes[0])
        stores.registry.install()[SINGLE_ALIAS] = postgres_settings(
            settings.HOSPITIUM_HOSPITAL_SERVERS[first.server],
            engine="django.db.backends.postgresql",
            search_path=first.store_name,
        )
        single_envs = [_environ(f"/bench/single/{patient_id}/", PLATFORM_HOST)]
        unrouted_envs = [
            _environ(f"/bench/hospital/{pks[code]}/", PLATFORM_HOST) for code in codes[:100]
        ]
        rng.shuffle(unrouted_envs)
        path = f"/bench/patient/{patient_id}/"
        results: list[dict[str, Any]] = []
        for scenario in scenarios:
            pool = codes[: scenario.hospitals]
            if scenario.order == "random":
                picked = [rng.choice(pool) for _ in range(20_000)]
            elif scenario.order == "distinct":
                picked = rng.sample(pool, len(pool))
            else:
                picked = list(pool)
            routed_envs = [_environ(path, PLATFORM_HOST, code) for code in picked]
            _common.maybe_wait_for_quiet()
            stores.close_hospital_connections()
            routed, unrouted = Player(app, routed_envs), Player(app, unrouted_envs)
            single = Player(app, single_envs)
            warm = max(min(len(routed_envs), scenario.hospitals * 2, 20_000), 500)
            routed.play(warm)
            if not counting:
                unrouted.play(warm)
            single.play(warm)
            if profile and profile in scenario.name:
                _profile_round(routed, round_requests, f"routed, {scenario.name}")
                _profile_round(unrouted, round_requests, f"platform view, {scenario.name}")
                _profile_round(single, round_requests, f"same view unrouted, {scenario.name}")
            if counting:
                # Switched on only now: everything before runs at valgrind's uncounted speed.
                instructions = instructions or _common.Instructions(
                    os.environ[_common.CALLGRIND_ENV]
                )
                result = _count_instructions(
                    instructions,
                    scenario,
                    {"routed": routed, "single": single},
                    rounds,
                    round_requests,
                )
                results.append(result)
                _print_instructions(result)
                continue
            rps: dict[str, list[float]] = {"routed": [], "unrouted": [], "single": []}
            cpu: dict[str, list[float]] = {"routed": [], "single": []}
            switches = apart = statements = 0
            others = Load()
            with others:
                for index in range(rounds):
                    rps["unrouted"].append(round_requests / unrouted.play(round_requests))
                    # The pair compared runs back to back, in alternating order (ABBA), so
                    # that the host's drift hits both sides of each round's ratio alike.
                    pair = [("single", single), ("routed", routed)]
                    counter.reset()  # it counts the hospital servers' statements: routed only
                    for side, player in pair if index % 2 == 0 else reversed(pair):
                        rps[side].append(round_requests / player.play(round_requests))
                        cpu[side].append(round_requests / player.cpu)
                    switches += counter.switches
                    apart += counter.apart
                    statements += counter.statements
            r_med = statistics.median(rps["routed"])
            u_med = statistics.median(rps["unrouted"])
            s_med = statistics.median(rps["single"])
            paired = [r / s for r, s in zip(rps["routed"], rps["single"], strict=True)]
            paired_cpu = [r / s for r, s in zip(cpu["routed"], cpu["single"], strict=True)]
            result = {
                "scenario": scenario.name,
                "hospitals": scenario.hospitals,
                "order": scenario.order,
                "target": scenario.target,
                "routed_rps": r_med,
                "same_view_rps": s_med,
                # The median of the rounds' paired ratios (robust to drift between rounds);
                # the ratio of the two sides' medians is kept beside it.
                "ratio": statistics.median(paired),
                "ratio_of_medians": r_med / s_med,
                "cpu_ratio": statistics.median(paired_cpu),
                "paired_ratios": [round(x, 3) for x in paired],
                "routed_us": 1e6 / r_med,
                "same_view_us": 1e6 / s_med,
                "unrouted_rps": u_med,
                "ratio_vs_platform_view": r_med / u_med,
                "unrouted_us": 1e6 / u_med,
                "switches_per_request": switches / (rounds * round_requests),
                "apart_per_request": apart / (rounds * round_requests),
                # Round trips to a hospital server: each statement, plus each switch sent apart.
                "server_round_trips_per_request": (statements + apart) / (rounds * round_requests),
                "routed_rps_rounds": [round(x) for x in rps["routed"]],
                "unrouted_rps_rounds": [round(x) for x in rps["unrouted"]],
                "same_view_rps_rounds": [round(x) for x in rps["single"]],
                "failures": routed.failures + unrouted.failures + single.failures,
                "postgres_busy": others.postgres,
                "others_busy": others.others,
            }
            results.append(result)
            _print_row(result)
        stores.close_hospital_connections()
    target_rows = [r for r in results if r["target"]]
    return {
        "hospitals": hospitals,
        "servers": servers,
        "rounds": rounds,
        "round_requests": round_requests,
        "provision_s": provision_s,
        "switch_cost": switch,
        "scenarios": results,
        "target_ratio": TARGET_RATIO,
        # Instructions leave the server out: the target is judged in wall time only.
        "met": None
        if counting
        else all(r["ratio"] >= TARGET_RATIO and not r["failures"] for r in target_rows),
        "machine": machine,
    }


def _count_instructions(
    counter: _common.Instructions,
    scenario: Scenario,
    players: dict[str, Player],
    rounds: int,
    round_requests: int,
) -> dict[str, Any]:
    """Instructions per request of each side, over ``rounds`` rounds (medians)."""
    counts: dict[str, list[float]] = {side: [] for side in players}
    for index in range(rounds):
        sides = list(players) if index % 2 == 0 else list(reversed(players))
        for side in sides:
            gc.collect()  # each round starts with no garbage of the one before
            counter.start()
            players[side].play(round_requests)
            counts[side].append(counter.stop() / round_requests)
    routed = statistics.median(counts["routed"])
    single = statistics.median(counts["single"])
    return {
        "scenario": scenario.name,
        "hospitals": scenario.hospitals,
        "target": scenario.target,
        "routed_instructions": routed,
        "same_view_instructions": single,
        # Requests per second go as 1 / instructions: this is the target's ratio, client side.
        "ratio": single / routed,
        "routed_rounds": [round(x) for x in counts["routed"]],
        "same_view_rounds": [round(x) for x in counts["single"]],
        "failures": sum(player.failures for player in players.values()),
    }


def _print_instructions(r: dict[str, Any]) -> None:
    print(
        f"  {r['scenario']:<38} routed {r['routed_instructions']:10,.0f} instructions a request"
        f" | same view unrouted {r['same_view_instructions']:10,.0f}"
        f" | ratio (unrouted / routed) {r['ratio']:.3f}"
        f" | extra {r['routed_instructions'] - r['same_view_instructions']:8,.0f}"
        + (f"  FAILURES {r['failures']}" if r["failures"] else ""),
        flush=True,
    )


def _print_row(r: dict[str, Any]) -> None:
    print(
        f"  {r['scenario']:<38} routed {r['routed_rps']:5.0f}/s {r['routed_us']:6.0f} µs"
        f" | same view unrouted {r['same_view_rps']:5.0f}/s {r['same_view_us']:6.0f} µs"
        f" | ratio {r['ratio']:.2f} (CPU time {r['cpu_ratio']:.2f})"
        f" | platform view {r['unrouted_us']:6.0f} µs ({r['ratio_vs_platform_view']:.2f})"
        f" | switches/req {r['switches_per_request']:.2f}"
        f" ({r['apart_per_request']:.2f} apart)"
        f" | server round trips/req {r['server_round_trips_per_request']:.2f}"
        f" | CPU: PostgreSQL {r['postgres_busy']:.0%}, others {r['others_busy']:.0%}"
        + (f"  FAILURES {r['failures']}" if r["failures"] else ""),
        flush=True,
    )


def report(result: dict[str, Any]) -> None:
    m = result["machine"]
    print(
        f"machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, Django {m['django']}, "
        f"PostgreSQL {m['postgresql']}, {m['date']}"
    )
    s = result["switch_cost"]
    print(
        f"PostgreSQL routing: {result['hospitals']} hospitals on {result['servers']} servers "
        f"(provisioned in {result['provision_s']:.0f} s); median of {result['rounds']} "
        f"interleaved rounds of {result['round_requests']} requests"
    )
    if s:
        print(
            f"  search_path statement alone: {s['switch_us']:.0f} µs per switch "
            f"(SELECT 1: {s['select_1_us']:.0f} µs"
            + (
                f"; SELECT 1 with the switch in front: {s['switch_and_select_1_us']:.0f} µs)"
                if "switch_and_select_1_us" in s
                else ")"
            )
        )
    print("  (one line per scenario above, printed as each was measured)")
    if result["met"] is None:
        print("  instructions counted, not time: the target is not judged", flush=True)
        return
    print(
        f"  target routed >= {TARGET_RATIO}x the same view unrouted at 100 hospitals: "
        f"{_common.verdict(result['met'])}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hospitals", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--round-requests", type=int, default=2000)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--pg", default=DEFAULT_PG, help="server URL without a database name")
    parser.add_argument(
        "--only", action="append", help="run only the scenarios with this in their name"
    )
    parser.add_argument(
        "--profile", help="cProfile one round of the scenario with this in its name"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per request under callgrind instead of timing",
    )
    args = parser.parse_args()
    if args.instructions and _common.CALLGRIND_ENV not in os.environ:
        _common.rerun_under_callgrind("bench.pg_routing")
        return
    result = run(
        args.hospitals,
        args.rounds,
        args.round_requests,
        args.servers,
        args.pg,
        args.profile,
        only=args.only,
    )
    report(result)
    _common.emit("pg_routing", result)


if __name__ == "__main__":
    main()
