"""A bench-only urlconf: two plain function views that each read one row by primary key.

``patient`` reads a Patient in the current hospital's store (routed); ``hospital`` reads a
platform row (a tenancy Hospital) and needs no hospital. Both answer the same small JSON, so
the only difference between them is the routing and the store they read.
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


def hospital(request: HttpRequest, pk: int) -> JsonResponse:
    row = Hospital.objects.get(pk=pk)
    return JsonResponse({"id": str(row.pk), "label": row.code, "name": row.name})


urlpatterns = [
    path("bench/patient/<uuid:pk>/", patient, name="bench-patient"),
    path("bench/hospital/<int:pk>/", hospital, name="bench-hospital"),
]
