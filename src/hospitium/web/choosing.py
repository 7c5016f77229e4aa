"""Choosing a patient on a form (admit, new invoice): a search box, then one of its results.

The search is the patients' own (full-text, by name or MRN, or a birth date); the chosen
patient comes back as an id and is read through ``patient_get``, so another hospital's id is
simply not found.
"""

from __future__ import annotations

from hospitium.core.errors import NotFound
from hospitium.patients.models import Patient
from hospitium.patients.selectors import patient_get, patient_search

#: Results shown under the search box.
LIMIT = 10


def matching_patients(query: str) -> list[Patient]:
    """Patients matching ``query`` (at most LIMIT)."""
    return patient_search(query, limit=LIMIT)


def chosen_patient(patient_id: str | None) -> Patient | None:
    """The patient with this id in the current hospital, or None (none given or not found)."""
    if not patient_id:
        return None
    try:
        return patient_get(patient_id)
    except NotFound:
        return None
