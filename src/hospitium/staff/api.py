"""Departments, practitioners and the hospital's members (staff accounts) over the REST API."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from hospitium.accounts.models import Role
from hospitium.accounts.selectors import Member, member_get, member_list
from hospitium.accounts.services import NotAMember
from hospitium.core.api import (
    OutputSerializer,
    StrictModelSerializer,
    StrictSerializer,
    refuse_body,
)
from hospitium.core.errors import BusinessRuleViolation
from hospitium.core.resources import HospitalResource
from hospitium.staff.members import member_invite_or_create, member_remove, member_roles_set
from hospitium.staff.models import Department, Practitioner
from hospitium.staff.selectors import department_list, practitioner_list
from hospitium.staff.services import (
    department_create,
    department_delete,
    department_rename,
    practitioner_create,
    practitioner_update,
)
from hospitium.tenancy.context import current_hospital
from hospitium.tenancy.permissions import IsHospitalMember, RolePermission


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


# --- members: the hospital's staff accounts and their roles (admins only) ----------------------


class MemberSerializer(OutputSerializer):
    id = serializers.IntegerField(help_text="The platform user's id.")
    email = serializers.EmailField()
    full_name = serializers.CharField()
    roles = serializers.ListField(child=serializers.ChoiceField(choices=Role.choices))


class MemberCreateSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    full_name = serializers.CharField(max_length=200, required=False, default="")
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=Role.choices), min_length=1, max_length=6
    )
    password = serializers.CharField(
        max_length=1024,
        required=False,
        trim_whitespace=False,
        write_only=True,
        help_text=(
            "The first password of a new account (required when the email has no account yet; "
            "refused for an existing one). The person changes it after signing in."
        ),
    )


class MemberRolesSerializer(StrictSerializer):
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=Role.choices),
        min_length=1,
        max_length=6,
        help_text="The member's roles from now on (granted and revoked to match).",
    )


class MemberViewSet(viewsets.ViewSet):
    """The hospital's staff: list them, add a person (a new account or an existing one) with
    roles, set a member's roles, remove a member (the account stays). Hospital admins only; a
    hospital always keeps one admin. Every change is written to the audit log (``members``)."""

    resource = "members"
    permission_classes = [IsHospitalMember, RolePermission]
    lookup_value_regex = r"[0-9]+"
    serializer_class = MemberSerializer

    def _member(self, pk: str | None) -> Member:
        member = member_get(hospital_id=current_hospital().id, user_id=int(pk or 0))
        if member is None:
            raise NotAMember()
        return member

    @extend_schema(responses=MemberSerializer(many=True))
    def list(self, request: Request) -> Response:
        members = member_list(hospital_id=current_hospital().id)
        return Response(MemberSerializer(members, many=True).data)

    @extend_schema(responses=MemberSerializer)
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(MemberSerializer(self._member(pk)).data)

    @extend_schema(request=MemberCreateSerializer, responses={201: MemberSerializer})
    def create(self, request: Request) -> Response:
        body = MemberCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        hospital = current_hospital()
        user, _created = member_invite_or_create(
            by=request.user,  # type: ignore[arg-type]
            hospital=hospital,
            **body.validated_data,
        )
        member = member_get(hospital_id=hospital.id, user_id=user.pk)
        return Response(MemberSerializer(member).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberRolesSerializer, responses=MemberSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        body = MemberRolesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        hospital = current_hospital()
        member = self._member(pk)
        member_roles_set(
            by=request.user,  # type: ignore[arg-type]
            hospital=hospital,
            user=member.user,
            roles=body.validated_data["roles"],
        )
        return Response(MemberSerializer(self._member(pk)).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        refuse_body(request)
        member = self._member(pk)
        member_remove(by=request.user, hospital=current_hospital(), user=member.user)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)


ROUTES = [
    ("departments", DepartmentViewSet, "department"),
    ("practitioners", PractitionerViewSet, "practitioner"),
    ("members", MemberViewSet, "member"),
]
