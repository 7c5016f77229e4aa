"""Visits, diagnoses and treatments over the REST API.

Diagnoses and treatments are added through their visit (``POST visits/{id}/diagnoses/`` and
``…/treatments/``); their own resources list, read, change and void them.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request
from rest_framework.response import Response

from hospitium.core.api import StrictModelSerializer, StrictSerializer
from hospitium.core.filters import FilterSet
from hospitium.core.resources import HospitalResource
from hospitium.encounters.models import Diagnosis, Treatment, Visit
from hospitium.encounters.selectors import (
    diagnosis_get,
    diagnosis_list,
    treatment_get,
    treatment_list,
    visit_get,
    visit_list,
)
from hospitium.encounters.services import (
    diagnosis_add,
    diagnosis_update,
    diagnosis_void,
    treatment_add,
    treatment_update,
    treatment_void,
    visit_close,
    visit_record,
    visit_update,
    visit_void,
)
from hospitium.patients.models import Patient
from hospitium.staff.models import Practitioner

#: PUT is left out: a visit's record is changed field by field (PATCH).
METHODS = ["get", "post", "patch", "delete", "head", "options"]


# --- serializers -----------------------------------------------------------------------------


class DiagnosisSerializer(StrictModelSerializer[Diagnosis]):
    # The code itself (the column of the foreign key to the code list); the service checks it.
    code = serializers.CharField(max_length=20)

    class Meta:
        model = Diagnosis
        fields = ["id", "visit", "code", "description", "is_primary", "created_at", "updated_at"]
        read_only_fields = ["id", "visit", "description", "created_at", "updated_at"]
        # The one-primary rule is checked by the service (409) inside its transaction.
        validators: list[Any] = []


class TreatmentSerializer(StrictModelSerializer[Treatment]):
    class Meta:
        model = Treatment
        fields = [
            "id",
            "visit",
            "procedure",
            "performed_on",
            "outcome",
            "follow_up_required",
            "follow_up_date",
            "follow_up_kept_on",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "visit", "created_at", "updated_at"]
        extra_kwargs: dict[str, dict[str, object]] = {
            "performed_on": {"required": False, "allow_null": True},
        }


class VisitSerializer(StrictModelSerializer[Visit]):
    # Resolved in the current hospital's store: another hospital's id is simply not there, and
    # the message is the same for it as for an id that never existed.
    patient = serializers.PrimaryKeyRelatedField(
        queryset=Patient.objects.all(),
        pk_field=serializers.UUIDField(),
        error_messages={"does_not_exist": "No such patient."},
    )
    practitioner = serializers.PrimaryKeyRelatedField(
        queryset=Practitioner.objects.all(),
        pk_field=serializers.UUIDField(),
        error_messages={"does_not_exist": "No such practitioner."},
    )
    diagnoses = DiagnosisSerializer(many=True, read_only=True)
    treatments = TreatmentSerializer(many=True, read_only=True)

    class Meta:
        model = Visit
        fields = [
            "id",
            "patient",
            "practitioner",
            "kind",
            "started_at",
            "ended_at",
            "chief_complaint",
            "diagnoses",
            "treatments",
            "voided_at",
            "void_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "voided_at", "void_reason", "created_at", "updated_at"]

    def validate_patient(self, value: Patient) -> Patient:
        if self.instance is not None and value.pk != self.instance.patient_id:
            raise serializers.ValidationError("A visit cannot move to another patient.")
        return value


class CloseSerializer(StrictSerializer):
    ended_at = serializers.DateTimeField(required=False, allow_null=True)


# --- filters ---------------------------------------------------------------------------------


class VisitFilter(FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient_id")
    practitioner = django_filters.UUIDFilter(field_name="practitioner_id")
    started_after = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = Visit
        fields = ["kind"]


class DiagnosisFilter(FilterSet):
    visit = django_filters.UUIDFilter(field_name="visit_id")
    code = django_filters.CharFilter(field_name="code", lookup_expr="iexact")

    class Meta:
        model = Diagnosis
        fields = ["is_primary"]


class TreatmentFilter(FilterSet):
    visit = django_filters.UUIDFilter(field_name="visit_id")
    performed_after = django_filters.DateFilter(field_name="performed_on", lookup_expr="gte")
    performed_before = django_filters.DateFilter(field_name="performed_on", lookup_expr="lt")

    class Meta:
        model = Treatment
        fields = ["outcome", "follow_up_required"]


# --- views -----------------------------------------------------------------------------------


class VisitViewSet(HospitalResource):
    resource = "visits"
    serializer_class = VisitSerializer
    filterset_class = VisitFilter
    ordering_fields = ["started_at", "ended_at", "created_at"]
    search_fields = ["chief_complaint", "patient__mrn", "patient__family_name"]
    http_method_names = METHODS

    def get_queryset(self) -> QuerySet[Visit]:
        return visit_list()

    def get_object(self) -> Visit:
        return visit_get(self.kwargs["pk"])

    def create_object(self, data: dict[str, Any]) -> Visit:
        return visit_record(**data)

    def update_object(self, instance: Visit, data: dict[str, Any]) -> Visit:
        data.pop("patient", None)
        return visit_update(visit=instance, **data)

    def void_object(self, instance: Visit, reason: str) -> Visit:
        return visit_void(visit=instance, reason=reason)

    @extend_schema(request=CloseSerializer, responses=VisitSerializer)
    @action(detail=True, methods=["post"], serializer_class=CloseSerializer, resource="visits")
    def close(self, request: Request, pk: str | None = None) -> Response:
        visit = self.get_object()
        serializer = CloseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        closed = visit_close(visit=visit, ended_at=serializer.validated_data.get("ended_at"))
        return Response(VisitSerializer(closed).data)

    @extend_schema(responses={201: DiagnosisSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path="diagnoses",
        serializer_class=DiagnosisSerializer,
        resource="diagnoses",
    )
    def add_diagnosis(self, request: Request, pk: str | None = None) -> Response:
        visit = self.get_object()
        serializer = DiagnosisSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        diagnosis = diagnosis_add(visit=visit, **serializer.validated_data)
        return Response(DiagnosisSerializer(diagnosis).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={201: TreatmentSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path="treatments",
        serializer_class=TreatmentSerializer,
        resource="treatments",
    )
    def add_treatment(self, request: Request, pk: str | None = None) -> Response:
        visit = self.get_object()
        serializer = TreatmentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        treatment = treatment_add(visit=visit, **serializer.validated_data)
        return Response(TreatmentSerializer(treatment).data, status=status.HTTP_201_CREATED)


class _VisitChildResource(HospitalResource):
    """Diagnoses and treatments: created through their visit, listed and changed here."""

    http_method_names = METHODS

    @classmethod
    def as_view(cls, actions: Any = None, **initkwargs: Any) -> Any:
        # No POST on the list route at all (not one that always answers 405): the document
        # and the Allow header then say what the route takes.
        actions = {method: name for method, name in (actions or {}).items() if name != "create"}
        return super().as_view(actions, **initkwargs)

    def http_method_not_allowed(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.method == "POST" and "pk" not in kwargs:
            raise MethodNotAllowed(
                "POST", detail=f"Add {self.resource} with POST /api/visits/{{id}}/{self.resource}/."
            )
        return super().http_method_not_allowed(request, *args, **kwargs)


class DiagnosisViewSet(_VisitChildResource):
    resource = "diagnoses"
    serializer_class = DiagnosisSerializer
    filterset_class = DiagnosisFilter
    ordering_fields = ["code", "created_at"]

    def get_queryset(self) -> QuerySet[Diagnosis]:
        return diagnosis_list()

    def get_object(self) -> Diagnosis:
        return diagnosis_get(self.kwargs["pk"])

    def update_object(self, instance: Diagnosis, data: dict[str, Any]) -> Diagnosis:
        return diagnosis_update(diagnosis=instance, **data)

    def void_object(self, instance: Diagnosis, reason: str) -> Diagnosis:
        return diagnosis_void(diagnosis=instance, reason=reason)


class TreatmentViewSet(_VisitChildResource):
    resource = "treatments"
    serializer_class = TreatmentSerializer
    filterset_class = TreatmentFilter
    ordering_fields = ["performed_on", "follow_up_date", "created_at"]

    def get_queryset(self) -> QuerySet[Treatment]:
        return treatment_list()

    def get_object(self) -> Treatment:
        return treatment_get(self.kwargs["pk"])

    def update_object(self, instance: Treatment, data: dict[str, Any]) -> Treatment:
        return treatment_update(treatment=instance, **data)

    def void_object(self, instance: Treatment, reason: str) -> Treatment:
        return treatment_void(treatment=instance, reason=reason)


ROUTES = [
    ("visits", VisitViewSet, "visit"),
    ("diagnoses", DiagnosisViewSet, "diagnosis"),
    ("treatments", TreatmentViewSet, "treatment"),
]
