"""Migration operations whose SQL differs per store (triggers and their functions)."""

from __future__ import annotations

from collections.abc import Sequence
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
