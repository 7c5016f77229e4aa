"""Joining a campaign within its dates is the database's rule too: the day a patient joined (in
the reporting time zone, as the service compares) lies between the campaign's first and last
day. Checked when a participation is written and when a campaign's dates change."""

from django.db import migrations

from hospitium.core.sql import Guard, guards

OUTSIDE = "(hospitium_local_date({joined}) < {starts} OR hospitium_local_date({joined}) > {ends})"


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("patients", "0003_local_date_function"),
    ]

    operations = [
        guards(
            *(
                Guard(
                    name=f"participation_within_campaign_{suffix}",
                    rule="participation_within_campaign",
                    table="campaigns_participation",
                    event=event,
                    condition=(
                        "EXISTS (SELECT 1 FROM campaigns_campaign c WHERE c.id = NEW.campaign_id "
                        "AND "
                        + OUTSIDE.format(
                            joined="NEW.joined_at", starts="c.starts_on", ends="c.ends_on"
                        )
                        + ")"
                    ),
                )
                for suffix, event in (
                    ("insert", "INSERT"),
                    ("update", "UPDATE OF joined_at, campaign_id"),
                )
            ),
            Guard(
                name="campaign_dates_keep_participants",
                rule="participation_within_campaign",
                table="campaigns_campaign",
                event="UPDATE OF starts_on, ends_on",
                condition=(
                    "EXISTS (SELECT 1 FROM campaigns_participation p WHERE p.campaign_id = NEW.id "
                    "AND "
                    + OUTSIDE.format(
                        joined="p.joined_at", starts="NEW.starts_on", ends="NEW.ends_on"
                    )
                    + ")"
                ),
            ),
        )
    ]
