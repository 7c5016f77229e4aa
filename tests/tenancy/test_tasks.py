from __future__ import annotations

import pytest

from hospitium.patients.models import Patient
from hospitium.tenancy.context import current_hospital, current_hospital_or_none, hospital_context
from hospitium.tenancy.tasks import hospital_task
from tests import factories

pytestmark = pytest.mark.django_db


@hospital_task()
def count_patients() -> tuple[str, int]:
    return current_hospital().code, Patient.objects.count()


def test_a_task_runs_in_the_hospital_named_by_its_first_argument(hospital_a, hospital_b):
    with hospital_context(hospital_a):
        factories.patient()
        factories.patient()
    with hospital_context(hospital_b):
        # Enqueued from inside B, but addressed to A: the argument decides, not the caller.
        result = count_patients("ALPHA")
    assert result() == ("ALPHA", 2)
    assert count_patients("BRAVO")() == ("BRAVO", 0)
    assert current_hospital_or_none() is None


def test_a_task_for_an_unknown_hospital_fails_clearly(db):
    result = count_patients("NOPE")
    with pytest.raises(Exception, match="NOPE"):
        result(blocking=True)
