"""Whole-fleet reports over the REST API, for platform superusers only, on the platform's host
(a hospital's host is that hospital's data, where a superuser is an outsider):

- ``GET  /api/reports/fleet/templates/`` and ``POST /api/reports/fleet/templates/{key}/generate/``
- ``GET  /api/reports/fleet/generated/``, ``…/{id}/``, ``…/{id}/status/``, ``…/{id}/download/``,
  ``DELETE …/{id}/``

They sit beside the hospital paths (``/api/reports/templates/``, ``/api/reports/generated/``),
which are unchanged.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from hospitium.accounts.roles import SUPERUSERS
from hospitium.core.api import OutputSerializer, StrictModelSerializer, StrictSerializer
from hospitium.core.resources import UUID_PATTERN
from hospitium.fleetreports.models import FleetReport
from hospitium.fleetreports.selectors import fleet_report_get, fleet_report_list
from hospitium.fleetreports.services import (
    fleet_filters,
    fleet_report_delete,
    fleet_report_download,
    fleet_report_request,
    require_superuser,
    supported_formats,
)
from hospitium.reports import registry
from hospitium.tenancy.selectors import bind_actor


class IsPlatformSuperuser(BasePermission):
    """Signed-in platform superusers pass; anyone else signed in gets 403
    ``superuser_required``; anonymous requests get the authentication error."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        bind_actor(user=user, hospital_id=None)
        require_superuser(user)
        return True


class FleetGenerateSerializer(StrictSerializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    format = serializers.CharField(max_length=16)
    filters = serializers.DictField(required=False, default=dict)
    hospitals = serializers.ListField(
        child=serializers.CharField(max_length=32),
        required=False,
        allow_empty=False,
        help_text="Hospital codes; leave out for every active hospital.",
    )


class FleetReportSerializer(StrictModelSerializer[FleetReport]):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = FleetReport
        fields = [
            "id",
            "template_key",
            "format",
            "parameters",
            "hospital_codes",
            "hospital_count",
            "status",
            "progress",
            "requested_by_label",
            "created_at",
            "started_at",
            "finished_at",
            "attempts",
            "size",
            "sha256",
            "duration_ms",
            "error_message",
            "expires_at",
            "download_count",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, report: FleetReport) -> str | None:
        if report.status != FleetReport.Status.COMPLETED:
            return None
        return f"/api/reports/fleet/generated/{report.pk}/download/"


class FleetTemplateSerializer(OutputSerializer):
    id = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    formats = serializers.ListField(child=serializers.CharField())
    filters = serializers.ListField(child=serializers.CharField())


class FleetStatusSerializer(OutputSerializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    progress = serializers.IntegerField()
    error_message = serializers.CharField()
    finished_at = serializers.DateTimeField(allow_null=True)
    download_url = serializers.CharField(allow_null=True)


class FleetTemplateViewSet(viewsets.GenericViewSet[Any]):
    """The templates that can be run over the whole fleet, and running one."""

    serializer_class = FleetTemplateSerializer
    queryset = FleetReport.objects.none()  # for the schema: the key is not a model pk
    resource = SUPERUSERS
    permission_classes = [IsPlatformSuperuser]
    lookup_value_regex = r"[a-z0-9_]{1,64}"
    pagination_class = None
    #: Set for ``generate`` only (ScopedRateThrottle, HOSPITIUM_RATE_REPORTS).
    throttle_scope: str | None = None

    def list(self, request: Request) -> Response:
        return Response(
            [
                {
                    "id": key,
                    "title": template.title,
                    "description": template.description,
                    "formats": supported_formats(template),
                    "filters": fleet_filters(template),
                }
                for key, template in registry.templates().items()
            ]
        )

    @extend_schema(request=FleetGenerateSerializer, responses={202: FleetReportSerializer})
    @action(
        detail=True,
        methods=["post"],
        serializer_class=FleetGenerateSerializer,
        throttle_scope="reports",
        resource=SUPERUSERS,
    )
    def generate(self, request: Request, pk: str | None = None) -> Response:
        serializer = FleetGenerateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report = fleet_report_request(
            user=request.user, template_key=str(pk), **serializer.validated_data
        )
        return Response(FleetReportSerializer(report).data, status=status.HTTP_202_ACCEPTED)


class FleetReportViewSet(viewsets.GenericViewSet[Any]):
    """Fleet reports: list, detail, status, download, delete (or cancel while running)."""

    serializer_class = FleetReportSerializer
    resource = SUPERUSERS
    permission_classes = [IsPlatformSuperuser]
    lookup_value_regex = UUID_PATTERN
    ordering_fields = ["created_at", "finished_at", "size", "duration_ms"]
    search_fields: list[str] = []

    def get_queryset(self) -> QuerySet[FleetReport]:
        reports = fleet_report_list()
        params = self.request.query_params
        for name, field in (("status", "status"), ("template", "template_key")):
            if params.get(name):
                reports = reports.filter(**{field: params[name]})
        return reports

    def get_object(self) -> FleetReport:
        return fleet_report_get(self.kwargs["pk"])

    def list(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = page if page is not None else list(queryset)
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        fleet_report_delete(report=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=FleetStatusSerializer)
    @action(detail=True, methods=["get"], resource=SUPERUSERS)
    def status(self, request: Request, pk: str | None = None) -> Response:
        report = self.get_object()
        return Response(
            {
                "id": str(report.pk),
                "status": report.status,
                "progress": report.progress,
                "error_message": report.error_message,
                "finished_at": report.finished_at,
                "download_url": FleetReportSerializer().get_download_url(report),
            }
        )

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], resource=SUPERUSERS)
    def download(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        download = fleet_report_download(report=self.get_object(), user=request.user)
        response = StreamingHttpResponse(download.chunks, content_type=download.content_type)
        response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
        if download.size is not None:
            response["Content-Length"] = str(download.size)
        response["X-Report-Regenerated"] = "1" if download.regenerated else "0"
        return response


ROUTES = [
    ("reports/fleet/templates", FleetTemplateViewSet, "fleet-report-template"),
    ("reports/fleet/generated", FleetReportViewSet, "fleet-report"),
]
