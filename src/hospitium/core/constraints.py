"""Database constraints that Django does not offer portably.

``NoOverlap``: among rows that match ``condition`` and agree on the ``partition`` fields, no two
``[start, end)`` periods overlap ("a practitioner never has two overlapping active bookings").
PostgreSQL enforces it with an exclusion constraint (GiST, with btree_gist for the equality
parts); SQLite with triggers that abort the write, which run inside the writing transaction —
and since SQLite writes are serialised (IMMEDIATE transactions), no two writers can both pass.
Both raise IntegrityError; ``validate`` gives the clear message before the database is reached.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, migrations, models
from django.db.backends.ddl_references import Statement, Table
from django.db.models.constraints import BaseConstraint
from django.db.models.sql.query import Query

#: What an open period ends at on SQLite (stored datetimes are text there).
FOREVER = "9999-12-31 23:59:59.999999"


class TsTzRange(models.Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class NoOverlap(BaseConstraint):
    """No two matching rows of one partition have overlapping ``[start, end)`` periods.

    ``start`` must be non-null. ``end`` may be null only with ``open_ended=True``, where a null
    end means "not yet ended" (an admission before discharge) on both stores.
    """

    def __init__(
        self,
        *,
        name: str,
        start: str,
        end: str,
        partition: list[str],
        condition: models.Q | None = None,
        open_ended: bool = False,
        violation_error_message: str | None = None,
    ) -> None:
        self.open_ended = open_ended
        self.start = start
        self.end = end
        self.partition = list(partition)
        self.condition = condition
        super().__init__(name=name, violation_error_message=violation_error_message)

    # -- PostgreSQL ----------------------------------------------------------------------------

    def _exclusion(self) -> ExclusionConstraint:
        expressions: list[tuple[Any, str]] = [
            (field, RangeOperators.EQUAL) for field in self.partition
        ]
        expressions.append(
            (TsTzRange(self.start, self.end, models.Value("[)")), RangeOperators.OVERLAPS)
        )
        return ExclusionConstraint(
            name=self.name,
            expressions=expressions,
            condition=self.condition,
            violation_error_message=self.violation_error_message,
        )

    # -- SQLite ----------------------------------------------------------------------------------

    def _condition_sql(self, model: Any, schema_editor: Any, *, row: str = "") -> str:
        """The condition in SQL over the table's columns, or over ``row`` (``NEW``) if given."""
        if self.condition is None:
            return "1"
        query = Query(model, alias_cols=bool(row))
        compiler = query.get_compiler(connection=schema_editor.connection)
        sql, params = query.build_where(self.condition).as_sql(compiler, schema_editor.connection)
        sql = sql % tuple(schema_editor.quote_value(p) for p in params)
        if row:
            # Compiled with the columns qualified by the table's name: qualify them by the row.
            sql = sql.replace(schema_editor.quote_name(model._meta.db_table) + ".", f"{row}.")
        return sql

    def _trigger_sql(self, model: Any, schema_editor: Any, event: str) -> Statement:
        q = schema_editor.quote_name
        meta = model._meta
        pk = q(meta.pk.column)
        start, end = q(meta.get_field(self.start).column), q(meta.get_field(self.end).column)
        same = " AND ".join(
            f"{c} = NEW.{c}" for c in (q(meta.get_field(f).column) for f in self.partition)
        )
        condition = self._condition_sql(model, schema_editor)
        # Stored datetimes compare as text on SQLite; this sorts after every real one.
        new_end = f"COALESCE(NEW.{end}, '{FOREVER}')" if self.open_ended else f"NEW.{end}"
        # One index seek per check, whatever the partition's history: an index on
        # (partition, end) finds the rows that end after the new row starts (or have not ended).
        # The unary + keeps SQLite from choosing a (partition, start) index instead, which
        # would walk every earlier row of the partition (measured: the demo slowed as it grew).
        table = "\x00"  # stands for the table until the text is escaped for Statement's %
        others = (
            f"SELECT 1 FROM {table} WHERE {same or '1'} AND {{ends}} AND +{start} < {new_end} "
            f"AND {pk} <> NEW.{pk} AND ({condition})"
        )
        clash = "EXISTS (" + others.replace("{ends}", f"{end} > NEW.{start}") + ")"
        if self.open_ended:
            clash = f"({clash} OR EXISTS (" + others.replace("{ends}", f"{end} IS NULL") + "))"
        # Only a row that meets the condition can clash: tested on NEW in the WHEN clause, so a
        # row that does not (a fulfilled appointment, a voided stay) costs no look-up at all.
        # (Until 2026-11-22 this read the row back by primary key, for every row written.)
        mine = self._condition_sql(model, schema_editor, row="NEW")
        where = clash.replace("%", "%%").replace(table, "%(table)s")
        message = f"CHECK constraint failed: {self.name}".replace("'", "''")
        return Statement(
            "CREATE TRIGGER %(trigger)s AFTER %(event)s ON %(table)s WHEN "
            + mine.replace("%", "%%")
            + " BEGIN SELECT RAISE(ABORT, '%(message)s') WHERE "
            + where
            + "; END",
            trigger=q(f"{self.name}_{event.lower()}"),
            event=event,
            table=Table(meta.db_table, q),
            message=message,
        )

    def drop_sqlite_triggers_sql(self, schema_editor: Any) -> list[str]:
        q = schema_editor.quote_name
        return [f"DROP TRIGGER IF EXISTS {q(f'{self.name}_{e}')}" for e in ("insert", "update")]

    # -- Django's constraint interface -------------------------------------------------------

    def constraint_sql(self, model: Any, schema_editor: Any) -> Any:
        if schema_editor.connection.vendor == "postgresql":
            return self._exclusion().constraint_sql(model, schema_editor)
        # Triggers cannot be part of CREATE TABLE: they follow it (also when SQLite's schema
        # editor rebuilds a table, since the statements track the table's renames).
        schema_editor.deferred_sql.extend(
            self._trigger_sql(model, schema_editor, event) for event in ("INSERT", "UPDATE")
        )
        return None

    def create_sql(self, model: Any, schema_editor: Any) -> Any:
        if schema_editor.connection.vendor == "postgresql":
            return self._exclusion().create_sql(model, schema_editor)
        # SQLite runs one statement per call: the second trigger follows as deferred SQL.
        schema_editor.deferred_sql.append(self._trigger_sql(model, schema_editor, "UPDATE"))
        return self._trigger_sql(model, schema_editor, "INSERT")

    def remove_sql(self, model: Any, schema_editor: Any) -> Any:
        if schema_editor.connection.vendor == "postgresql":
            return self._exclusion().remove_sql(model, schema_editor)
        insert, update = self.drop_sqlite_triggers_sql(schema_editor)
        schema_editor.deferred_sql.append(update)
        return insert

    def validate(
        self,
        model: Any,
        instance: Any,
        exclude: Any = None,
        using: str = DEFAULT_DB_ALIAS,
    ) -> None:
        """Raise ValidationError when ``instance`` would overlap a stored row."""
        fields = {self.start, self.end, *self.partition}
        if exclude and fields & set(exclude):
            return
        if self.condition is not None and not models.Q(self.condition).check(
            {f.name: getattr(instance, f.attname) for f in model._meta.concrete_fields}, using=using
        ):
            return
        end_value = getattr(instance, self.end)
        overlapping = models.Q(**{f"{self.end}__gt": getattr(instance, self.start)})
        if self.open_ended:
            overlapping |= models.Q(**{f"{self.end}__isnull": True})
        if end_value is not None:
            overlapping &= models.Q(**{f"{self.start}__lt": end_value})
        queryset = model._base_manager.using(using).filter(
            overlapping,
            **{
                model._meta.get_field(f).attname: getattr(
                    instance, model._meta.get_field(f).attname
                )
                for f in self.partition
            },
        )
        if self.condition is not None:
            queryset = queryset.filter(self.condition)
        if not instance._state.adding and instance.pk is not None:
            queryset = queryset.exclude(pk=instance.pk)
        if queryset.exists():
            raise ValidationError(
                self.get_violation_error_message(), code=self.violation_error_code
            )

    def deconstruct(self) -> Any:
        path, args, kwargs = super().deconstruct()
        kwargs.update({"start": self.start, "end": self.end, "partition": self.partition})
        if self.open_ended:
            kwargs["open_ended"] = True
        if self.condition is not None:
            kwargs["condition"] = self.condition
        return path, args, kwargs

    def __eq__(self, other: object) -> bool:
        if isinstance(other, NoOverlap):
            return (
                self.name == other.name
                and self.start == other.start
                and self.end == other.end
                and self.partition == other.partition
                and self.condition == other.condition
                and self.open_ended == other.open_ended
                and self.violation_error_message == other.violation_error_message
            )
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash((self.name, self.start, self.end, tuple(self.partition)))


def rebuild_sqlite_triggers(app_label: str, model_name: str) -> migrations.RunPython:
    """A migration step that recreates a model's NoOverlap triggers on SQLite from the current
    code (PostgreSQL's exclusion constraints are untouched): for a change in how the triggers
    are written, which Django's migration state cannot see."""

    def apply(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "sqlite":
            return
        model = apps.get_model(app_label, model_name)
        for constraint in model._meta.constraints:
            if isinstance(constraint, NoOverlap):
                for statement in constraint.drop_sqlite_triggers_sql(schema_editor):
                    schema_editor.execute(statement, params=None)
                for event in ("INSERT", "UPDATE"):
                    trigger = constraint._trigger_sql(model, schema_editor, event)
                    schema_editor.execute(str(trigger), params=None)

    return migrations.RunPython(apply, migrations.RunPython.noop)
