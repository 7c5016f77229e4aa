"""Departments and practitioners over the REST API."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

from hospitium.core.api import StrictModelSerializer
from hospitium.core.errors import BusinessRuleViolation
from hospitium.core.resources import HospitalResource
from hospitium.staff.models import Department, Practitioner
from hospitium.staff.selectors import department_list, practitioner_list
from hospitium.staff.services import (
    department_create,
    department_delete,
    department_rename,
    practitioner_create,
    practitioner_update,
)


class DepartmentSerializer(StrictModelSerializer[Department]):
    practitioner_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Department
        fields = ["id", "name", "practitioner_count", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        # The service checks uniqueness in the hospital's transaction (and answers 409).
        extra_kwargs: dict[str, dict[str, object]] = {"name": {"validators": []}}


class PractitionerSerializer(StrictModelSerializer[Practitioner]):
    department = serializers.PrimaryKeyRelatedField(queryset=Department.objects.all())
    department_name = serializers.CharField(source="department.name", read_only=True)
    user = serializers.IntegerField(source="user_id", required=False, allow_null=True, min_value=1)

    class Meta:
        model = Practitioner
        fields = [
            "id",
            "display_name",
            "kind",
            "specialty",
            "department",
            "department_name",
            "user",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class DepartmentViewSet(HospitalResource):
    resource = "departments"
    serializer_class = DepartmentSerializer
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self) -> QuerySet[Department]:
        return department_list()

    def create_object(self, data: dict[str, Any]) -> Department:
        return department_create(name=data["name"])

    def update_object(self, instance: Department, data: dict[str, Any]) -> Department:
        if "name" not in data:
            return instance
        return department_rename(department=instance, name=data["name"])

    def delete_object(self, instance: Department) -> None:
        department_delete(department=instance)


class PractitionerViewSet(HospitalResource):
    resource = "practitioners"
    serializer_class = PractitionerSerializer
    search_fields = ["display_name", "specialty"]
    ordering_fields = ["display_name", "created_at"]
    filterset_fields = ["department", "kind"]

    def get_queryset(self) -> QuerySet[Practitioner]:
        return practitioner_list()

    def create_object(self, data: dict[str, Any]) -> Practitioner:
        return practitioner_create(**data)

    def update_object(self, instance: Practitioner, data: dict[str, Any]) -> Practitioner:
        return practitioner_update(practitioner=instance, **data)

    def delete_object(self, instance: Practitioner) -> None:
        raise BusinessRuleViolation(
            "Practitioners are kept for the history of their appointments; "
            "unlink the user or move them instead of deleting."
        )


ROUTES = [
    ("departments", DepartmentViewSet, "department"),
    ("practitioners", PractitionerViewSet, "practitioner"),
]
