"""Patients over the REST API, with the nested reads a client needs."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from hospitium.audit.services import audit_record
from hospitium.core.api import StrictModelSerializer
from hospitium.core.openapi import list_of
from hospitium.core.resources import HospitalResource
from hospitium.patients.models import Patient
from hospitium.patients.selectors import patient_list
from hospitium.patients.services import (
    patient_delete,
    patient_register,
    patient_update,
    patient_void,
)


class PatientSerializer(StrictModelSerializer[Patient]):
    class Meta:
        model = Patient
        fields = [
            "id",
            "mrn",
            "given_name",
            "family_name",
            "birth_date",
            "sex",
            "phone",
            "email",
            "address",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # The service checks uniqueness itself (and answers 409); DRF's own check would run a
        # query before the hospital's transaction. Omitted, the MRN comes from the hospital's
        # own sequence.
        extra_kwargs: dict[str, dict[str, object]] = {"mrn": {"validators": [], "required": False}}

    def validate_mrn(self, value: str) -> str:
        if self.instance is not None and value != self.instance.mrn:
            raise serializers.ValidationError("The medical record number cannot be changed.")
        return value


class PatientViewSet(HospitalResource):
    resource = "patients"
    serializer_class = PatientSerializer
    search_fields = ["mrn", "given_name", "family_name"]
    ordering_fields = ["family_name", "birth_date", "created_at"]
    filterset_fields = ["status", "sex"]

    def get_queryset(self) -> QuerySet[Patient]:
        return patient_list()

    def create_object(self, data: dict[str, Any]) -> Patient:
        return patient_register(registered_by=self.request.user, **data)  # type: ignore[arg-type]

    def update_object(self, instance: Patient, data: dict[str, Any]) -> Patient:
        data.pop("mrn", None)
        return patient_update(patient=instance, **data)

    def delete_object(self, instance: Patient) -> None:
        patient_delete(patient=instance)

    def void_object(self, instance: Patient, reason: str) -> Patient:
        return patient_void(patient=instance, reason=reason)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # A patient registered by mistake, with no history yet, may still be deleted (the
        # service refuses one with history); other voidable records are only voided.
        self.delete_object(self.get_object())
        return Response(status=204)

    def _nested(self, request: Request, related: str, serializer_path: str) -> Response:
        from importlib import import_module

        patient = self.get_object()
        module, name = serializer_path.rsplit(".", 1)
        serializer_class = getattr(import_module(module), name)
        rows = list(getattr(patient, related).all()[:500])
        audit_record(
            action="read", object_type="patients", object_id=patient.pk, detail={"related": related}
        )
        return Response(serializer_class(rows, many=True).data)

    # Each nested read is decided by the resource it reads, not by "patients": a receptionist
    # who may read a patient may not read that patient's visits.
    @extend_schema(responses={200: list_of("Visit")})
    @action(detail=True, methods=["get"], resource="visits")
    def visits(self, request: Request, pk: str | None = None) -> Response:
        return self._nested(request, "visits", "hospitium.encounters.api.VisitSerializer")

    @extend_schema(responses={200: list_of("Appointment")})
    @action(detail=True, methods=["get"], resource="appointments")
    def appointments(self, request: Request, pk: str | None = None) -> Response:
        return self._nested(
            request, "appointments", "hospitium.scheduling.api.AppointmentSerializer"
        )

    @extend_schema(responses={200: list_of("Admission")})
    @action(detail=True, methods=["get"], resource="admissions")
    def admissions(self, request: Request, pk: str | None = None) -> Response:
        return self._nested(request, "admissions", "hospitium.admissions.api.AdmissionSerializer")

    @extend_schema(responses={200: list_of("Invoice")})
    @action(detail=True, methods=["get"], resource="invoices")
    def invoices(self, request: Request, pk: str | None = None) -> Response:
        return self._nested(request, "invoices", "hospitium.billing.api.InvoiceSerializer")


ROUTES = [("patients", PatientViewSet, "patient")]
