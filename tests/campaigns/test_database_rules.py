"""Joining a campaign within its dates is the database's rule too (both stores), compared by
the day in the reporting time zone, as the service does."""

from __future__ import annotations

import datetime as dt

import pytest

from hospitium.campaigns import services
from hospitium.campaigns.models import Campaign, Participation
from hospitium.campaigns.services import campaign_update, participation_join
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.campaigns import factories as cf
from tests.campaigns.factories import DURING, ENDS, STARTS
from tests.rulehelp import (
    refused_by_database,
    reopen_hospital_connections,
    same_error_from_the_database,
)

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def first_moment(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def test_joining_outside_the_dates_is_refused_straight_through_the_orm(hospital_a):
    with hospital_context(hospital_a):
        campaign = cf.campaign()
        patient = factories.patient()
        for outside in (first_moment(STARTS) - dt.timedelta(seconds=1), first_moment(ENDS + DAY)):
            refused_by_database(
                "participation_within_campaign",
                lambda at=outside: Participation.objects.create(
                    campaign=campaign, patient=patient, joined_at=at
                ),
            )
        # The first and the last day are inside.
        joined = Participation.objects.create(
            campaign=campaign, patient=patient, joined_at=first_moment(STARTS)
        )
        Participation.objects.filter(pk=joined.pk).update(
            joined_at=first_moment(ENDS + DAY) - dt.timedelta(microseconds=1)
        )
        refused_by_database(
            "participation_within_campaign",
            lambda: Participation.objects.filter(pk=joined.pk).update(
                joined_at=first_moment(ENDS + DAY)
            ),
        )
        # Moving the campaign away from its participants is the same rule, seen from the campaign.
        refused_by_database(
            "participation_within_campaign",
            lambda: Campaign.objects.filter(pk=campaign.pk).update(ends_on=ENDS - DAY),
        )
        later = cf.campaign(starts_on=ENDS + DAY, ends_on=ENDS + 30 * DAY)
        refused_by_database(
            "participation_within_campaign",
            lambda: Participation.objects.filter(pk=joined.pk).update(campaign=later),
        )
        assert Participation.objects.get().campaign_id == campaign.pk


def test_the_database_refusal_reaches_the_user_as_the_service_error(hospital_a, monkeypatch):
    with hospital_context(hospital_a):
        campaign = cf.campaign()
        patient = factories.patient()
        same_error_from_the_database(
            monkeypatch,
            lambda: participation_join(
                campaign=campaign, patient=patient, joined_at=first_moment(ENDS + DAY)
            ),
            skip=[],
            replace=[(services, "_joined_within", lambda campaign, when: True)],
            rule="participation_within_campaign",
        )
        participation_join(campaign=campaign, patient=patient, joined_at=DURING)
        same_error_from_the_database(
            monkeypatch,
            lambda: campaign_update(campaign=campaign, starts_on=DURING.date() + DAY),
            skip=[(services, "_refuse_participants_outside")],
            rule="participation_within_campaign",
        )
        assert Campaign.objects.get(pk=campaign.pk).starts_on == STARTS


def test_the_database_compares_the_day_in_the_reporting_time_zone(hospital_a, settings):
    """03:00 UTC on the day after the campaign is still its last day in New York."""
    settings.TIME_ZONE = "America/New_York"
    with hospital_context(hospital_a):
        reopen_hospital_connections()
        campaign = cf.campaign()
        late = first_moment(ENDS + DAY) + dt.timedelta(hours=3)
        participation_join(campaign=campaign, patient=factories.patient(), joined_at=late)
        Participation.objects.create(campaign=campaign, patient=factories.patient(), joined_at=late)
        refused_by_database(
            "participation_within_campaign",
            lambda: Participation.objects.create(
                campaign=campaign,
                patient=factories.patient(),
                joined_at=late + dt.timedelta(hours=3),
            ),
        )
        reopen_hospital_connections()
