"""Reads of wards, beds and admissions, always in the current hospital's store."""

from __future__ import annotations

import datetime as dt
import uuid

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from hospitium.admissions.models import Admission, Bed, Ward
from hospitium.core.errors import NotFound, ValidationFailed

OCCUPANCY_STATES = ("free", "occupied")


def stays() -> QuerySet[Admission]:
    """Admissions that are not voided."""
    return Admission.objects.all()


def all_stays() -> QuerySet[Admission]:
    """Every admission, voided ones too."""
    return Admission.all_objects.all()


def _stays_at(at: dt.datetime) -> QuerySet[Admission]:
    """Stays (not voided) that hold their bed at ``at``."""
    return (
        stays()
        .filter(admitted_at__lte=at)
        .filter(Q(discharged_at__isnull=True) | Q(discharged_at__gt=at))
    )


def ward_list(*, at: dt.datetime | None = None) -> QuerySet[Ward]:
    """Wards with their occupancy at ``at`` (default now): ``bed_count`` (beds in use) and
    ``occupied_count``."""
    at = at or timezone.now()
    # One stay per bed at any instant (a database constraint), so stays count occupied beds.
    occupied = (
        _stays_at(at)
        .filter(bed__room__ward=OuterRef("pk"))
        .order_by()
        .values("bed__room__ward")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Ward.objects.annotate(
        bed_count=Count("rooms__beds", filter=Q(rooms__beds__is_active=True), distinct=True),
        occupied_count=Coalesce(Subquery(occupied, output_field=IntegerField()), 0),
    ).order_by("name")


def ward_get(ward_id: uuid.UUID | str) -> Ward:
    """The ward with this id in the current hospital; raises NotFound."""
    try:
        return Ward.objects.get(pk=ward_id)
    except (Ward.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such ward.") from None


def bed_list(*, state: str | None = None, at: dt.datetime | None = None) -> QuerySet[Bed]:
    """Beds, each with ``occupied`` at ``at`` (default now); ``state`` keeps only "free" beds
    (in use and unoccupied) or "occupied" ones. Raises ValidationFailed for another state."""
    at = at or timezone.now()
    beds = Bed.objects.select_related("room__ward").annotate(
        occupied=Exists(_stays_at(at).filter(bed=OuterRef("pk")))
    )
    if state is None or state == "":
        return beds
    if state not in OCCUPANCY_STATES:
        raise ValidationFailed(fields={"occupancy": ["Choose free or occupied."]})
    if state == "occupied":
        return beds.filter(occupied=True)
    return beds.filter(occupied=False, is_active=True)


def bed_board(*, at: dt.datetime | None = None) -> QuerySet[Bed]:
    """Every bed, by ward, room and label, each with its occupant at ``at`` (default now):
    ``stay_id``, ``patient_id_``, ``patient_given``, ``patient_family``, ``patient_mrn`` and
    ``since`` (None on a free bed). One query, however many beds."""
    at = at or timezone.now()
    holding = _stays_at(at).filter(bed=OuterRef("pk")).order_by()

    def of(field: str) -> Subquery:
        return Subquery(holding.values(field)[:1])

    return Bed.objects.select_related("room__ward").annotate(
        stay_id=of("pk"),
        patient_id_=of("patient_id"),
        patient_given=of("patient__given_name"),
        patient_family=of("patient__family_name"),
        patient_mrn=of("patient__mrn"),
        since=of("admitted_at"),
    )


def bed_occupant_at(bed: Bed, at: dt.datetime | None = None) -> Admission | None:
    """The stay holding ``bed`` at ``at`` (default now), or None."""
    return _stays_at(at or timezone.now()).filter(bed=bed).select_related("patient").first()


def admission_list() -> QuerySet[Admission]:
    """Admissions that are not voided, newest first."""
    return stays().select_related("patient", "bed__room__ward")


def admission_get(admission_id: uuid.UUID | str) -> Admission:
    """The admission with this id in the current hospital; raises NotFound."""
    try:
        return admission_list().get(pk=admission_id)
    except (Admission.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such admission.") from None
