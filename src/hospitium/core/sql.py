"""Migration operations whose SQL differs per store (triggers and their functions)."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import migrations

#: Every vendor_sql step, in the order the migration modules were imported: (the migration's
#: module, forward statements per vendor). Read by ``declared_triggers`` so that a test can
#: compare what the migrations meant to create with what a migrated store has — on SQLite a
#: later migration that rebuilds a table (most AlterField, some AddField) silently drops its
#: triggers, and nothing else would notice.
DECLARED: list[tuple[str, dict[str, Sequence[str]]]] = []

_CREATE_TRIGGER = re.compile(r"^\s*CREATE\s+(?:CONSTRAINT\s+)?TRIGGER\s+\"?(\w+)", re.I)
_DROP_TRIGGER = re.compile(r"^\s*DROP\s+TRIGGER\s+(?:IF\s+EXISTS\s+)?\"?(\w+)", re.I)


def _calling_migration() -> str:
    """The module name of the migration file that is being imported (the caller's caller…)."""
    frame = sys._getframe(1)
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        if ".migrations." in name:
            return name
        frame = frame.f_back  # type: ignore[assignment]
    return ""


def declared_triggers(vendor: str, migrations_in_order: Sequence[tuple[str, str]]) -> set[str]:
    """The names of the triggers the given migrations leave behind on ``vendor``'s store.

    ``migrations_in_order`` is a plan of (app label, migration name), oldest first; the
    migrations must have been loaded (imported). Each vendor_sql step's CREATE TRIGGER adds a
    name and DROP TRIGGER removes one, in plan order.
    """
    steps: dict[str, list[Sequence[str]]] = {}
    for module, by_vendor in DECLARED:
        steps.setdefault(module, []).append(by_vendor.get(vendor, ()))
    names: set[str] = set()
    for app_label, name in migrations_in_order:
        for module, step_lists in steps.items():
            parts = module.split(".")
            if parts[-1] != name or parts[-2] != "migrations" or parts[-3] != app_label:
                continue
            for statements in step_lists:
                for statement in statements:
                    if created := _CREATE_TRIGGER.match(statement):
                        names.add(created.group(1))
                    elif dropped := _DROP_TRIGGER.match(statement):
                        names.discard(dropped.group(1))
    return names


def vendor_sql(
    *,
    sqlite: Sequence[str],
    postgresql: Sequence[str],
    reverse_sqlite: Sequence[str] = (),
    reverse_postgresql: Sequence[str] = (),
) -> migrations.RunPython:
    """A migration step that runs the statements written for the store it migrates."""
    DECLARED.append((_calling_migration(), {"sqlite": sqlite, "postgresql": postgresql}))

    def run(statements: dict[str, Sequence[str]]) -> Any:
        def apply(apps: Any, schema_editor: Any) -> None:
            for statement in statements.get(schema_editor.connection.vendor, ()):
                schema_editor.execute(statement, params=None)

        return apply

    return migrations.RunPython(
        run({"sqlite": sqlite, "postgresql": postgresql}),
        run({"sqlite": reverse_sqlite, "postgresql": reverse_postgresql}),
    )


@dataclass(frozen=True)
class Guard:
    """A row trigger that refuses a write, on both stores, with one message.

    ``condition`` is one SQL boolean expression over ``NEW``/``OLD`` (and subqueries) that both
    stores understand; when it holds, the write is aborted with ``CHECK constraint failed:
    <rule>`` — an IntegrityError on both stores, which ``core.db.broken_rule`` reads back. The
    trigger runs *before* the row is written, inside the writing statement: on SQLite within the
    serialised (``BEGIN IMMEDIATE``) write transaction, on PostgreSQL as a row trigger (not
    deferred), so the service that caused it can answer at once.
    """

    name: str
    rule: str
    table: str
    event: str  # "INSERT", "UPDATE OF a, b" or "DELETE"
    condition: str

    @property
    def message(self) -> str:
        return f"CHECK constraint failed: {self.rule}"

    def sqlite(self) -> str:
        return (
            f"CREATE TRIGGER {self.name} BEFORE {self.event} ON {self.table} "
            f"WHEN {self.condition} BEGIN SELECT RAISE(ABORT, '{self.message}'); END"
        )

    def postgresql(self) -> list[str]:
        returned = "OLD" if self.event == "DELETE" else "NEW"
        return [
            f"CREATE FUNCTION {self.name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n    IF {self.condition} THEN\n"
            f"        RAISE EXCEPTION '{self.message}' USING ERRCODE = 'check_violation';\n"
            f"    END IF;\n    RETURN {returned};\nEND $$",
            f"CREATE TRIGGER {self.name} BEFORE {self.event} ON {self.table} "
            f"FOR EACH ROW EXECUTE FUNCTION {self.name}()",
        ]


def guards(*items: Guard) -> migrations.RunPython:
    """A migration step that creates these guards (and drops them when unapplied)."""
    return vendor_sql(
        sqlite=[guard.sqlite() for guard in items],
        postgresql=[sql for guard in items for sql in guard.postgresql()],
        reverse_sqlite=[f"DROP TRIGGER IF EXISTS {guard.name}" for guard in items],
        reverse_postgresql=[
            sql
            for guard in items
            for sql in (
                f"DROP TRIGGER IF EXISTS {guard.name} ON {guard.table}",
                f"DROP FUNCTION IF EXISTS {guard.name}()",
            )
        ],
    )


def drop_single_column_index(table: str, column: str) -> migrations.RunPython:
    """A migration step that drops the plain index Django made on ``table.column`` for a foreign
    key (its name is generated, so it is looked up), and creates it again when unapplied.

    For a foreign key whose column leads a composite index, which serves every look-up the
    single-column index did; dropping it saves an index write per row. A plain ``DROP INDEX``:
    on SQLite an ``AlterField`` would rebuild the table, which drops its raw triggers.
    """

    def index_names(schema_editor: Any) -> list[str]:
        connection = schema_editor.connection
        with connection.cursor() as cursor:
            found = connection.introspection.get_constraints(cursor, table)
        return [
            name
            for name, info in found.items()
            if info["index"]
            and info["columns"] == [column]
            and not info["unique"]
            and not info["primary_key"]
        ]

    def forwards(apps: Any, schema_editor: Any) -> None:
        quote = schema_editor.quote_name
        for name in index_names(schema_editor):
            schema_editor.execute(f"DROP INDEX {quote(name)}", params=None)

    def backwards(apps: Any, schema_editor: Any) -> None:
        if index_names(schema_editor):
            return
        quote = schema_editor.quote_name
        name = schema_editor._create_index_name(table, [column])
        schema_editor.execute(
            f"CREATE INDEX {quote(name)} ON {quote(table)} ({quote(column)})", params=None
        )

    return migrations.RunPython(forwards, backwards)
