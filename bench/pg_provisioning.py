"""Provisioning one hospital on PostgreSQL: from the warm pool of spare schemas, by cloning the
template (the pool off), and by running the migrations.

    .venv/bin/python -m bench.pg_provisioning [--hospitals 100] [--migrate-runs 5] [--servers 2]
                                              [--pool 2] [--pg postgresql://postgres@127.0.0.1:5432]

Needs a PostgreSQL server where the user may create databases. The benchmark creates its own
databases (``hospitium_bench_pg_prov`` for the platform, ``…_s1``, ``…_s2`` for hospital servers)
and drops them at the end. Target: median hospital_create (no admin) ≤ 100 ms, judged on the
warm pool (the default configuration, HOSPITIUM_PG_SPARE_SCHEMAS=2); the clone's figure is
printed beside it.

The two ways run interleaved, hospital by hospital, in the same run (so they share the load):
a hospital with the pool off (HOSPITIUM_PG_SPARE_SCHEMAS=0: PostgresStore.create clones the
template, as before the pool), then the refill of every server's pool back to ``--pool`` spares
(``spares_refill``, what the task enqueued after a taken spare does in a worker) — **outside the
timed part**, timed on its own and reported per spare built — then a hospital with the warm pool
(PostgresStore.create renames a spare). The timed warm-pool figure includes enqueueing the
refill task (into the SQLite task queue of the bench's home: no Redis here).

Also reported, for each way: the store step alone (PostgresStore.create, one transaction)
against the platform-row bookkeeping (validation, the provisioning row and its domain,
activation); and building the same schema by running the hospital migrations into a fresh
schema (what PostgresStore.ensure_template does), median of a few runs.

The helpers here (``pg_home``) are shared by bench.pg_migrate and bench.pg_routing.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from bench import _common

if TYPE_CHECKING:
    # For the type checker only: hospitium is imported in the functions, once the benchmark has
    # set its environment and Django up.
    from hospitium.tenancy.stores.postgresql import PostgresStore

TARGET_MEDIAN_MS = 100.0
DEFAULT_PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")


def _admin_execute(pg: str, statements: list[str]) -> None:
    import psycopg

    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _databases(name: str, servers: int) -> tuple[str, list[str]]:
    platform = f"hospitium_bench_pg_{name}"
    return platform, [f"{platform}_s{i}" for i in range(1, servers + 1)]


@contextmanager
def pg_home(name: str, *, servers: int = 2, pg: str = DEFAULT_PG) -> Iterator[Path]:
    """A fresh HOSPITIUM_HOME, fresh PostgreSQL databases (platform + ``servers`` hospital
    servers, named s1, s2, …), Django set up on them and the platform migrated. Everything is
    dropped after."""
    home = _common.fresh_home(f"pg-{name}")
    platform, hospital_dbs = _databases(name, servers)
    every = [platform, *hospital_dbs]
    _admin_execute(pg, [f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)' for db in every])
    _admin_execute(pg, [f'CREATE DATABASE "{db}"' for db in every])
    os.environ["HOSPITIUM_DATABASE_URL"] = f"{pg}/{platform}"
    os.environ["HOSPITIUM_HOSPITAL_SERVERS"] = ",".join(
        f"s{i}={pg}/{db}" for i, db in enumerate(hospital_dbs, start=1)
    )
    previous = signal.signal(signal.SIGTERM, _common._exit_on_sigterm)
    try:
        import django

        django.setup()
        from hospitium.tenancy.migration import migrate_platform_store

        migrate_platform_store()
        yield home
    finally:
        _close_pools()
        try:
            _admin_execute(pg, [f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)' for db in every])
        except Exception as exc:  # clean-up must not hide the benchmark's own error
            print(f"warning: dropping the bench databases failed: {exc}", flush=True)
        import shutil

        shutil.rmtree(home, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


def _close_pools() -> None:
    _common._close_everything()
    try:
        from django.db.backends.postgresql.base import DatabaseWrapper

        # A private class attribute of Django's backend (the stubs do not declare it).
        for pool in list(DatabaseWrapper._connection_pools.values()):  # type: ignore[attr-defined]
            pool.close()
        DatabaseWrapper._connection_pools.clear()  # type: ignore[attr-defined]
    except Exception as exc:
        print(f"warning: closing the pools failed: {exc}", flush=True)


class Load:
    """CPU used during a block by the local PostgreSQL server (every ``postgres`` process: the
    backends serving us, and whatever else they do) and by all other processes, as fractions of
    all CPUs. _common.OthersLoad alone would count the server's work for us as others' load."""

    def __init__(self) -> None:
        self.postgres = 0.0
        self.others = 0.0
        self._others = _common.OthersLoad()
        self._start: tuple[float, float] = (0.0, 0.0)

    @staticmethod
    def _postgres_seconds() -> float:
        hz = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            name = text[text.find("(") + 1 : text.rfind(")")]
            if name != "postgres":
                continue
            fields = text[text.rfind(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / hz

    def __enter__(self) -> Load:
        self._start = (self._postgres_seconds(), time.monotonic())
        self._others.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._others.__exit__(*exc)
        cpu0, wall0 = self._start
        busy = (self._postgres_seconds() - cpu0) / max(
            (time.monotonic() - wall0) * (os.cpu_count() or 1), 1e-9
        )
        self.postgres = busy
        self.others = max(0.0, self._others.fraction - busy)

    def describe(self) -> str:
        return f"PostgreSQL {self.postgres:.0%}, other processes {self.others:.0%} of all CPUs"


def pg_machine() -> dict[str, str]:
    from django.db import connections

    info = _common.machine()
    info.pop("sqlite", None)
    with connections["default"].cursor() as cursor:
        cursor.execute("SHOW server_version")
        info["postgresql"] = cursor.fetchone()[0]
    return info


def provision_timed(codes: list[str]) -> list[float]:
    """hospital_create (no admin) for each code; the seconds each took."""
    from hospitium.tenancy.provisioning import hospital_create

    samples = []
    for code in codes:
        started = time.perf_counter()
        hospital_create(code=code, name=f"Bench {code}", domains=[_common.domain_of(code)])
        samples.append(time.perf_counter() - started)
    return samples


class StepTimer:
    """Wraps functions (by attribute on their owner) to add up the time spent in each."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, attribute: str, label: str) -> None:
        original = getattr(owner, attribute)
        samples = self.samples.setdefault(label, [])

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                samples.append(time.perf_counter() - started)

        setattr(owner, attribute, timed)
        self._undo.append((owner, attribute, original))

    def clear(self) -> None:
        for samples in self.samples.values():
            samples.clear()

    def restore(self) -> None:
        for owner, attribute, original in reversed(self._undo):
            setattr(owner, attribute, original)
        self._undo.clear()


def _migrate_samples(runs: int) -> list[float]:
    """The slow way: CREATE SCHEMA, then run the hospital migrations into it (as
    PostgresStore.ensure_template builds a template)."""
    from django.db import connections

    from hospitium.tenancy import stores
    from hospitium.tenancy.fingerprint import apply_hospital_migrations
    from hospitium.tenancy.stores.schemas import schema_context

    server = stores.configured_servers()[0]
    # A configured server's store is a PostgresStore.
    store = cast("PostgresStore", stores.store_for_server(server))
    alias = store.server_alias
    samples = []
    for run in range(runs):
        schema = f"bench_migrated_{run}"
        stores.touch(alias)
        started = time.perf_counter()
        with connections[alias].cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{schema}"')
        with schema_context(alias, schema):
            applied = apply_hospital_migrations(alias)
        samples.append(time.perf_counter() - started)
        assert applied, "nothing was applied to a fresh schema"
        with connections[alias].cursor() as cursor:
            cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return samples


def _query_count(func: Callable[[], Any]) -> dict[str, int]:
    """Statements each alias sent while ``func`` ran (Django cursors only: the search-path
    statement of the hospitium backend goes through psycopg directly and is not counted)."""
    from django.db import connections

    counts: dict[str, int] = {}

    def counter(alias: str) -> Callable[..., Any]:
        def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any):
            counts[alias] = counts.get(alias, 0) + 1
            return execute(sql, params, many, ctx)

        return wrapper

    from hospitium.tenancy import stores

    aliases = [
        "default",
        *(
            cast("PostgresStore", stores.store_for_server(s)).server_alias
            for s in stores.configured_servers()
        ),
    ]
    contexts = [connections[alias].execute_wrapper(counter(alias)) for alias in aliases]
    for context in contexts:
        context.__enter__()
    try:
        func()
    finally:
        for context in reversed(contexts):
            context.__exit__(None, None, None)
    return counts


def _one(code: str, steps: StepTimer) -> tuple[float, dict[str, float]]:
    """hospital_create (no admin) for one code: its seconds, and the seconds of each wrapped
    step inside it."""
    steps.clear()
    [total] = provision_timed([code])
    return total, {label: sum(samples) for label, samples in steps.samples.items() if samples}


def run(
    hospitals: int = 100,
    migrate_runs: int = 5,
    servers: int = 2,
    pg: str = DEFAULT_PG,
    pool: int = 2,
) -> dict[str, Any]:
    with pg_home("prov", servers=servers, pg=pg):
        from django.conf import settings

        from hospitium.tenancy import provisioning
        from hospitium.tenancy.migration import ensure_template
        from hospitium.tenancy.spares import spares_refill
        from hospitium.tenancy.stores import postgresql
        from hospitium.tenancy.stores.postgresql import PostgresStore

        machine = pg_machine()
        template_seconds, _name = _common.timed(ensure_template)
        # The first hospitals on each server cache its clone script; time those on their own.
        settings.HOSPITIUM_PG_SPARE_SCHEMAS = 0
        warmup = provision_timed([f"W{i:05d}" for i in range(2 * servers)])
        queries_clone = _query_count(lambda: provision_timed(["Q00000"]))
        settings.HOSPITIUM_PG_SPARE_SCHEMAS = pool
        fill_seconds, first_fill = _common.timed(spares_refill)
        queries_spare = _query_count(lambda: provision_timed(["Q00001"]))
        spares_refill()

        steps = StepTimer()
        steps.wrap(provisioning, "validate_new_hospital", "validate")
        steps.wrap(provisioning, "_record", "record")
        steps.wrap(PostgresStore, "create", "store")
        steps.wrap(PostgresStore, "ensure_template", "store: template check")
        steps.wrap(PostgresStore, "clone_script", "store: clone script (cached)")
        steps.wrap(PostgresStore, "_take_spare", "store: take a spare")
        steps.wrap(postgresql, "_enqueue_refill", "store: enqueue the refill task")
        totals: dict[str, list[float]] = {"clone": [], "spare": []}
        by_step: dict[str, dict[str, list[float]]] = {"clone": {}, "spare": {}}
        refill_per_spare: list[float] = []
        unused = 0
        _common.maybe_wait_for_quiet()
        others = Load()
        started = time.time()
        try:
            with others:
                for i in range(hospitals):
                    for way, size in (("clone", 0), ("spare", pool)):
                        settings.HOSPITIUM_PG_SPARE_SCHEMAS = size
                        total, parts = _one(f"{way[0].upper()}{i:05d}", steps)
                        totals[way].append(total)
                        for label, seconds in parts.items():
                            by_step[way].setdefault(label, []).append(seconds)
                        if way == "spare" and "store: enqueue the refill task" not in parts:
                            unused += 1  # no spare was taken (should not happen: pool refilled)
                        if way == "clone":
                            # Untimed for the hospitals: top every pool back up.
                            settings.HOSPITIUM_PG_SPARE_SCHEMAS = pool
                            refill_started = time.perf_counter()
                            refills = spares_refill()
                            built = sum(len(r.built) for r in refills)
                            if built:
                                refill_per_spare.append(
                                    (time.perf_counter() - refill_started) / built
                                )
        finally:
            steps.restore()
        finished = time.time()
        _common.maybe_wait_for_quiet()
        migrated = _migrate_samples(migrate_runs)

    def bookkeeping(way: str) -> list[float]:
        return [
            total - store for total, store in zip(totals[way], by_step[way]["store"], strict=True)
        ]

    result: dict[str, Any] = {
        "hospitals": hospitals,
        "servers": servers,
        "pool": pool,
        "utc": (
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started))
            + "–"
            + time.strftime("%H:%M:%S UTC", time.gmtime(finished))
        ),
        "template_build_ms": template_seconds * 1000,
        "first_fill_ms": fill_seconds * 1000,
        "first_fill_built": sum(len(r.built) for r in first_fill),
        "first_hospitals_ms": [round(s * 1000, 1) for s in warmup],
        "warm_pool": _common.summary_ms(totals["spare"]),
        "no_pool": _common.summary_ms(totals["clone"]),
        "spare_not_taken": unused,
        "steps_warm_pool": {label: _common.summary_ms(s) for label, s in by_step["spare"].items()},
        "steps_no_pool": {label: _common.summary_ms(s) for label, s in by_step["clone"].items()},
        "bookkeeping_warm_pool": _common.summary_ms(bookkeeping("spare")),
        "bookkeeping_no_pool": _common.summary_ms(bookkeeping("clone")),
        "refill_per_spare": _common.summary_ms(refill_per_spare),
        "statements_per_hospital_no_pool": queries_clone,
        "statements_per_hospital_warm_pool": queries_spare,
        "migrate_schema": _common.summary_ms(migrated),
        "target_median_ms": TARGET_MEDIAN_MS,
        "postgres_busy": others.postgres,
        "others_busy": others.others,
        "machine": machine,
    }
    result["met"] = result["warm_pool"]["median_ms"] <= TARGET_MEDIAN_MS
    result["met_without_pool"] = result["no_pool"]["median_ms"] <= TARGET_MEDIAN_MS
    result["speedup_vs_migrate"] = (
        result["migrate_schema"]["median_ms"] / result["no_pool"]["median_ms"]
    )
    return result


def report(result: dict[str, Any]) -> None:
    m = result["machine"]
    print(
        f"machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, Django {m['django']}, "
        f"PostgreSQL {m['postgresql']}; measured {result['utc']}"
    )
    print(
        f"PostgreSQL provisioning, {result['hospitals']} hospitals each way over "
        f"{result['servers']} servers, interleaved (pool off, refill, warm pool)"
    )
    print(
        "  template build (once per migration set and server): "
        f"{result['template_build_ms']:.0f} ms"
    )
    print(
        "  first hospitals (clone script built once per server), ms: "
        f"{result['first_hospitals_ms']}"
    )
    print(
        f"  first fill of the pools ({result['pool']} spares a server): "
        f"{result['first_fill_built']} spares in {result['first_fill_ms']:.0f} ms"
    )
    for way, title in (
        ("warm_pool", f"hospital_create, warm pool of {result['pool']} (a spare renamed)"),
        ("no_pool", "hospital_create, pool off (the template cloned)"),
    ):
        print(f"  {title}:")
        print(f"    {'total:':<36}{_common.fmt_ms(result[way])}")
        for label, stats in result[f"steps_{way}"].items():
            print(f"    {label + ':':<36}{_common.fmt_ms(stats)}")
        bookkeeping = result["bookkeeping_" + way]
        print(f"    {'bookkeeping (total - store):':<36}{_common.fmt_ms(bookkeeping)}")
        print(
            "    Django statements for one hospital, by alias: "
            f"{result['statements_per_hospital_' + way]}"
        )
    if result["spare_not_taken"]:
        print(f"  WARNING: {result['spare_not_taken']} warm-pool hospitals found no spare")
    print(
        "  refill per spare built (untimed above; a worker's job): "
        f"{_common.fmt_ms(result['refill_per_spare'])}"
    )
    print(f"  migrations into a fresh schema:   {_common.fmt_ms(result['migrate_schema'])}")
    print(f"  cloning is {result['speedup_vs_migrate']:.1f}x faster than migrating")
    print(
        f"  meanwhile the CPUs were busy with PostgreSQL {result['postgres_busy']:.0%}, "
        f"other processes (others) {result['others_busy']:.0%}"
    )
    print(
        f"  target median <= {TARGET_MEDIAN_MS:.0f} ms, judged on the warm pool: "
        f"{_common.verdict(result['met'])} ({result['warm_pool']['median_ms']:.1f} ms); "
        f"pool off: {_common.verdict(result['met_without_pool'])} "
        f"({result['no_pool']['median_ms']:.1f} ms)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hospitals", type=int, default=100)
    parser.add_argument("--migrate-runs", type=int, default=5)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument(
        "--pool", type=int, default=2, help="spare schemas per server for the warm-pool figure"
    )
    parser.add_argument("--pg", default=DEFAULT_PG, help="server URL without a database name")
    args = parser.parse_args()
    result = run(args.hospitals, args.migrate_runs, args.servers, args.pg, args.pool)
    report(result)
    _common.emit("pg_provisioning", result)


if __name__ == "__main__":
    main()
