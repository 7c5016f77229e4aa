"""Reads of patients, always in the current hospital's store."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from difflib import SequenceMatcher

from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from hospitium.audit.services import audit_record
from hospitium.core.errors import NotFound
from hospitium.patients.models import Patient
from hospitium.tenancy.router import current_alias

#: Search needs this many characters in a word (the trigram indexes cannot use fewer).
MIN_TERM = 3
#: At most this many matches of the index are sorted for a search: the cost of a search stays
#: bounded however common the letters typed (three letters can match thousands of names); past
#: it, the first of them by name are shown and the user types on to narrow.
MAX_CANDIDATES = 300
#: A name at least this similar (0–1) to an existing patient's, same birth date: likely the same.
DUPLICATE_SIMILARITY = 0.8
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y")
_WORD = re.compile(r"[^\s,;]+")


def patient_list() -> QuerySet[Patient]:
    """Patients of the current hospital (voided registrations hidden)."""
    return Patient.objects.all()


def patient_get(patient_id: uuid.UUID | str) -> Patient:
    """The patient with this id in the current hospital; raises NotFound."""
    try:
        return patient_list().get(pk=patient_id)
    except (Patient.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such patient.") from None


def patient_read(patient_id: uuid.UUID | str) -> Patient:
    """``patient_get``, recorded in the audit log as a read (as the API does)."""
    patient = patient_get(patient_id)
    audit_record(action="read", object_type="patients", object_id=patient.pk)
    return patient


def parse_birth_date(text: str) -> dt.date | None:
    """``text`` as a date of birth (2001-02-03, 03.02.2001 or 03/02/2001), or None."""
    for pattern in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    return None


def search_terms(query: str) -> list[str]:
    """The words of ``query`` long enough to search for, lower-cased."""
    return [w.lower() for w in _WORD.findall(query) if len(w) >= MIN_TERM]


def _matching_ids(terms: list[str]) -> RawSQL:
    """The ids of patients whose given name, family name or MRN contain every term, found
    through the store's full-text index (patients migration 0007)."""
    if connections[current_alias(write=False)].vendor == "postgresql":
        escaped = [t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for t in terms]
        where = " AND ".join(
            ["lower(given_name || ' ' || family_name || ' ' || mrn) LIKE %s"] * len(terms)
        )
        sql = f"SELECT id FROM patients_patient WHERE {where} LIMIT %s"  # noqa: S608 - fixed text
        params = [*(f"%{t}%" for t in escaped), MAX_CANDIDATES]
        return RawSQL(sql, params)  # noqa: S611 - terms are parameters
    match = " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)
    return RawSQL(
        "SELECT id FROM patients_patient WHERE rowid IN "
        "(SELECT rowid FROM patients_patient_fts WHERE patients_patient_fts MATCH %s "
        "LIMIT %s)",
        [match, MAX_CANDIDATES],
    )


def patient_search(query: str, *, limit: int = 25) -> list[Patient]:
    """Patients whose name or MRN contains every word of ``query`` (at least MIN_TERM
    characters each), or born on the date ``query`` names; at most ``limit``, by name, from
    the first MAX_CANDIDATES matches."""
    born = parse_birth_date(query)
    if born is not None:
        return list(patient_list().filter(birth_date=born)[:limit])  # an index seek, few rows
    terms = search_terms(query)
    if not terms:
        return []
    return list(patient_list().filter(pk__in=_matching_ids(terms))[:limit])


def patient_recent(*, limit: int = 25) -> list[Patient]:
    """The patients registered last (ids are time-ordered)."""
    return list(patient_list().order_by("-id")[:limit])


def _name_key(given: str, family: str) -> str:
    return " ".join(f"{given} {family}".lower().split())


def patient_likely_duplicates(
    *, given_name: str, family_name: str, birth_date: dt.date, limit: int = 5
) -> list[Patient]:
    """Patients born the same day whose name is similar (either order of the names): the
    people a new registration may be a second record of."""
    wanted = _name_key(given_name, family_name)
    swapped = _name_key(family_name, given_name)
    found = []
    for patient in patient_list().filter(birth_date=birth_date)[:200]:
        theirs = _name_key(patient.given_name, patient.family_name)
        score = max(
            SequenceMatcher(None, wanted, theirs).ratio(),
            SequenceMatcher(None, swapped, theirs).ratio(),
        )
        if score >= DUPLICATE_SIMILARITY:
            found.append((score, patient))
    found.sort(key=lambda pair: -pair[0])
    return [patient for _score, patient in found[:limit]]
