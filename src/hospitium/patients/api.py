"""Patients over the REST API (the first hospital resource; the clinical issue extends it)."""

from __future__ import annotations

from typing import Any

from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from hospitium.patients.models import Patient
from hospitium.patients.selectors import patient_get, patient_list
from hospitium.patients.services import patient_register


class PatientSerializer(serializers.ModelSerializer[Patient]):
    class Meta:
        model = Patient
        fields = [
            "id",
            "mrn",
            "given_name",
            "family_name",
            "birth_date",
            "sex",
            "status",
            "created_at",
        ]
        read_only_fields = ["id", "status", "created_at"]
        # The service checks uniqueness itself (and answers 409); DRF's own check would run a
        # query before the hospital's transaction.
        extra_kwargs: dict[str, dict[str, object]] = {"mrn": {"validators": []}}


class PatientViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[Patient],
):
    serializer_class = PatientSerializer
    search_fields = ["mrn", "given_name", "family_name"]
    ordering_fields = ["family_name", "birth_date", "created_at"]

    def get_queryset(self) -> Any:
        return patient_list()

    def get_object(self) -> Patient:
        return patient_get(self.kwargs["pk"])

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        patient = patient_register(registered_by=request.user, **serializer.validated_data)  # type: ignore[arg-type]
        return Response(self.get_serializer(patient).data, status=status.HTTP_201_CREATED)
