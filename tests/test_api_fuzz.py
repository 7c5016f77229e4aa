"""Schemathesis over every operation of the API with every check, as an admin of a hospital
holding a little data: zero failures, on each store (issue 15, item 11).

The run is bounded (three examples an operation, a fixed seed, derandomized): about 6,400
requests and 100 s of CPU, most of it the coverage phase, which fewer examples do not shrink.
``python -m bench.fuzz --examples N`` is the longer run; docs/reliability.md records both.
"""

from __future__ import annotations

import logging

import pytest
from django.core.wsgi import get_wsgi_application
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from hospitium.demo.generator import demo_fill
from tests.apifuzz import fuzz, serving

# The server runs in another thread, which must see what this test wrote.
pytestmark = [pytest.mark.fuzz, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXAMPLES = 3
SEED = 15


def test_every_operation_answers_as_the_schema_says(hospital_a, admin_a, monkeypatch):
    # A few thousand requests in a few minutes is more than a user's rate; throttling has its
    # own tests, and 429 is in the document anyway.
    monkeypatch.setattr(SimpleRateThrottle, "allow_request", lambda self, request, view: True)
    demo_fill(hospital=hospital_a, patients=15, years=1, seed=SEED, user_id=admin_a.pk)
    token = Token.objects.create(user=admin_a)

    # Refused requests log a warning each: thousands of lines that say nothing here.
    requests_log = logging.getLogger("django.request")
    level = requests_log.level
    requests_log.setLevel(logging.ERROR)
    try:
        with serving(get_wsgi_application()) as url:
            report = fuzz(
                url, token=token.key, hospital=hospital_a.code, examples=EXAMPLES, seed=SEED
            )
    finally:
        requests_log.setLevel(level)

    print(report.summary())
    assert len(report.operations) > 100, report.summary()
    assert not report.problems, "\n\n".join([report.summary(), *report.problems[:25]])
