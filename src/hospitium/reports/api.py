"""Reports over the REST API (paths fixed by existing clients):

- ``GET  /api/reports/templates/`` and ``POST /api/reports/templates/{key}/generate/``
- ``GET  /api/reports/generated/`` (+ ``?status=&template=&format=``), ``…/{id}/``,
  ``…/{id}/status/``, ``…/{id}/download/`` (or a signed ``?signature=`` link), ``DELETE …/{id}/``
- ``GET  /api/reports/generated/dashboard/``

and the hospital's report settings (admins write, analysts read):

- ``GET  /api/reports/settings/templates/``, ``GET|PATCH …/{key}/``
- ``GET|PATCH /api/reports/settings/retention/``
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from hospitium.accounts.roles import ANY_MEMBER
from hospitium.audit.services import audit_record
from hospitium.core.api import OutputSerializer, StrictModelSerializer, StrictSerializer
from hospitium.core.context import actor_var, client_ip_var, roles_var
from hospitium.core.errors import NotFound
from hospitium.core.openapi import ErrorEnvelopeSerializer
from hospitium.core.resources import UUID_PATTERN
from hospitium.reports import registry
from hospitium.reports.configuration import (
    RETENTION_MAX_DAYS,
    RETENTION_MIN_DAYS,
    report_retention_update,
    report_template_setting_update,
    supported_formats,
)
from hospitium.reports.generation import retention_days
from hospitium.reports.models import GeneratedReport, ReportTemplateSetting
from hospitium.reports.selectors import report_by_id, report_dashboard, report_get, report_list
from hospitium.reports.services import (
    allowed_formats,
    report_delete,
    report_download,
    report_download_link,
    report_link_verify,
    report_request,
    template_settings,
)
from hospitium.tenancy.permissions import IsHospitalMember, RolePermission


class GenerateSerializer(StrictSerializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    filters = serializers.DictField(required=False, default=dict)
    format = serializers.CharField(max_length=16)
    include_rows = serializers.BooleanField(required=False, default=False)


class GeneratedReportSerializer(StrictModelSerializer[GeneratedReport]):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = GeneratedReport
        fields = [
            "id",
            "template_key",
            "format",
            "parameters",
            "include_rows",
            "status",
            "progress",
            "requested_by_id",
            "requested_by_label",
            "created_at",
            "started_at",
            "finished_at",
            "attempts",
            "size",
            "sha256",
            "row_count",
            "duration_ms",
            "error_message",
            "expires_at",
            "download_count",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, report: GeneratedReport) -> str | None:
        if report.status != GeneratedReport.Status.COMPLETED:
            return None
        return f"/api/reports/generated/{report.pk}/download/"


class ReportStatusSerializer(OutputSerializer):
    """What ``GET …/{id}/status/`` answers."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=GeneratedReport.Status.choices)
    progress = serializers.IntegerField()
    error_message = serializers.CharField(allow_blank=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    download_url = serializers.CharField(allow_null=True)


class _PopularTemplateSerializer(OutputSerializer):
    template_key = serializers.CharField()
    count = serializers.IntegerField()


class _GenerationTimeSerializer(OutputSerializer):
    average = serializers.IntegerField(allow_null=True)
    p95 = serializers.IntegerField(allow_null=True)


class _DownloadCountSerializer(OutputSerializer):
    total = serializers.IntegerField()
    regenerated = serializers.IntegerField()


class _StorageSerializer(OutputSerializer):
    bytes = serializers.IntegerField()
    files = serializers.IntegerField()


class _RecentReportSerializer(OutputSerializer):
    id = serializers.UUIDField()
    template_key = serializers.CharField()
    format = serializers.CharField()
    status = serializers.ChoiceField(choices=GeneratedReport.Status.choices)
    requested_by = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class ReportDashboardSerializer(OutputSerializer):
    """What ``GET …/dashboard/`` answers (reports.selectors.report_dashboard)."""

    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    popular_templates = _PopularTemplateSerializer(many=True)
    formats = serializers.DictField(child=serializers.IntegerField())
    generation_ms = _GenerationTimeSerializer()
    error_rate = serializers.FloatField()
    downloads = _DownloadCountSerializer()
    storage = _StorageSerializer()
    recent = _RecentReportSerializer(many=True)


#: A report's file, in whichever of the formats it was generated in.
REPORT_FILE_RESPONSES = {
    (200, media_type): OpenApiTypes.BINARY
    for media_type in (
        "text/csv",
        "application/json",
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
}


class ReportTemplateOutSerializer(OutputSerializer):
    id = serializers.CharField()
    title = serializers.CharField()
    display_name = serializers.CharField()
    description = serializers.CharField()
    enabled = serializers.BooleanField()
    formats = serializers.ListField(child=serializers.CharField())
    default_parameters = serializers.DictField()
    parameters = serializers.ListField(child=serializers.CharField())
    cache_seconds = serializers.IntegerField()


class ReportTemplateViewSet(viewsets.GenericViewSet[Any]):
    """Listing the templates and generating need the reports role (admins, analysts)."""

    resource = "reports"
    serializer_class = ReportTemplateOutSerializer
    queryset = ReportTemplateSetting.objects.none()  # for the schema: the key is not a model pk
    permission_classes = [IsHospitalMember, RolePermission]
    lookup_value_regex = r"[a-z0-9_]{1,64}"
    pagination_class = None
    #: Set for ``generate`` only (ScopedRateThrottle, HOSPITIUM_RATE_REPORTS).
    throttle_scope: str | None = None

    def list(self, request: Request) -> Response:
        code_templates = registry.templates()
        rows = []
        for key, setting in template_settings().items():
            template = code_templates[key]
            rows.append(
                {
                    "id": key,
                    "title": template.title,
                    "display_name": setting.display_name or template.title,
                    "description": template.description,
                    "enabled": setting.enabled,
                    "formats": allowed_formats(key, setting),
                    "default_parameters": setting.default_parameters,
                    "parameters": sorted(template.parameters().fields),
                    "cache_seconds": template.cache_seconds,
                }
            )
        return Response(rows)

    @extend_schema(request=GenerateSerializer, responses={202: GeneratedReportSerializer})
    @action(
        detail=True,
        methods=["post"],
        serializer_class=GenerateSerializer,
        throttle_scope="reports",
        resource="reports",
    )
    def generate(self, request: Request, pk: str | None = None) -> Response:
        serializer = GenerateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        actor = actor_var.get()
        report = report_request(
            template_key=str(pk),
            requested_by_id=request.user.pk,
            requested_by_label=actor[1] if actor else "",
            roles=roles_var.get(),
            **serializer.validated_data,
        )
        return Response(
            GeneratedReportSerializer(report).data | {"status": GeneratedReport.Status.QUEUED},
            status=status.HTTP_202_ACCEPTED,
        )


class GeneratedReportViewSet(viewsets.GenericViewSet[Any]):
    """Every member reads, cancels and downloads the reports they requested (the selector
    narrows; admins and analysts see all); the hospital-wide dashboard needs the reports role."""

    resource = ANY_MEMBER
    serializer_class = GeneratedReportSerializer
    lookup_value_regex = UUID_PATTERN
    ordering_fields = ["created_at", "finished_at", "size", "duration_ms"]
    search_fields: list[str] = []

    def get_permissions(self) -> list[BasePermission]:
        if self.action == "download" and "signature" in self.request.query_params:
            return [AllowAny()]
        return [IsHospitalMember(), RolePermission()]

    def _user_id(self) -> int | None:
        pk = getattr(self.request.user, "pk", None)
        return int(pk) if pk is not None else None

    def get_queryset(self) -> QuerySet[GeneratedReport]:
        reports = report_list(user_id=self._user_id(), roles=roles_var.get())
        params = self.request.query_params
        for name, field in (
            ("status", "status"),
            ("template", "template_key"),
            ("format", "format"),
        ):
            if params.get(name):
                reports = reports.filter(**{field: params[name]})
        return reports

    def get_object(self) -> GeneratedReport:
        return report_get(
            report_id=self.kwargs["pk"], user_id=self._user_id(), roles=roles_var.get()
        )

    def list(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = page if page is not None else list(queryset)
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        report = self.get_object()
        data = dict(self.get_serializer(report).data)
        if report.status == GeneratedReport.Status.COMPLETED:
            data["signed_download_url"] = report_download_link(
                report=report, user_id=self._user_id()
            )
        audit_record(action="read", object_type="reports", object_id=report.pk)
        return Response(data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        report_delete(report=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=ReportStatusSerializer)
    @action(detail=True, methods=["get"], resource=ANY_MEMBER)
    def status(self, request: Request, pk: str | None = None) -> Response:
        report = self.get_object()
        return Response(
            {
                "id": str(report.pk),
                "status": report.status,
                "progress": report.progress,
                "error_message": report.error_message,
                "finished_at": report.finished_at,
                "download_url": GeneratedReportSerializer().get_download_url(report),
            }
        )

    @extend_schema(
        # 409 report_not_ready: the report is still queued or running.
        responses={**REPORT_FILE_RESPONSES, 409: ErrorEnvelopeSerializer},
        parameters=[
            OpenApiParameter(
                "signature", str, description="A signed link's token, instead of credentials."
            )
        ],
    )
    @action(detail=True, methods=["get"], resource=ANY_MEMBER)
    def download(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        token = request.query_params.get("signature")
        if token is not None:
            user_id = report_link_verify(token=token, report_id=str(pk))
            report, via = report_by_id(str(pk)), "link"
        else:
            user_id, via = self._user_id(), "api"
            report = self.get_object()
        download = report_download(report=report, user_id=user_id, ip=client_ip_var.get(), via=via)
        response = StreamingHttpResponse(download.chunks, content_type=download.content_type)
        response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
        if download.size is not None:
            response["Content-Length"] = str(download.size)
        response["X-Report-Regenerated"] = "1" if download.regenerated else "0"
        return response

    @extend_schema(responses=ReportDashboardSerializer)
    @action(detail=False, methods=["get"], resource="reports")
    def dashboard(self, request: Request) -> Response:
        return Response(report_dashboard())


# -- settings ----------------------------------------------------------------------------------


class ReportTemplateSettingSerializer(StrictSerializer):
    id = serializers.CharField(read_only=True, help_text="The template's key.")
    title = serializers.CharField(read_only=True, help_text="The template's own title.")
    enabled = serializers.BooleanField(required=False)
    display_name = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Empty: the title."
    )
    default_parameters = serializers.DictField(
        required=False, help_text="Filter values used when a request does not give them."
    )
    formats = serializers.ListField(
        child=serializers.CharField(max_length=16),
        required=False,
        help_text="The formats offered; empty: every supported format.",
    )
    supported_formats = serializers.ListField(child=serializers.CharField(), read_only=True)
    filters = serializers.ListField(child=serializers.CharField(), read_only=True)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Give at least one field to change.")
        return attrs


def _setting_out(key: str, setting: ReportTemplateSetting) -> dict[str, Any]:
    template = registry.templates()[key]
    return {
        "id": key,
        "title": template.title,
        "enabled": setting.enabled,
        "display_name": setting.display_name,
        "default_parameters": setting.default_parameters or {},
        "formats": setting.allowed_formats or [],
        "supported_formats": supported_formats(template),
        "filters": sorted(
            set(template.parameters().fields) - {"date_from", "date_to", "include_rows"}
        ),
        "updated_at": setting.updated_at,
    }


class ReportTemplateSettingViewSet(viewsets.GenericViewSet[Any]):
    """How each report template is offered in this hospital."""

    resource = "report-settings"
    serializer_class = ReportTemplateSettingSerializer
    queryset = ReportTemplateSetting.objects.none()  # for the schema: the key is not a model pk
    permission_classes = [IsHospitalMember, RolePermission]
    lookup_value_regex = r"[a-z0-9_]{1,64}"
    pagination_class = None

    def list(self, request: Request) -> Response:
        return Response([_setting_out(key, row) for key, row in template_settings().items()])

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        setting = template_settings().get(str(pk))
        if setting is None:
            raise NotFound(f"There is no report template {pk!r}.")
        return Response(_setting_out(str(pk), setting))

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        serializer = ReportTemplateSettingSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        setting = report_template_setting_update(template_key=str(pk), **serializer.validated_data)
        return Response(_setting_out(str(pk), setting))


class ReportRetentionSerializer(StrictSerializer):
    retention_days = serializers.IntegerField(
        min_value=RETENTION_MIN_DAYS,
        max_value=RETENTION_MAX_DAYS,
        help_text=(
            "Days a completed report's file is kept. A shorter retention also reaches reports "
            "already completed; a longer one only reports completed from now on."
        ),
    )


class ReportSettingsViewSet(viewsets.GenericViewSet[Any]):
    """The hospital's report retention."""

    resource = "report-settings"
    serializer_class = ReportRetentionSerializer
    permission_classes = [IsHospitalMember, RolePermission]
    pagination_class = None

    @extend_schema(methods=["GET", "PATCH"], responses=ReportRetentionSerializer)
    @action(detail=False, methods=["get", "patch"], resource="report-settings")
    def retention(self, request: Request) -> Response:
        if request.method == "PATCH":
            serializer = ReportRetentionSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            policy = report_retention_update(**serializer.validated_data)
            return Response({"retention_days": policy.retention_days})
        return Response({"retention_days": retention_days()})


ROUTES = [
    ("reports/templates", ReportTemplateViewSet, "report-template"),
    ("reports/generated", GeneratedReportViewSet, "generated-report"),
    ("reports/settings/templates", ReportTemplateSettingViewSet, "report-template-setting"),
    ("reports/settings", ReportSettingsViewSet, "report-settings"),
]
