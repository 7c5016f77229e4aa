"""Appointments over the REST API: book, reschedule, and move through the status flow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from hospitium.core.api import StrictModelSerializer, refuse_body
from hospitium.core.errors import BusinessRuleViolation, ValidationFailed
from hospitium.core.filters import FilterSet
from hospitium.core.resources import HospitalResource
from hospitium.patients.models import Patient
from hospitium.scheduling.models import Appointment
from hospitium.scheduling.selectors import appointment_list
from hospitium.scheduling.services import (
    appointment_arrive,
    appointment_book,
    appointment_cancel,
    appointment_fulfil,
    appointment_no_show,
    appointment_reschedule,
)
from hospitium.staff.models import Practitioner


class AppointmentSerializer(StrictModelSerializer[Appointment]):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    practitioner = serializers.PrimaryKeyRelatedField(queryset=Practitioner.objects.all())

    class Meta:
        model = Appointment
        fields = [
            "id",
            "patient",
            "practitioner",
            "starts_at",
            "ends_at",
            "status",
            "reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "status", "created_at", "updated_at"]


class AppointmentFilter(FilterSet):
    starts_after = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="gte")
    starts_before = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")
    date_from = django_filters.DateFilter(field_name="starts_at", lookup_expr="date__gte")
    date_to = django_filters.DateFilter(field_name="starts_at", lookup_expr="date__lte")

    class Meta:
        model = Appointment
        fields = ["patient", "practitioner", "status"]


class AppointmentViewSet(HospitalResource):
    resource = "appointments"
    serializer_class = AppointmentSerializer
    filterset_class = AppointmentFilter
    ordering_fields = ["starts_at", "created_at"]

    def get_queryset(self) -> QuerySet[Appointment]:
        return appointment_list()

    def create_object(self, data: dict[str, Any]) -> Appointment:
        return appointment_book(**data)

    def update_object(self, instance: Appointment, data: dict[str, Any]) -> Appointment:
        for fixed in ("patient", "practitioner"):
            if fixed in data and data[fixed] != getattr(instance, fixed):
                raise ValidationFailed(
                    "Book a new appointment for another patient or practitioner.",
                    fields={fixed: ["Cannot be changed."]},
                )
        if "reason" in data and data["reason"] != instance.reason:
            raise ValidationFailed(fields={"reason": ["Cannot be changed."]})
        return appointment_reschedule(
            appointment=instance,
            starts_at=data.get("starts_at", instance.starts_at),
            ends_at=data.get("ends_at", instance.ends_at),
        )

    def delete_object(self, instance: Appointment) -> None:
        raise BusinessRuleViolation("Appointments are cancelled, not deleted: POST to …/cancel/.")

    def _status_change(self, service: Callable[..., Appointment]) -> Response:
        refuse_body(self.request)
        appointment = service(appointment=self.get_object())
        return Response(self.get_serializer(appointment).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], resource="appointments")
    def arrive(self, request: Request, pk: str | None = None) -> Response:
        return self._status_change(appointment_arrive)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], resource="appointments")
    def fulfil(self, request: Request, pk: str | None = None) -> Response:
        return self._status_change(appointment_fulfil)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], resource="appointments")
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._status_change(appointment_cancel)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], url_path="no-show", resource="appointments")
    def no_show(self, request: Request, pk: str | None = None) -> Response:
        return self._status_change(appointment_no_show)


ROUTES = [("appointments", AppointmentViewSet, "appointment")]
