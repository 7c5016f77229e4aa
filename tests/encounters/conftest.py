"""A visit of ALPHA with a diagnosis and a treatment, for the encounters tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from hospitium.encounters.models import Diagnosis, Treatment, Visit
from hospitium.patients.models import Patient
from hospitium.staff.models import Practitioner
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories
from tests.encounters import factories as enc


@dataclass
class Clinic:
    hospital: Hospital
    patient: Patient
    practitioner: Practitioner
    visit: Visit
    diagnosis: Diagnosis
    treatment: Treatment


@pytest.fixture
def clinic(hospital_a: Hospital) -> Clinic:
    with hospital_context(hospital_a):
        patient = factories.patient()
        practitioner = factories.practitioner()
        visit = enc.visit(patient=patient, practitioner=practitioner)
        diagnosis = enc.diagnosis(visit, is_primary=True)
        treatment = enc.treatment(visit)
    return Clinic(hospital_a, patient, practitioner, visit, diagnosis, treatment)
