"""Foreign keys that lead a composite index have no index of their own (each row written would
pay for both), on both stores; the composite index still serves a look-up by the key alone."""

from __future__ import annotations

import pytest
from django.db import connections

from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.router import current_alias

pytestmark = pytest.mark.django_db

LED_BY = {
    ("scheduling_appointment", "practitioner_id"): "appt_practitioner_start",
    ("encounters_visit", "patient_id"): "visit_patient_started",
    ("admissions_admission", "patient_id"): "admission_patient_discharged",
    ("admissions_admission", "bed_id"): "admission_bed_admitted",
}


def test_keys_leading_a_composite_index_have_none_of_their_own(hospital_a):
    with hospital_context(hospital_a):
        connection = connections[current_alias(write=True)]
        with connection.cursor() as cursor:
            for (table, column), composite in LED_BY.items():
                found = connection.introspection.get_constraints(cursor, table)
                indexes = {name: info["columns"] for name, info in found.items() if info["index"]}
                assert indexes[composite][0] == column, (table, composite)
                assert [name for name, cols in indexes.items() if cols == [column]] == [], table


@pytest.mark.sqlite_only
def test_a_look_up_by_the_key_alone_seeks_the_composite_index(hospital_a):
    with hospital_context(hospital_a), connections[current_alias(write=False)].cursor() as cursor:
        for (table, column), _composite in LED_BY.items():
            cursor.execute(f"EXPLAIN QUERY PLAN SELECT id FROM {table} WHERE {column} = %s", ["x"])  # noqa: S608
            plan = " ".join(str(step[-1]) for step in cursor.fetchall())
            assert plan.startswith("SEARCH") and f"({column}=?)" in plan, plan
