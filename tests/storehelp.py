"""Reaching a hospital's store behind Django's back, on either kind of store: what a buggy
script, a crash or an operator would do, so tests can plant damage and look at raw state."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
from django.conf import settings

from hospitium.tenancy import stores
from hospitium.tenancy.models import Hospital


def on_postgres() -> bool:
    return bool(settings.HOSPITIUM_HOSPITAL_SERVERS)


def _server_url(server: str) -> str:
    return settings.HOSPITIUM_HOSPITAL_SERVERS[server]


def raw_execute(code: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement in a hospital's store on a fresh connection; commit; return the rows.

    Write placeholders as ``%s``; they are translated for SQLite.
    """
    hospital = Hospital.objects.get(code=code)
    if not hospital.server:
        raw = sqlite3.connect(stores.store_path(code))
        try:
            cursor = raw.execute(sql.replace("%s", "?"), params)
            rows = cursor.fetchall()
            raw.commit()
            return rows
        finally:
            raw.close()
    with psycopg.connect(_server_url(hospital.server), autocommit=True) as raw:
        raw.execute(f'SET search_path TO "{hospital.store_name}"')
        cursor = raw.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def table_names(code: str) -> set[str]:
    hospital = Hospital.objects.get(code=code)
    if not hospital.server:
        rows = raw_execute(code, "select name from sqlite_master where type = 'table'")
    else:
        rows = raw_execute(
            code, "select tablename from pg_tables where schemaname = %s", (hospital.store_name,)
        )
    return {row[0] for row in rows}


def column_names(code: str, table: str) -> set[str]:
    hospital = Hospital.objects.get(code=code)
    if not hospital.server:
        return {row[1] for row in raw_execute(code, f'PRAGMA table_info("{table}")')}
    rows = raw_execute(
        code,
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
        (hospital.store_name, table),
    )
    return {row[0] for row in rows}


def schema_signature(code: str) -> list[tuple[Any, ...]]:
    """Everything that defines a hospital store's schema, in a comparable form: tables, columns,
    indexes, constraints and triggers (with the store's own name taken out)."""
    hospital = Hospital.objects.get(code=code)
    if not hospital.server:
        return raw_execute(
            code,
            "select type, name, tbl_name, sql from sqlite_master "
            "where name not like 'sqlite_%' order by type, name",
        )
    schema = hospital.store_name
    queries = [
        "select 'column', table_name, column_name, data_type, is_nullable, "
        "coalesce(column_default, '') from information_schema.columns "
        "where table_schema = %s order by 2, 3",
        "select 'index', tablename, indexname, replace(indexdef, %s, 'S') from pg_indexes "
        "where schemaname = %s order by 2, 3",
        "select 'constraint', c.relname, k.conname, pg_get_constraintdef(k.oid) "
        "from pg_constraint k join pg_class c on c.oid = k.conrelid "
        "join pg_namespace n on n.oid = c.relnamespace where n.nspname = %s order by 2, 3, 4",
        "select 'trigger', c.relname, t.tgname from pg_trigger t "
        "join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and not t.tgisinternal order by 2, 3",
    ]
    rows: list[tuple[Any, ...]] = []
    for sql in queries:
        params = (f'"{schema}"', schema) if "replace(" in sql else (schema,)
        rows += raw_execute(code, sql, params)
    # A schema-qualified name that pg_indexes printed without quotes.
    return [tuple(str(v).replace(f"{schema}.", "S.") for v in row) for row in rows]


def existing_stores() -> list[str]:
    """Every hospital store that exists (files, or schemas on every server), templates aside."""
    if not on_postgres():
        folder = stores.hospitals_dir()
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    names: list[str] = []
    for server, url in settings.HOSPITIUM_HOSPITAL_SERVERS.items():
        with psycopg.connect(url, autocommit=True) as raw:
            rows = raw.execute(
                "select nspname from pg_namespace where nspname like 'hospital\\_%%' order by 1"
            ).fetchall()
        names += [f"{server}/{row[0]}" for row in rows]
    return names


def remove_store_behind_our_back(code: str) -> None:
    """Make a store vanish, as a lost disk or a careless DROP would."""
    hospital = Hospital.objects.get(code=code)
    stores.close_hospital_connections()
    if not hospital.server:
        stores.store_path(code).unlink()
    else:
        with psycopg.connect(_server_url(hospital.server), autocommit=True) as raw:
            raw.execute(f'DROP SCHEMA "{hospital.store_name}" CASCADE')


def create_server_databases() -> None:
    """The databases that stand in for hospital servers exist before the run."""
    from urllib.parse import urlparse

    for url in settings.HOSPITIUM_HOSPITAL_SERVERS.values():
        parsed = urlparse(url)
        admin = parsed._replace(path="/postgres").geturl()
        name = parsed.path.lstrip("/")
        with psycopg.connect(admin, autocommit=True) as raw:
            exists = raw.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
            if not exists:
                raw.execute(f'CREATE DATABASE "{name}"')


def spare_schemas(server: str) -> list[str]:
    """The spare schemas on a server (any fingerprint), read behind the store's back."""
    with psycopg.connect(_server_url(server), autocommit=True) as raw:
        rows = raw.execute(
            "select nspname from pg_namespace where nspname like 'spare\\_%%' order by 1"
        ).fetchall()
    return [row[0] for row in rows]


def drop_all_hospital_schemas() -> None:
    """Between tests on PostgreSQL: remove every hospital schema and every spare (templates
    stay), so each test starts with an empty pool."""
    for url in settings.HOSPITIUM_HOSPITAL_SERVERS.values():
        with psycopg.connect(url, autocommit=True) as raw:
            rows = raw.execute(
                "select nspname from pg_namespace where nspname like 'hospital\\_%%' "
                "or nspname like 'spare\\_%%' or nspname like 'aside\\_%%'"
            ).fetchall()
            for (name,) in rows:
                raw.execute(f'DROP SCHEMA "{name}" CASCADE')
