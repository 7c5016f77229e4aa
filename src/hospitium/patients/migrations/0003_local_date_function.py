"""``hospitium_local_date(timestamptz)``: the calendar day of a moment in the hospital's reporting
time zone, for the rule triggers that compare a timestamp with a date (a treatment's day with
its visit's start, joining a campaign within its dates). It lives here because every clinical
app depends on patients.

PostgreSQL: a function in each hospital schema (the template clone copies it) that reads the
session's ``hospitium.time_zone``, which the hospital backend sets to ``settings.TIME_ZONE`` on
every new connection; a session without it (psql) is checked in UTC. SQLite: the backend
registers a function of the same name on every connection, so nothing is stored.
"""

from django.db import migrations

from hospitium.core.sql import vendor_sql

LOCAL_DATE = """CREATE FUNCTION hospitium_local_date(moment timestamptz) RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT (moment AT TIME ZONE COALESCE(
        NULLIF(pg_catalog.current_setting('hospitium.time_zone', true), ''), 'UTC'))::date
$$"""


class Migration(migrations.Migration):
    dependencies = [("patients", "0002_patient_address_patient_email_patient_phone_and_more")]

    operations = [
        vendor_sql(
            sqlite=[],
            postgresql=[LOCAL_DATE],
            reverse_postgresql=["DROP FUNCTION hospitium_local_date(timestamptz)"],
        )
    ]
