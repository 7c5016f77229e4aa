"""Every rule trigger of a SQLite hospital store looks rows up by index: writing a row costs a
few index seeks per rule, however big the store (the demo generator writes millions of rows
through them). Checked on the query plans SQLite makes for each trigger's condition and body."""

from __future__ import annotations

import re

import pytest
from django.db import connections

from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.router import current_alias

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite_only]

_HEAD = re.compile(r"^CREATE TRIGGER .*? (?:WHEN (?P<when>.*?) )?BEGIN (?P<body>.*) END$", re.S)


def _plans(sql: str) -> list[str]:
    parts = _HEAD.match(sql)
    assert parts, sql
    # A body may hold several statements (the search index's update trigger deletes, then
    # inserts); none of the triggers has a semicolon inside a string.
    queries = [q.strip() for q in parts["body"].split(";") if q.strip()]
    if parts["when"]:
        queries.append(f"SELECT 1 WHERE {parts['when']}")
    plans: list[str] = []
    with connections[current_alias(write=False)].cursor() as cursor:
        for query in queries:
            query = re.sub(r"RAISE\([^)]*\)", "1", query)  # RAISE is allowed only in triggers
            query = re.sub(r'\b(?:NEW|OLD)\."?\w+"?', "NULL", query, flags=re.I)
            cursor.execute("EXPLAIN QUERY PLAN " + query)
            plans += [str(step[-1]) for step in cursor.fetchall()]
    return plans


def test_every_rule_trigger_seeks_and_never_scans_a_table(hospital_a):
    with hospital_context(hospital_a), connections[current_alias(write=False)].cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        triggers = cursor.fetchall()
    assert len(triggers) >= 35
    scans = {}
    with hospital_context(hospital_a):
        for name, sql in triggers:
            steps = _plans(sql)
            bad = [s for s in steps if s.startswith("SCAN") and "CONSTANT ROW" not in s]
            if bad:
                scans[name] = bad
    assert scans == {}
