"""The audit log over the REST API: hospital admins list and filter it; nobody changes it."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from hospitium.audit.models import AuditEvent
from hospitium.audit.selectors import audit_event_list
from hospitium.core.resources import HospitalResource


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor_id",
            "actor_label",
            "action",
            "object_type",
            "object_id",
            "ip",
            "request_id",
            "detail",
        ]
        read_only_fields = fields


class AuditEventFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["action", "object_type", "object_id", "actor_id"]


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, HospitalResource):
    resource = "audit-events"
    audit_reads = False
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    ordering_fields = ["at"]
    http_method_names = ["get", "head", "options"]

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return audit_event_list()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # Reading the audit log is not itself audited (it would grow with every look).
        return mixins.ListModelMixin.list(self, request, *args, **kwargs)


ROUTES = [("audit-events", AuditEventViewSet, "audit-event")]
