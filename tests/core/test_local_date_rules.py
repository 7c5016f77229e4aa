"""The day a stored moment falls on in the reporting time zone, as the rule triggers compute it
(SQLite: from the store's table of the zone's offsets, ``core.localdate``; PostgreSQL: its own
``AT TIME ZONE``), agrees with Python's zoneinfo — at every change of offset (a second and a
microsecond either side), on every quarter hour of the days the offset changes, and outside the
table's window — in zones with and without daylight saving, half-hour and 45-minute offsets, and
a zone that skipped a whole day. And the triggers refuse and accept rows at those boundaries."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import zoneinfo

import pytest
from django.db import connections

from hospitium.campaigns.models import Participation
from hospitium.core import localdate
from hospitium.encounters.models import Treatment
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.router import current_alias
from tests import factories, storehelp
from tests.campaigns import factories as cf
from tests.encounters import factories as enc
from tests.rulehelp import refused_by_database, reopen_hospital_connections

pytestmark = pytest.mark.django_db

ZONES = [
    "Europe/Paris",
    "America/New_York",
    "Australia/Lord_Howe",  # daylight saving of half an hour
    "Asia/Kolkata",  # +05:30, no daylight saving
    "Asia/Kathmandu",  # +05:45
    "America/St_Johns",  # -03:30 / -02:30
    "Pacific/Apia",  # skipped 30 December 2011 (-10:00 to +14:00)
    "Pacific/Kiritimati",  # +14:00
    "UTC",
]
YEARS = (1995, 2035)
UTC = dt.UTC
QUARTER = dt.timedelta(minutes=15)
SECOND = dt.timedelta(seconds=1)
MICRO = dt.timedelta(microseconds=1)


def _text(moment: dt.datetime) -> str:
    """A UTC moment as Django's SQLite backend stores it."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def _change_days(zone: zoneinfo.ZoneInfo) -> list[dt.datetime]:
    """UTC midnights of the days (in ``YEARS``) over which ``zone``'s offset changes, found by
    asking zoneinfo itself once a day."""
    days = []
    moment = dt.datetime(YEARS[0], 1, 1, tzinfo=UTC)
    offset = moment.astimezone(zone).utcoffset()
    while moment.year < YEARS[1]:
        following = moment + dt.timedelta(days=1)
        following_offset = following.astimezone(zone).utcoffset()
        if following_offset != offset:
            days.append(moment)
        moment, offset = following, following_offset
    return days


def _moments(name: str) -> list[dt.datetime]:
    zone = zoneinfo.ZoneInfo(name)
    moments = [
        dt.datetime(1850, 6, 1, 12, tzinfo=UTC),  # before the table's window: Python
        dt.datetime(1899, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        dt.datetime(1900, 1, 1, tzinfo=UTC),
        dt.datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC),
        dt.datetime(2100, 1, 1, tzinfo=UTC),  # from the window's end on: Python
        dt.datetime(2150, 7, 1, 3, tzinfo=UTC),
        dt.datetime(2026, 3, 29, 23, 59, 59, 999_999, tzinfo=UTC),  # date() would round it up
    ]
    for day in _change_days(zone):
        moments += [day + QUARTER * n for n in range(96)]
        moments += [day + QUARTER * n + edge for n in range(96) for edge in (-MICRO, SECOND)]
    for since, _shift in localdate.zone_spans(name)[1:-1]:
        change = dt.datetime.fromisoformat(since).replace(tzinfo=UTC)
        moments += [change - SECOND, change - MICRO, change, change + MICRO]
    assert len(moments) > 7 or name == "UTC"
    return moments


def _days_from_the_store(moments: list[dt.datetime]) -> list[str | None]:
    texts = [_text(moment) for moment in moments]
    with connections[current_alias(write=True)].cursor() as cursor:
        if storehelp.on_postgres():
            cursor.execute(
                "SELECT hospitium_local_date(m.x::timestamptz)::text "
                "FROM unnest(%s::text[]) WITH ORDINALITY AS m(x, n) ORDER BY m.n",
                [[f"{text}+00:00" for text in texts]],
            )
        else:
            day = localdate.sqlite_local_date("value")
            cursor.execute(
                f"SELECT {day} FROM json_each(%s) ORDER BY key",  # noqa: S608
                [json.dumps(texts)],
            )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize("name", ZONES)
def test_the_stores_local_day_is_zoneinfos_at_every_change_of_offset(hospital_a, settings, name):
    settings.TIME_ZONE = name
    zone = zoneinfo.ZoneInfo(name)
    moments = _moments(name)
    with hospital_context(hospital_a):
        reopen_hospital_connections()
        got = _days_from_the_store(moments)
        reopen_hospital_connections()
    expected = [moment.astimezone(zone).date().isoformat() for moment in moments]
    wrong = [(_text(m), g, e) for m, g, e in zip(moments, got, expected, strict=True) if g != e]
    assert wrong == []


def test_the_spans_cover_the_window_and_change_where_zoneinfo_changes():
    spans = localdate.zone_spans("Europe/Paris")
    assert spans[0][0] == "1900-01-01 00:00:00"
    assert spans[-1] == ("2100-01-01 00:00:00", None)
    assert ("2026-03-29 01:00:00", "+7200 seconds") in spans
    assert ("2026-10-25 01:00:00", "+3600 seconds") in spans
    assert localdate.zone_spans("UTC") == (
        ("1900-01-01 00:00:00", "+0 seconds"),
        ("2100-01-01 00:00:00", None),
    )


# --- the rules, at the boundaries -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("Europe/Paris", dt.datetime(2026, 3, 29, 1, tzinfo=UTC)),  # 02:00 becomes 03:00
        ("America/New_York", dt.datetime(2026, 11, 1, 6, tzinfo=UTC)),  # 02:00 becomes 01:00
        ("Australia/Lord_Howe", dt.datetime(2026, 4, 4, 15, tzinfo=UTC)),  # 02:00 → 01:30
        ("Pacific/Apia", dt.datetime(2011, 12, 30, 10, tzinfo=UTC)),  # the day it skipped
    ],
)
def test_the_treatment_and_campaign_rules_use_the_local_day_around_a_change(
    hospital_a, settings, name, change
):
    settings.TIME_ZONE = name
    zone = zoneinfo.ZoneInfo(name)
    with hospital_context(hospital_a):
        reopen_hospital_connections()
        for moment in (change - SECOND, change, change + SECOND, change + dt.timedelta(hours=23)):
            day = moment.astimezone(zone).date()
            visit = enc.visit(started_at=moment)
            enc.treatment(visit, performed_on=day)
            refused_by_database(
                "treatment_not_before_visit",
                lambda visit=visit, day=day: enc.treatment(visit, performed_on=day - enc.DAY),
            )
            # The campaign starts on the moment's local day, and one that ended the day before.
            for starts, accepted in ((day, True), (day - 2 * enc.DAY, False)):
                campaign = cf.campaign(starts_on=starts, ends_on=starts + enc.DAY)
                join = lambda campaign=campaign, moment=moment: Participation.objects.create(  # noqa: E731
                    campaign=campaign, patient=factories.patient(), joined_at=moment
                )
                if accepted:
                    join()
                else:
                    refused_by_database("participation_within_campaign", join)
        reopen_hospital_connections()


# --- SQLite: the table follows the setting --------------------------------------------------


def _raw_key() -> str | None:
    with connections[current_alias(write=True)].cursor() as cursor:
        cursor.execute("SELECT key FROM hospitium_time_zone")
        row = cursor.fetchone()
    return None if row is None else row[0]


@pytest.mark.sqlite_only
def test_the_store_follows_the_time_zone_setting_also_inside_a_transaction(hospital_a, settings):
    from django.db import transaction

    with hospital_context(hospital_a):
        assert _raw_key() == localdate.zone_key("UTC")
        settings.TIME_ZONE = "America/New_York"
        assert _raw_key() == localdate.zone_key("America/New_York")
        # Changed inside a transaction that rolls back: the change goes with it, and the next
        # transaction writes it again.
        settings.TIME_ZONE = "Europe/Paris"
        with pytest.raises(RuntimeError), transaction.atomic(using=current_alias(write=True)):
            assert _raw_key() == localdate.zone_key("Europe/Paris")
            raise RuntimeError("roll back")
        with transaction.atomic(using=current_alias(write=True)):
            assert _raw_key() == localdate.zone_key("Europe/Paris")
            visit = enc.visit(started_at=dt.datetime(2026, 3, 28, 23, 30, tzinfo=UTC))
            enc.treatment(visit, performed_on=dt.date(2026, 3, 29))  # 00:30 in Paris
        settings.TIME_ZONE = "UTC"
        assert _raw_key() == localdate.zone_key("UTC")


@pytest.mark.sqlite_only
def test_spans_another_process_left_for_another_zone_are_rewritten_by_the_next_transaction(
    hospital_a,
):
    with hospital_context(hospital_a):
        night = dt.datetime(2026, 11, 23, 2, tzinfo=UTC)
        visit = enc.visit(started_at=night)
        alias = current_alias(write=True)
        raw = connections[alias].connection
        # What a process configured for New York would have left behind.
        raw.execute("BEGIN IMMEDIATE")
        localdate.write_spans(raw, "America/New_York")
        raw.execute("COMMIT")
        # This process is in UTC: its next transaction puts the UTC spans back first.
        refused_by_database(
            "treatment_not_before_visit",
            lambda: enc.treatment(visit, performed_on=night.date() - enc.DAY),
        )
        assert _raw_key() == localdate.zone_key("UTC")


@pytest.mark.sqlite_only
def test_the_rule_triggers_read_the_offsets_table_after_migrating(hospital_a):
    with hospital_context(hospital_a), connections[current_alias(write=True)].cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND "
            "(name LIKE 'treatment_not_before_visit%' OR name LIKE 'participation_within%' "
            "OR name IN ('visit_start_not_after_treatment', 'campaign_dates_keep_participants'))"
        )
        triggers = dict(cursor.fetchall())
    assert len(triggers) == 6
    for name, sql in triggers.items():
        assert localdate.SPAN_TABLE in sql, name


@pytest.mark.sqlite_only
def test_a_connection_without_the_python_function_still_fails_closed(hospital_a):
    """The ``sqlite3`` shell has no ``hospitium_local_date`` (the triggers' fallback for moments
    outside the table's window): it cannot write the rows these rules guard at all."""
    with hospital_context(hospital_a):
        visit = enc.visit(started_at=dt.datetime(2026, 1, 5, 9, tzinfo=UTC))
        path = connections[current_alias(write=True)].settings_dict["NAME"]
    shell = sqlite3.connect(path, uri=True)
    try:
        with pytest.raises(sqlite3.OperationalError, match="hospitium_local_date"):
            shell.execute(
                "INSERT INTO encounters_treatment (id, created_at, updated_at, visit_id, "
                "procedure, performed_on, outcome, follow_up_required, void_reason) VALUES "
                "(?, '2026-01-05 10:00:00', '2026-01-05 10:00:00', ?, 'X', '2026-01-05', '', 0, '')",
                ("a" * 32, visit.pk.hex),
            )
    finally:
        shell.close()
    with hospital_context(hospital_a):
        assert not Treatment.objects.exists()
