"""The shape every hospital resource of the REST API takes.

A resource view names its ``resource`` (a row of the role matrix) and its selectors and services;
this base does the HTTP: list and retrieve through the selector, create and update through the
service, ``POST {id}/void/`` for clinical records (reason required) or ``DELETE`` for the rest,
``GET {id}/delete-preview/`` (what a delete would touch, walked by Django's deletion collector),
and an audit event for each read of a record, each list, and each write.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.admin.utils import NestedObjects
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from hospitium.audit.services import audit_record
from hospitium.core.api import OutputSerializer, StrictSerializer
from hospitium.core.errors import BusinessRuleViolation, NotFound, ValidationFailed
from hospitium.tenancy.permissions import IsHospitalMember, RolePermission
from hospitium.tenancy.router import current_alias

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


class VoidSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, allow_blank=False, trim_whitespace=True)


class DeletePreviewSerializer(OutputSerializer):
    """What ``GET {id}/delete-preview/`` answers (the schema's description of it)."""

    would_delete = serializers.DictField(
        child=serializers.IntegerField(), help_text="Rows a delete would remove, by kind."
    )
    blocked_by = serializers.DictField(
        child=serializers.IntegerField(), help_text="Rows that protect it, by kind."
    )
    allowed = serializers.BooleanField()


def delete_preview(instance: models.Model) -> dict[str, Any]:
    """What deleting ``instance`` would remove and what protects it, by model."""
    collector = NestedObjects(using=current_alias(write=False))
    collector.collect([instance])
    would_delete: dict[str, int] = {}
    model: Any
    for model, objs in collector.model_objs.items():
        would_delete[str(model._meta.verbose_name_plural)] = len(objs)
    blocked_by: dict[str, int] = {}
    for obj in collector.protected:
        label = str(type(obj)._meta.verbose_name_plural)
        blocked_by[label] = blocked_by.get(label, 0) + 1
    return {"would_delete": would_delete, "blocked_by": blocked_by, "allowed": not blocked_by}


class HospitalResource(viewsets.GenericViewSet[Any]):
    """Base of every hospital resource. Subclasses set ``resource``, ``serializer_class`` and
    implement ``get_queryset`` (a selector) and the service hooks they support."""

    resource: ClassVar[str]
    #: The name audit events use for this kind of record (default: the resource).
    audit_type: ClassVar[str | None] = None
    #: Write a "read" event when one record is retrieved (patient records and all clinical ones).
    audit_reads: ClassVar[bool] = True
    permission_classes = [IsHospitalMember, RolePermission]
    lookup_value_regex = UUID_PATTERN

    # -- hooks ------------------------------------------------------------------------------

    def create_object(self, data: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def update_object(self, instance: Any, data: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def void_object(self, instance: Any, reason: str) -> models.Model:
        raise NotImplementedError

    def delete_object(self, instance: Any) -> None:
        raise NotImplementedError

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def _audit_type(self) -> str:
        return self.audit_type or self.resource

    def get_object(self) -> Any:
        try:
            return self.get_queryset().get(pk=self.kwargs["pk"])
        # A malformed id is refused by the UUID field with a ValidationError: to a client it is
        # just as absent as an unknown one.
        except (models.ObjectDoesNotExist, DjangoValidationError, ValueError, TypeError):
            raise NotFound(f"No such {self._audit_type.rstrip('s')}.") from None

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = page if page is not None else list(queryset)
        audit_record(
            action="list",
            object_type=self._audit_type,
            detail={"count": len(rows), "query": request.query_params.dict()},
        )
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        if self.audit_reads:
            audit_record(action="read", object_type=self._audit_type, object_id=instance.pk)
        return Response(self.get_serializer(instance).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.create_object(dict(serializer.validated_data))
        return Response(self.get_serializer(instance).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        updated = self.update_object(instance, dict(serializer.validated_data))
        return Response(self.get_serializer(updated).data)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        if hasattr(instance, "voided_at"):
            raise BusinessRuleViolation(
                "Clinical records are voided, not deleted: POST to …/void/ with a reason."
            )
        self.delete_object(instance)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=VoidSerializer)
    @action(detail=True, methods=["post"], url_path="void")
    def void(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        serializer = VoidSerializer(data=request.data)
        if not serializer.is_valid():
            fields = {key: [str(m) for m in errors] for key, errors in serializer.errors.items()}
            if "reason" in fields:
                fields["reason"] = ["A reason is required."]
            raise ValidationFailed("Say why the record is voided.", fields=fields)
        if not hasattr(instance, "voided_at"):
            raise BusinessRuleViolation("This kind of record is deleted, not voided.")
        voided = self.void_object(instance, serializer.validated_data["reason"])
        return Response(self.get_serializer(voided).data)

    @extend_schema(responses=DeletePreviewSerializer)
    @action(detail=True, methods=["get"], url_path="delete-preview")
    def delete_preview(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(delete_preview(self.get_object()))
