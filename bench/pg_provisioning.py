"""Provisioning one hospital on PostgreSQL (a cloned schema), against running the migrations.

    .venv/bin/python -m bench.pg_provisioning [--hospitals 100] [--migrate-runs 5] [--servers 2]
                                              [--pg postgresql://postgres@127.0.0.1:5432]

Needs a PostgreSQL server where the user may create databases. The benchmark creates its own
databases (``hospitium_bench_pg_prov`` for the platform, ``…_s1``, ``…_s2`` for hospital servers)
and drops them at the end. Target: median hospital_create (no admin) ≤ 100 ms.

Also reported: the clone alone (PostgresStore.create: template check, CREATE SCHEMA and the clone
script, one transaction) against the platform-row bookkeeping (validation, the provisioning row
and its domain, activation), and building the same schema by running the hospital migrations
into a fresh schema (what PostgresStore.ensure_template does), median of a few runs.

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
from typing import Any

from bench import _common

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

        for pool in list(DatabaseWrapper._connection_pools.values()):
            pool.close()
        DatabaseWrapper._connection_pools.clear()
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
    store = stores.store_for_server(server)
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
        *(stores.store_for_server(s).server_alias for s in stores.configured_servers()),
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


def run(
    hospitals: int = 100, migrate_runs: int = 5, servers: int = 2, pg: str = DEFAULT_PG
) -> dict[str, Any]:
    with pg_home("prov", servers=servers, pg=pg):
        from hospitium.tenancy import provisioning
        from hospitium.tenancy.migration import ensure_template
        from hospitium.tenancy.stores.postgresql import PostgresStore

        machine = pg_machine()
        template_seconds, _name = _common.timed(ensure_template)
        # The first hospital on each server caches its clone script; time those on their own.
        warmup = provision_timed([f"W{i:05d}" for i in range(2 * servers)])
        queries = _query_count(lambda: provision_timed(["Q00000"]))

        steps = StepTimer()
        steps.wrap(provisioning, "validate_new_hospital", "validate")
        steps.wrap(provisioning, "_record", "record")
        steps.wrap(PostgresStore, "create", "clone")
        steps.wrap(PostgresStore, "ensure_template", "clone: template check")
        steps.wrap(PostgresStore, "clone_script", "clone: script (cached)")
        others = Load()
        try:
            with others:
                plain = provision_timed([f"P{i:05d}" for i in range(hospitals)])
        finally:
            steps.restore()
        step_stats = {label: _common.summary_ms(s) for label, s in steps.samples.items()}
        _common.maybe_wait_for_quiet()
        migrated = _migrate_samples(migrate_runs)

    bookkeeping = [
        total - clone for total, clone in zip(plain, steps.samples["clone"], strict=True)
    ]
    result: dict[str, Any] = {
        "hospitals": hospitals,
        "servers": servers,
        "template_build_ms": template_seconds * 1000,
        "first_hospitals_ms": [round(s * 1000, 1) for s in warmup],
        "no_admin": _common.summary_ms(plain),
        "steps": step_stats,
        "bookkeeping": _common.summary_ms(bookkeeping),
        "statements_per_hospital": queries,
        "migrate_schema": _common.summary_ms(migrated),
        "target_median_ms": TARGET_MEDIAN_MS,
        "postgres_busy": others.postgres,
        "others_busy": others.others,
        "machine": machine,
    }
    result["met"] = result["no_admin"]["median_ms"] <= TARGET_MEDIAN_MS
    result["speedup_vs_migrate"] = (
        result["migrate_schema"]["median_ms"] / result["no_admin"]["median_ms"]
    )
    return result


def report(result: dict[str, Any]) -> None:
    m = result["machine"]
    print(
        f"machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, Django {m['django']}, "
        f"PostgreSQL {m['postgresql']}, {m['date']}"
    )
    print(
        f"PostgreSQL provisioning, {result['hospitals']} hospitals over {result['servers']} servers"
    )
    print(
        "  template build (once per migration set and server): "
        f"{result['template_build_ms']:.0f} ms"
    )
    print(
        "  first hospitals (clone script built once per server), ms: "
        f"{result['first_hospitals_ms']}"
    )
    print(f"  hospital_create, no admin:        {_common.fmt_ms(result['no_admin'])}")
    for label, stats in result["steps"].items():
        print(f"    {label + ':':<28}    {_common.fmt_ms(stats)}")
    print(f"    {'bookkeeping (total - clone):':<28}    {_common.fmt_ms(result['bookkeeping'])}")
    print(f"  Django statements for one hospital, by alias: {result['statements_per_hospital']}")
    print(f"  migrations into a fresh schema:   {_common.fmt_ms(result['migrate_schema'])}")
    print(f"  cloning is {result['speedup_vs_migrate']:.1f}x faster than migrating")
    print(
        f"  meanwhile the CPUs were busy with PostgreSQL {result['postgres_busy']:.0%}, "
        f"other processes {result['others_busy']:.0%}"
    )
    print(
        f"  target median <= {TARGET_MEDIAN_MS:.0f} ms: {_common.verdict(result['met'])}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hospitals", type=int, default=100)
    parser.add_argument("--migrate-runs", type=int, default=5)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--pg", default=DEFAULT_PG, help="server URL without a database name")
    args = parser.parse_args()
    result = run(args.hospitals, args.migrate_runs, args.servers, args.pg)
    report(result)
    _common.emit("pg_provisioning", result)


if __name__ == "__main__":
    main()
