"""A bench-only urlconf: plain function views that each read one row by primary key.

``patient`` reads a Patient in the current hospital's store (routed). ``single`` is the same
view without routing: the same query on the same table, in one SQLite store configured
statically in DATABASES (alias ``SINGLE_ALIAS``, as a single-hospital deployment would have it),
requested with no hospital. ``hospital`` reads a platform row (a tenancy Hospital), also with no
hospital bound. All answer the same small JSON.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, JsonResponse
from django.urls import path

from hospitium.patients.models import Patient
from hospitium.tenancy.models import Hospital


def patient(request: HttpRequest, pk: uuid.UUID) -> JsonResponse:
    row = Patient.objects.get(pk=pk)
    return JsonResponse({"id": str(row.pk), "label": row.mrn, "name": row.family_name})


#: The statically configured single store of the ``single`` view (bench.routing adds it).
SINGLE_ALIAS = "bench_single"


def single(request: HttpRequest, pk: uuid.UUID) -> JsonResponse:
    row = Patient.objects.using(SINGLE_ALIAS).get(pk=pk)
    return JsonResponse({"id": str(row.pk), "label": row.mrn, "name": row.family_name})


def hospital(request: HttpRequest, pk: int) -> JsonResponse:
    row = Hospital.objects.get(pk=pk)
    return JsonResponse({"id": str(row.pk), "label": row.code, "name": row.name})


urlpatterns = [
    path("bench/patient/<uuid:pk>/", patient, name="bench-patient"),
    path("bench/single/<uuid:pk>/", single, name="bench-single"),
    path("bench/hospital/<int:pk>/", hospital, name="bench-hospital"),
]
