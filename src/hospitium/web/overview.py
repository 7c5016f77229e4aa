"""The day's overview: what a role sees first on the hospital's start page.

Each section is a bounded read through the hospital apps' selectors (a fixed number of queries,
whatever the size of the hospital); the view asks only for the sections the role may read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from hospitium.admissions.selectors import admission_list
from hospitium.billing.models import Invoice
from hospitium.billing.selectors import invoice_list
from hospitium.feedback.selectors import feedback_list
from hospitium.scheduling.selectors import appointment_list

#: Rows shown per section; the page links to the full list.
LIMIT = 10


@dataclass
class Overview:
    day: dt.date
    appointments: list[Any] | None = None
    admitted: list[Any] | None = None
    open_invoices: list[Any] | None = None
    feedback: list[Any] | None = None
    shown: list[str] = field(default_factory=list)


def day_overview(*, sections: set[str], now: dt.datetime | None = None) -> Overview:
    """The overview of the current hospital's day, with only the ``sections`` named
    ("appointments", "admissions", "invoices", "feedback")."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + dt.timedelta(days=1)
    overview = Overview(day=local.date())
    if "appointments" in sections:
        overview.appointments = list(
            appointment_list().filter(starts_at__gte=start, starts_at__lt=end)[:LIMIT]
        )
    if "admissions" in sections:
        overview.admitted = list(
            admission_list()
            .filter(admitted_at__lte=now, discharged_at__isnull=True)
            .order_by("-admitted_at")[:LIMIT]
        )
    if "invoices" in sections:
        overview.open_invoices = list(
            invoice_list()
            .prefetch_related(None)
            .filter(status=Invoice.Status.ISSUED, balance__gt=0)  # type: ignore[misc]
            .order_by("issued_at")[:LIMIT]
        )
    if "feedback" in sections:
        overview.feedback = list(feedback_list().select_related("visit__patient")[:LIMIT])
    return overview
