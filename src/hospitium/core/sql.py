"""Migration operations whose SQL differs per store (triggers and their functions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import migrations


def vendor_sql(
    *,
    sqlite: Sequence[str],
    postgresql: Sequence[str],
    reverse_sqlite: Sequence[str] = (),
    reverse_postgresql: Sequence[str] = (),
) -> migrations.RunPython:
    """A migration step that runs the statements written for the store it migrates."""

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
