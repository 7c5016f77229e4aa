"""The audit log over the REST API: hospital admins list and filter it; nobody changes it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import filters, mixins
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hospitium.audit.models import AuditEvent
from hospitium.audit.selectors import audit_event_list, events_since
from hospitium.core.api import StrictModelSerializer
from hospitium.core.resources import HospitalResource


class AuditEventSerializer(StrictModelSerializer[AuditEvent]):
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
    since = django_filters.IsoDateTimeFilter(field_name="at", method="filter_since")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["action", "object_type", "object_id", "actor_id"]

    def filter_since(
        self, queryset: QuerySet[AuditEvent], name: str, value: dt.datetime
    ) -> QuerySet[AuditEvent]:
        return events_since(queryset, value)


class AuditEventOrdering(filters.OrderingFilter):
    """``?ordering=at`` and ``?ordering=-at``, as clients ask for the log in time order, served
    by the id (time-ordered, see ``AuditEvent``): the log has no index on ``at`` to sort by."""

    ordering_description = (
        "`at` for oldest first, `-at` for newest first (the default); both follow the event's "
        "id, which is in time order."
    )
    BY_ID = {"at": "id", "-at": "-id"}

    def get_ordering(
        self, request: Request, queryset: QuerySet[Any], view: APIView
    ) -> Sequence[str] | None:
        ordering = super().get_ordering(request, queryset, view)
        return [self.BY_ID.get(term, term) for term in ordering] if ordering else ordering


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, HospitalResource):
    resource = "audit-events"
    audit_reads = False
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    # The default filter backends (settings/api.py), the ordering one served by id.
    filter_backends = [DjangoFilterBackend, AuditEventOrdering, filters.SearchFilter]
    ordering_fields = ["at"]
    http_method_names = ["get", "head", "options"]

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return audit_event_list()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # Reading the audit log is not itself audited (it would grow with every look).
        return mixins.ListModelMixin.list(self, request, *args, **kwargs)


ROUTES = [("audit-events", AuditEventViewSet, "audit-event")]
