"""Hospital stores on PostgreSQL: a schema per hospital (``hospital_<code>``) on one of the
configured servers, reached through one pooled connection alias per server (``server:NAME``)."""

from __future__ import annotations

import logging
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections, transaction

from hospitium.tenancy.context import HospitalRef
from hospitium.tenancy.errors import HospitalStoreUnavailable
from hospitium.tenancy.fingerprint import apply_hospital_migrations, hospital_fingerprint
from hospitium.tenancy.stores import registry
from hospitium.tenancy.stores.base import Store, StoreExists
from hospitium.tenancy.stores.schemas import (
    EXTENSIONS_SCHEMA,
    SERVER_PREFIX,
    schema_context,
    server_alias,
)

logger = logging.getLogger(__name__)

ENGINE = "hospitium.tenancy.backends.postgresql"
SCHEMA_PREFIX = "hospital_"
#: Templates, their build names and schemas set aside during a restore never start with
#: SCHEMA_PREFIX: a hospital code (A–Z, 0–9, _) could otherwise name one of them — until
#: 2026-11-22 the prefix was "hospital_tpl_", which a hospital coded TPL_<16 hex> shared, and a
#: template looked up by a future fingerprint would have been that hospital's schema, patients
#: and all.
TEMPLATE_PREFIX = "template_"
ASIDE_PREFIX = "aside_"
#: Spare schemas: ``spare_<fingerprint[:16]>_<random>``. Never ``hospital_…``, so no hospital
#: code can name one, and the fingerprint in the name keeps a spare of older migrations unused.
SPARE_PREFIX = "spare_"
#: First keys of the two-key advisory locks: one spare (second key: hashtext of its name), and
#: the refill of one server's pool (second key 0).
_SPARE_LOCK = 0x48535053
_REFILL_LOCK = 0x48535052
#: How many locked spares may turn out gone (taken and committed by another provisioner after
#: they were listed) before a provisioning clones instead. Spares another transaction holds
#: cost no attempt: the claim's one statement passes over them.
_TAKE_ATTEMPTS = 4
_SPARES = "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname LIKE %s ORDER BY nspname"
# The candidates are listed first (MATERIALIZED keeps the lock function away from other
# schemas), then locked one at a time without waiting: a spare another transaction holds is
# skipped, never waited for.
_CLAIM = """
    WITH candidates AS MATERIALIZED (
        SELECT nspname FROM pg_catalog.pg_namespace
        WHERE nspname LIKE %s AND NOT nspname = ANY(%s::text[]) ORDER BY nspname
    )
    SELECT nspname FROM candidates
    WHERE pg_catalog.pg_try_advisory_xact_lock(%s, pg_catalog.hashtext(nspname::text))
    LIMIT 1
"""
#: btree_gist: equality on scalar columns inside GiST exclusion constraints ("no overlap");
#: pg_trgm: the trigram index behind patient search.
EXTENSIONS = ("btree_gist", "pg_trgm")
_prepared: set[str] = set()
_TABLES = "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = %s ORDER BY tablename"


def schema_name(code: str) -> str:
    return SCHEMA_PREFIX + code.lower()


def spare_prefix(fingerprint: str | None = None) -> str:
    """The name prefix of spare schemas built for a fingerprint (default: the current one)."""
    return f"{SPARE_PREFIX}{(fingerprint or hospital_fingerprint())[:16]}_"


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"


def _checkpoint(step: str) -> None:
    """A named point inside PostgresStore.create's transaction. Tests replace it to inject a
    failure."""


def _enqueue_refill(server: str) -> None:
    from hospitium.tenancy.tasks import refill_spare_schemas

    refill_spare_schemas(server)


@dataclass
class SpareRefill:
    """What one refill of a server's pool did."""

    server: str
    target: int
    ready: list[str] = field(default_factory=list)
    built: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    #: Spares left in place because another transaction held them (being taken or dropped).
    busy: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def config_for_alias(alias: str) -> dict[str, Any]:
    from hospitium.settings.stores import postgres_settings

    name = alias[len(SERVER_PREFIX) :]
    try:
        url = settings.HOSPITIUM_HOSPITAL_SERVERS[name]
    except KeyError:
        raise HospitalStoreUnavailable(
            f"Server {name!r} is not configured (HOSPITIUM_HOSPITAL_SERVERS)."
        ) from None
    return postgres_settings(url, engine=ENGINE)


registry.add_resolver(SERVER_PREFIX, config_for_alias)


class PostgresStore(Store):
    kind = "postgresql"

    def __init__(self, server: str) -> None:
        self.server = server
        self.server_alias = server_alias(server)

    def alias(self, ref: HospitalRef) -> str:
        return self.server_alias

    def _connection(self) -> Any:
        # Registered like any routed use, so closing a hospital's connections closes this too.
        registry.touch(self.server_alias)
        return connections[self.server_alias]

    def store_name(self, code: str) -> str:
        return schema_name(code)

    def _cursor_value(self, query: str, params: tuple[Any, ...] = ()) -> Any:
        with self._connection().cursor() as cursor:
            cursor.execute(query, params)
            row = cursor.fetchone()
        return row[0] if row else None

    def schema_exists(self, schema: str) -> bool:
        query = "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s"
        return bool(self._cursor_value(query, (schema,)))

    def exists(self, ref: HospitalRef) -> bool:
        return self.schema_exists(ref.store_name)

    # -- template -------------------------------------------------------------------------

    def ensure_template(self) -> str:
        """The template schema for the current fingerprint on this server, built on first need.

        It is built under a private name and renamed into place (one catalog update), so a
        concurrent builder never sees half a template.
        """
        name = TEMPLATE_PREFIX + hospital_fingerprint()[:16]
        if self.schema_exists(name):
            return name
        building = f"{name}_b{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        self.prepare_server()
        with self._connection().cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {_q(building)}")
        try:
            with schema_context(self.server_alias, building):
                apply_hospital_migrations(self.server_alias)
            with transaction.atomic(using=self.server_alias):
                if self.schema_exists(name):  # another process finished first
                    raise _Superseded
                with self._connection().cursor() as cursor:
                    cursor.execute(f"ALTER SCHEMA {_q(building)} RENAME TO {_q(name)}")
        except _Superseded:
            self._drop(building)
        except BaseException:
            self._drop(building)
            raise
        logger.info(
            "built template schema %s on %s in %.2fs",
            name,
            self.server,
            time.perf_counter() - started,
        )
        return name

    def prepare_server(self) -> None:
        """Extensions that hospital schemas use live once per database, in their own schema
        (on every hospital's search path), never inside one hospital's schema."""
        if self.server in _prepared:
            return
        with self._connection().cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(EXTENSIONS_SCHEMA)}")
            for extension in EXTENSIONS:
                cursor.execute(
                    f"CREATE EXTENSION IF NOT EXISTS {_q(extension)} "
                    f"WITH SCHEMA {_q(EXTENSIONS_SCHEMA)}"
                )
        _prepared.add(self.server)

    def _drop(self, schema: str) -> None:
        with self._connection().cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {_q(schema)} CASCADE")

    def clone_script(self, template: str) -> str:
        """SQL that recreates the template's tables, data, constraints, indexes, trigger functions
        and triggers — with their names, which later migrations address — in the schema on the
        search path."""
        return _clone_script(self.server, template)

    def create(self, ref: HospitalRef) -> None:
        """Create the hospital's schema in one transaction: rename a spare of the current
        fingerprint into place when the pool has one, else clone the template. A failure leaves
        no schema (and a spare it took back in the pool). Raises StoreExists."""
        template = self.ensure_template()
        schema = ref.store_name
        spare: str | None = None
        # One transaction: PostgreSQL's DDL is transactional, so a failure leaves no schema.
        with transaction.atomic(using=self.server_alias), schema_context(self.server_alias, schema):
            if self.schema_exists(schema):
                raise StoreExists(schema)
            if settings.HOSPITIUM_PG_SPARE_SCHEMAS > 0:
                spare = self._take_spare(schema)
            if spare is not None:
                _checkpoint("spare taken")
                transaction.on_commit(
                    partial(_enqueue_refill, self.server), using=self.server_alias, robust=True
                )
            else:
                script = self.clone_script(template)
                with self._connection().cursor() as cursor:
                    cursor.execute(f"CREATE SCHEMA {_q(schema)}")
                    cursor.execute(script)
                _checkpoint("cloned")
        if spare is not None:
            logger.info("hospital schema %s on %s is the spare %s", schema, self.server, spare)

    # -- the pool of spare schemas -----------------------------------------------------------

    def spares(self) -> list[str]:
        """Every spare schema on this server, of any fingerprint, by name."""
        with self._connection().cursor() as cursor:
            cursor.execute(_SPARES, (_like_prefix(SPARE_PREFIX),))
            return [row[0] for row in cursor.fetchall()]

    def ready_spares(self) -> list[str]:
        """The spares of the current fingerprint on this server (the ones provisioning may
        take), by name."""
        prefix = spare_prefix()
        return [name for name in self.spares() if name.startswith(prefix)]

    def _take_spare(self, schema: str) -> str | None:
        """Inside the caller's transaction: lock a spare of the current fingerprint and rename
        it to ``schema``; return the spare's name, or None when none is free.

        The lock is an advisory transaction lock on the spare's name, tried without waiting, so
        two provisioners never take the same spare and never wait for each other. The list of
        candidates was read before the lock was granted, so the spare's existence is checked
        again after it (a new statement sees what committed meanwhile, under READ COMMITTED).
        """
        tried: list[str] = []
        pattern = _like_prefix(spare_prefix())
        with self._connection().cursor() as cursor:
            for _attempt in range(_TAKE_ATTEMPTS):
                cursor.execute(_CLAIM, (pattern, tried, _SPARE_LOCK))
                row = cursor.fetchone()
                if row is None:
                    return None
                spare: str = row[0]
                tried.append(spare)
                cursor.execute("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s", (spare,))
                if cursor.fetchone() is None:
                    continue  # taken (or dropped) and committed by another transaction
                cursor.execute(f"ALTER SCHEMA {_q(spare)} RENAME TO {_q(schema)}")
                return spare
        return None

    def drop_spare(self, name: str) -> bool:
        """Drop a spare unless another transaction holds it (it may be being taken right now);
        return whether it is gone. Raises ValueError for a name that is not a spare's."""
        if not name.startswith(SPARE_PREFIX):
            raise ValueError(f"{name!r} is not a spare schema")
        with transaction.atomic(using=self.server_alias), self._connection().cursor() as cursor:
            cursor.execute(
                "SELECT pg_catalog.pg_try_advisory_xact_lock(%s, pg_catalog.hashtext(%s))",
                (_SPARE_LOCK, name),
            )
            if not cursor.fetchone()[0]:
                return False
            # By name, as the catalog is now: a spare taken since it was listed is a hospital's
            # schema under another name, and this drops nothing.
            cursor.execute(f"DROP SCHEMA IF EXISTS {_q(name)} CASCADE")
        return True

    def refill_spares(self, target: int) -> SpareRefill:
        """Drop spares of other fingerprints and beyond ``target``, then build spares until
        ``target`` of the current fingerprint are ready. Refills of one server take turns (an
        advisory lock around each count-and-build), so two never overshoot the target.

        Raises what building the template or a spare raises (spares built before stay).
        """
        started = time.perf_counter()
        result = SpareRefill(self.server, target)
        prefix = spare_prefix()
        for name in self.spares():
            if not name.startswith(prefix):
                (result.dropped if self.drop_spare(name) else result.busy).append(name)
        if target > 0:
            template = self.ensure_template()
            script = self.clone_script(template)
            while True:
                name = prefix + uuid.uuid4().hex[:8]
                with (
                    transaction.atomic(using=self.server_alias),
                    schema_context(self.server_alias, name),
                ):
                    with self._connection().cursor() as cursor:
                        cursor.execute(
                            "SELECT pg_catalog.pg_advisory_xact_lock(%s, 0)", (_REFILL_LOCK,)
                        )
                    if len(self.ready_spares()) >= target:
                        break
                    with self._connection().cursor() as cursor:
                        cursor.execute(f"CREATE SCHEMA {_q(name)}")
                        cursor.execute(script)
                result.built.append(name)
        for name in self.ready_spares()[target:]:
            (result.dropped if self.drop_spare(name) else result.busy).append(name)
        result.ready = self.ready_spares()
        result.seconds = time.perf_counter() - started
        if result.built or result.dropped:
            logger.info(
                "spare schemas on %s: built %d, dropped %d, %d ready (%.2fs)",
                self.server,
                len(result.built),
                len(result.dropped),
                len(result.ready),
                result.seconds,
            )
        return result

    def remove(self, ref: HospitalRef) -> None:
        self._drop(ref.store_name)

    def migrate(self, ref: HospitalRef) -> list[str]:
        self.prepare_server()
        with schema_context(self.server_alias, ref.store_name):
            return apply_hospital_migrations(self.server_alias)

    # -- backups ----------------------------------------------------------------------------

    def _libpq_env(self) -> dict[str, str]:
        config = self._connection().settings_dict
        env = dict(os.environ)
        env.update(
            {
                "PGHOST": config["HOST"] or "",
                "PGPORT": str(config["PORT"] or "5432"),
                "PGUSER": config["USER"] or "",
                "PGDATABASE": config["NAME"],
            }
        )
        if config["PASSWORD"]:
            env["PGPASSWORD"] = config["PASSWORD"]
        return {k: v for k, v in env.items() if v != ""}

    def _run(self, args: list[str]) -> None:
        result = subprocess.run(
            args, env=self._libpq_env(), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stderr.strip()[:500]}")

    def backup(self, ref: HospitalRef, target: Path) -> None:
        self._run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                f"--schema={ref.store_name}",
                f"--file={target}",
            ]
        )

    def restore(self, ref: HospitalRef, source: Path) -> None:
        """Restore the schema from a ``pg_dump`` archive of it.

        The current schema is renamed aside first (one catalog update) and dropped only once the
        restore (one transaction) has succeeded; on failure it is renamed back.
        """
        schema = ref.store_name
        aside = f"{ASIDE_PREFIX}{uuid.uuid4().hex[:12]}_{schema}"[:63]
        self.close(ref)
        had_schema = self.schema_exists(schema)
        if had_schema:
            with self._connection().cursor() as cursor:
                cursor.execute(f"ALTER SCHEMA {_q(schema)} RENAME TO {_q(aside)}")
        try:
            self._run(
                [
                    "pg_restore",
                    "--no-owner",
                    "--single-transaction",
                    "--exit-on-error",
                    f"--dbname={self._libpq_env()['PGDATABASE']}",
                    str(source),
                ]
            )
            if not self.schema_exists(schema):
                raise RuntimeError(f"the archive holds no schema {schema}")
        except BaseException:
            self._drop(schema)
            if had_schema:
                with self._connection().cursor() as cursor:
                    cursor.execute(f"ALTER SCHEMA {_q(aside)} RENAME TO {_q(schema)}")
            raise
        if had_schema:
            self._drop(aside)

    def foreign_key_violations(self, ref: HospitalRef) -> list[tuple[str, str, str]]:
        return []  # PostgreSQL enforces every foreign key; there is nothing to scan for.

    def row_counts(self, ref: HospitalRef) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self._connection().cursor() as cursor:
            cursor.execute(
                _TABLES,
                (ref.store_name,),
            )
            for (table,) in cursor.fetchall():
                cursor.execute(f"SELECT count(*) FROM {_q(ref.store_name)}.{_q(table)}")
                counts[table] = cursor.fetchone()[0]
        return counts


class _Superseded(Exception):
    pass


@cache
def _clone_script(server: str, template: str) -> str:
    alias = server_alias(server)
    statements: list[str] = []
    registry.touch(alias)
    with schema_context(alias, template), connections[alias].cursor() as cursor:
        cursor.execute(_TABLES, (template,))
        tables = [row[0] for row in cursor.fetchall()]
        for table in tables:
            statements.append(
                f"CREATE TABLE {_q(table)} (LIKE {_q(template)}.{_q(table)} INCLUDING DEFAULTS "
                "INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)"
            )
            statements.append(f"INSERT INTO {_q(table)} SELECT * FROM {_q(template)}.{_q(table)}")
        cursor.execute(
            """
            SELECT cl.relname, con.conname, pg_catalog.pg_get_constraintdef(con.oid)
            FROM pg_catalog.pg_constraint con
            JOIN pg_catalog.pg_class cl ON cl.oid = con.conrelid
            JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
            WHERE n.nspname = %s AND con.contype IN ('p', 'u', 'x', 'c', 'f')
            ORDER BY CASE con.contype WHEN 'f' THEN 1 ELSE 0 END, cl.relname, con.conname
            """,
            (template,),
        )
        # One ALTER TABLE per table and kind (keys and checks first, foreign keys after every
        # key exists): fewer statements, fewer catalog round trips.
        grouped: dict[tuple[bool, str], list[str]] = {}
        for table, name, definition in cursor.fetchall():
            definition = definition.replace(f"{template}.", "").replace(f"{_q(template)}.", "")
            is_foreign = definition.startswith("FOREIGN KEY")
            grouped.setdefault((is_foreign, table), []).append(
                f"ADD CONSTRAINT {_q(name)} {definition}"
            )
        for (_is_foreign, table), clauses in sorted(grouped.items()):
            statements.append(f"ALTER TABLE {_q(table)} " + ", ".join(clauses))
        cursor.execute(
            """
            SELECT pg_catalog.pg_get_indexdef(i.indexrelid)
            FROM pg_catalog.pg_index i
            JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
            JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
            WHERE n.nspname = %s
              AND NOT EXISTS (
                SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = i.indexrelid
              )
            ORDER BY 1
            """,
            (template,),
        )
        for (definition,) in cursor.fetchall():
            statements.append(
                definition.replace(f" ON {template}.", " ON ").replace(
                    f" ON {_q(template)}.", " ON "
                )
            )
        # Trigger functions, then the triggers (audit append-only, payment totals, …).
        cursor.execute(
            """
            SELECT pg_catalog.pg_get_functiondef(p.oid) FROM pg_catalog.pg_proc p
            JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = %s ORDER BY p.proname
            """,
            (template,),
        )
        for (definition,) in cursor.fetchall():
            statements.append(
                definition.replace(f"{template}.", "").replace(f"{_q(template)}.", "")
            )
        cursor.execute(
            """
            SELECT pg_catalog.pg_get_triggerdef(t.oid) FROM pg_catalog.pg_trigger t
            JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = %s AND NOT t.tgisinternal ORDER BY t.tgname
            """,
            (template,),
        )
        for (definition,) in cursor.fetchall():
            statements.append(
                definition.replace(f"{template}.", "").replace(f"{_q(template)}.", "")
            )
        cursor.execute(
            """
            SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = %s AND is_identity = 'YES' ORDER BY 1, 2
            """,
            (template,),
        )
        for table, column in cursor.fetchall():
            statements.append(
                "SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence("
                f"'{_q(table)}', '{column}'), coalesce(max({_q(column)}), 1), "
                f"max({_q(column)}) IS NOT NULL) FROM {_q(table)}"
            )
    return ";\n".join(statements)
