"""A diagnosis's code is a WHO ICD-10 diagnosis code, in the database too: the code list becomes
a table of every hospital store (12,246 categories and subcategories; no chapters or blocks),
and ``encounters_diagnosis.code`` a real foreign key to it. The column keeps its name and
values; only the foreign key is added (on SQLite by rebuilding the table, as Django does).

A treatment is not dated before its visit's start day (in the reporting time zone, as the
service compares): triggers on the treatment (its date, its visit) and on the visit (its start).
"""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

import hospitium.encounters.models
from hospitium.core.sql import Guard, guards

from . import _icd10_who_2019 as who_2019


class ReplaceField(migrations.operations.base.Operation):
    """Replace a field by another of a new name on the same column, altering the column in place
    (``schema_editor.alter_field``) instead of dropping and adding it, so its data stays."""

    reduces_to_sql = False
    reversible = True

    def __init__(self, model_name: str, old_name: str, new_name: str, field: Any) -> None:
        self.model_name, self.old_name, self.new_name, self.field = (
            model_name,
            old_name,
            new_name,
            field,
        )
        self._old: Any = None

    def deconstruct(self) -> Any:
        kwargs = {
            "model_name": self.model_name,
            "old_name": self.old_name,
            "new_name": self.new_name,
            "field": self.field,
        }
        return (self.__class__.__qualname__, [], kwargs)

    def state_forwards(self, app_label: str, state: Any) -> None:
        model_state = state.models[app_label, self.model_name]
        self._old = model_state.fields[self.old_name]
        state.remove_field(app_label, self.model_name, self.old_name)
        state.add_field(app_label, self.model_name, self.new_name, self.field, True)

    def _alter(
        self, schema_editor: Any, from_state: Any, to_state: Any, old: str, new: str
    ) -> None:
        from_model = from_state.apps.get_model(self.app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, from_model):
            return
        to_model = to_state.apps.get_model(self.app_label, self.model_name)
        schema_editor.alter_field(
            from_model, from_model._meta.get_field(old), to_model._meta.get_field(new)
        )

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        self.app_label = app_label
        self._alter(schema_editor, from_state, to_state, self.old_name, self.new_name)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        self.app_label = app_label
        self._alter(schema_editor, from_state, to_state, self.new_name, self.old_name)

    def describe(self) -> str:
        return f"Replace {self.model_name}.{self.old_name} by {self.new_name}, same column"


def load_codes(apps: Any, schema_editor: Any) -> None:
    code_model = apps.get_model("encounters", "Icd10Code")
    alias = schema_editor.connection.alias
    code_model.objects.using(alias).bulk_create(
        [code_model(code=code) for code in who_2019.CODES], batch_size=4000
    )


def unload_codes(apps: Any, schema_editor: Any) -> None:
    apps.get_model("encounters", "Icd10Code").objects.using(
        schema_editor.connection.alias
    ).all().delete()


START_DAY = "hospitium_local_date({started_at})"

TREATMENT_GUARDS = [
    Guard(
        name=f"treatment_not_before_visit_{suffix}",
        rule="treatment_not_before_visit",
        table="encounters_treatment",
        event=event,
        condition=(
            "NEW.voided_at IS NULL AND EXISTS (SELECT 1 FROM encounters_visit v "
            "WHERE v.id = NEW.visit_id AND NEW.performed_on < "
            + START_DAY.format(started_at="v.started_at")
            + ")"
        ),
    )
    for suffix, event in (
        ("insert", "INSERT"),
        ("update", "UPDATE OF performed_on, visit_id, voided_at"),
    )
]
VISIT_GUARD = Guard(
    name="visit_start_not_after_treatment",
    rule="treatment_not_before_visit",
    table="encounters_visit",
    event="UPDATE OF started_at",
    condition=(
        "EXISTS (SELECT 1 FROM encounters_treatment t WHERE t.visit_id = NEW.id "
        "AND t.voided_at IS NULL AND t.performed_on < "
        + START_DAY.format(started_at="NEW.started_at")
        + ")"
    ),
)


class Migration(migrations.Migration):
    dependencies = [
        ("encounters", "0001_initial"),
        ("patients", "0003_local_date_function"),
    ]

    operations = [
        migrations.CreateModel(
            name="Icd10Code",
            fields=[("code", models.CharField(max_length=10, primary_key=True, serialize=False))],
            options={"verbose_name": "ICD-10 code"},
        ),
        migrations.RunPython(load_codes, unload_codes),
        ReplaceField(
            model_name="diagnosis",
            old_name="code",
            new_name="icd10",
            field=hospitium.encounters.models.ForeignKeyAs(
                attname="code",
                db_column="code",
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="encounters.icd10code",
                verbose_name="ICD-10 code",
            ),
        ),
        guards(*TREATMENT_GUARDS, VISIT_GUARD),
    ]
