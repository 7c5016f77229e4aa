"""Wards, beds and admissions over the REST API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from hospitium.admissions.models import Admission, Bed, Ward
from hospitium.admissions.selectors import admission_list, bed_list, ward_list
from hospitium.admissions.services import (
    admission_admit,
    admission_discharge,
    admission_transfer,
    admission_void,
    bed_create,
    bed_set_active,
    ward_create,
    ward_delete,
    ward_rename,
)
from hospitium.audit.services import audit_record
from hospitium.core.api import StrictModelSerializer, StrictSerializer
from hospitium.core.errors import BusinessRuleViolation, ValidationFailed
from hospitium.core.filters import BooleanFilter, FilterSet
from hospitium.core.resources import HospitalResource
from hospitium.patients.models import Patient


def _time_param(request: Request, name: str = "at") -> dt.datetime | None:
    """An ISO 8601 time with a zone from the query string, or None; raises ValidationFailed."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    value = parse_datetime(raw.replace(" ", "+"))
    if value is None or value.tzinfo is None:
        raise ValidationFailed(fields={name: ["Give an ISO 8601 time with a time zone."]})
    return value


# --- wards -------------------------------------------------------------------------------------


class WardSerializer(StrictModelSerializer[Ward]):
    bed_count = serializers.IntegerField(read_only=True, default=0)
    occupied_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Ward
        fields = ["id", "name", "bed_count", "occupied_count", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs: dict[str, dict[str, object]] = {"name": {"validators": []}}


class WardViewSet(HospitalResource):
    resource = "wards"
    serializer_class = WardSerializer
    search_fields = ["name"]
    ordering_fields = ["name"]

    def get_queryset(self) -> QuerySet[Ward]:
        return ward_list(at=_time_param(self.request))

    def create_object(self, data: dict[str, Any]) -> Ward:
        return ward_list().get(pk=ward_create(name=data["name"]).pk)

    def update_object(self, instance: Ward, data: dict[str, Any]) -> Ward:
        if "name" in data:
            ward_rename(ward=instance, name=data["name"])
        return ward_list().get(pk=instance.pk)

    def delete_object(self, instance: Ward) -> None:
        ward_delete(ward=instance)

    @action(detail=True, methods=["get"], resource="beds")
    def occupancy(self, request: Request, pk: str | None = None) -> Response:
        """Each bed of the ward and who occupies it at ``?at=`` (default now)."""
        ward = self.get_object()
        beds = bed_list(at=_time_param(request)).filter(room__ward=ward)
        audit_record(
            action="read", object_type="wards", object_id=ward.pk, detail={"occupancy": True}
        )
        data = self.get_serializer(ward).data
        data["beds"] = BedSerializer(beds, many=True).data
        return Response(data)


# --- beds --------------------------------------------------------------------------------------


class BedSerializer(StrictModelSerializer[Bed]):
    ward = serializers.PrimaryKeyRelatedField(
        queryset=Ward.objects.all(), source="room.ward", required=True
    )
    ward_name = serializers.CharField(source="room.ward.name", read_only=True)
    room_number = serializers.CharField(source="room.number", max_length=20)
    occupied = serializers.BooleanField(read_only=True, default=False)

    class Meta:
        model = Bed
        fields = [
            "id",
            "ward",
            "ward_name",
            "room_number",
            "label",
            "is_active",
            "occupied",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs: dict[str, dict[str, object]] = {"label": {"validators": []}}
        validators: list[object] = []


class BedFilter(FilterSet):
    ward = django_filters.UUIDFilter(field_name="room__ward")

    class Meta:
        model = Bed
        fields = ["is_active"]


class BedViewSet(HospitalResource):
    resource = "beds"
    serializer_class = BedSerializer
    filterset_class = BedFilter
    ordering_fields = ["label"]

    def get_queryset(self) -> QuerySet[Bed]:
        """Beds; ``?occupancy=free|occupied`` with ``?at=`` (default now) filters by state."""
        return bed_list(
            state=self.request.query_params.get("occupancy"), at=_time_param(self.request)
        )

    def create_object(self, data: dict[str, Any]) -> Bed:
        # A new bed is in use: ``is_active`` is ignored here (HTML forms send a missing box as
        # false), and changed afterwards with PATCH.
        room = data["room"]
        bed = bed_create(ward=room["ward"], room_number=room["number"], label=data["label"])
        return bed_list().get(pk=bed.pk)

    def update_object(self, instance: Bed, data: dict[str, Any]) -> Bed:
        moved = {"room", "label"} & set(data)
        if moved and (
            data.get("label", instance.label) != instance.label
            or data.get("room", {}).get("number", instance.room.number) != instance.room.number
            or data.get("room", {}).get("ward", instance.room.ward) != instance.room.ward
        ):
            raise ValidationFailed(
                "A bed's place cannot change; add a new bed and take this one out of use.",
                fields={name: ["Cannot be changed."] for name in sorted(moved)},
            )
        if "is_active" in data:
            bed_set_active(bed=instance, active=data["is_active"])
        return bed_list().get(pk=instance.pk)

    def delete_object(self, instance: Bed) -> None:
        raise BusinessRuleViolation(
            "Beds are kept for the history of their admissions; set is_active to false instead."
        )


# --- admissions --------------------------------------------------------------------------------


class AdmissionSerializer(StrictModelSerializer[Admission]):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    bed = serializers.PrimaryKeyRelatedField(queryset=Bed.objects.all())
    bed_label = serializers.CharField(source="bed.__str__", read_only=True)
    admitted_at = serializers.DateTimeField(required=False)

    class Meta:
        model = Admission
        fields = [
            "id",
            "patient",
            "bed",
            "bed_label",
            "admitted_at",
            "discharged_at",
            "reason",
            "voided_at",
            "void_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "discharged_at",
            "voided_at",
            "void_reason",
            "created_at",
            "updated_at",
        ]


class DischargeSerializer(StrictSerializer):
    discharged_at = serializers.DateTimeField(required=False)


class TransferSerializer(StrictSerializer):
    bed = serializers.PrimaryKeyRelatedField(queryset=Bed.objects.all())
    at = serializers.DateTimeField(required=False)


class AdmissionFilter(FilterSet):
    current = BooleanFilter(field_name="discharged_at", lookup_expr="isnull")
    ward = django_filters.UUIDFilter(field_name="bed__room__ward")

    class Meta:
        model = Admission
        fields = ["patient", "bed"]


class AdmissionViewSet(HospitalResource):
    resource = "admissions"
    serializer_class = AdmissionSerializer
    filterset_class = AdmissionFilter
    ordering_fields = ["admitted_at", "discharged_at"]
    # Stays change through discharge/transfer/void, never by PUT/PATCH.
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Admission]:
        return admission_list()

    def create_object(self, data: dict[str, Any]) -> Admission:
        return admission_admit(**data)

    def void_object(self, instance: Admission, reason: str) -> Admission:
        return admission_void(admission=instance, reason=reason)

    def _input(self, serializer_class: type[serializers.Serializer[Any]]) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(request=DischargeSerializer)
    @action(detail=True, methods=["post"], resource="admissions")
    def discharge(self, request: Request, pk: str | None = None) -> Response:
        """Discharge at ``discharged_at`` (default now)."""
        admission = self.get_object()
        data = self._input(DischargeSerializer)
        done = admission_discharge(admission=admission, discharged_at=data.get("discharged_at"))
        return Response(self.get_serializer(done).data)

    @extend_schema(request=TransferSerializer, responses={201: AdmissionSerializer})
    @action(detail=True, methods=["post"], resource="admissions")
    def transfer(self, request: Request, pk: str | None = None) -> Response:
        """Move to ``bed`` at ``at`` (default now); answers the new stay."""
        admission = self.get_object()
        data = self._input(TransferSerializer)
        moved = admission_transfer(admission=admission, bed=data["bed"], at=data.get("at"))
        return Response(self.get_serializer(moved).data, status=201)


ROUTES = [
    ("wards", WardViewSet, "ward"),
    ("beds", BedViewSet, "bed"),
    ("admissions", AdmissionViewSet, "admission"),
]
