"""The audit log over the REST API: hospital admins list and filter it; nobody changes it.

Break-glass accesses too: a hospital's admins list theirs (``/api/break-glass/``) and may end
one; platform superusers open and end their own (``/api/platform/break-glass/``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import filters, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hospitium.accounts.models import BreakGlassAccess
from hospitium.accounts.roles import SUPERUSERS
from hospitium.accounts.selectors import break_glass_list
from hospitium.audit.errors import BreakGlassSuperuserRequired
from hospitium.audit.models import AuditEvent
from hospitium.audit.selectors import audit_event_list, events_since
from hospitium.audit.services import (
    BREAK_GLASS_DEFAULT_MINUTES,
    BREAK_GLASS_MAX_MINUTES,
    break_glass_close,
    break_glass_open,
)
from hospitium.core.api import StrictModelSerializer, StrictSerializer, refuse_body
from hospitium.core.filters import FilterSet
from hospitium.core.resources import HospitalResource
from hospitium.tenancy.context import current_hospital
from hospitium.tenancy.permissions import IsHospitalMember, RolePermission
from hospitium.tenancy.selectors import bind_actor, hospital_get


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


class AuditEventFilter(FilterSet):
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


# --- break-glass -----------------------------------------------------------------------------


class BreakGlassSerializer(StrictModelSerializer[BreakGlassAccess]):
    user = serializers.EmailField(source="user.email", read_only=True)
    hospital = serializers.CharField(source="hospital.code", read_only=True)
    closed_by = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()

    class Meta:
        model = BreakGlassAccess
        fields = [
            "id",
            "user",
            "hospital",
            "reason",
            "opened_via",
            "opened_at",
            "expires_at",
            "closed_at",
            "closed_by",
            "state",
        ]
        read_only_fields = fields

    def get_closed_by(self, access: BreakGlassAccess) -> str | None:
        return access.closed_by.email if access.closed_by else None

    def get_state(self, access: BreakGlassAccess) -> str:
        """``open``, ``closed`` (ended by someone) or ``expired``."""
        if access.closed_at is not None:
            return "closed"
        return "open" if access.expires_at > timezone.now() else "expired"


class BreakGlassOpenSerializer(StrictSerializer):
    hospital = serializers.CharField(max_length=32, help_text="The hospital's code.")
    reason = serializers.CharField(max_length=500)
    minutes = serializers.IntegerField(
        min_value=1,
        max_value=BREAK_GLASS_MAX_MINUTES,
        default=BREAK_GLASS_DEFAULT_MINUTES,
        help_text=f"How long it lasts (default {BREAK_GLASS_DEFAULT_MINUTES}).",
    )


class BreakGlassViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[BreakGlassAccess]
):
    """This hospital's break-glass accesses (platform superusers who opened its records), for
    its admins, who may also end one that is open (``POST {id}/close/``)."""

    resource = "break-glass"
    permission_classes = [IsHospitalMember, RolePermission]
    serializer_class = BreakGlassSerializer
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self) -> QuerySet[BreakGlassAccess]:
        if getattr(self, "swagger_fake_view", False):  # the schema is built with no hospital
            return BreakGlassAccess.objects.none()
        return break_glass_list(hospital_id=current_hospital().id)

    @extend_schema(request=None, responses=BreakGlassSerializer)
    @action(detail=True, methods=["post"], resource="break-glass")
    def close(self, request: Request, pk: str | None = None) -> Response:
        refuse_body(request)
        access = break_glass_close(access=self.get_object(), closed_by=request.user)  # type: ignore[arg-type]
        return Response(BreakGlassSerializer(access).data)


class IsPlatformSuperuser(BasePermission):
    """Signed-in platform superusers pass; anyone else signed in gets 403
    ``superuser_required``; anonymous requests get the authentication error."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        bind_actor(user=user, hospital_id=None)
        if not (user.is_active and user.is_superuser):
            raise BreakGlassSuperuserRequired()
        return True


class PlatformBreakGlassViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[BreakGlassAccess]
):
    """Break-glass for platform superusers: ``POST`` opens one for yourself into one hospital
    (``hospital``, ``reason``, ``minutes``); ``POST {id}/close/`` ends it; ``GET`` lists all."""

    resource = SUPERUSERS
    permission_classes = [IsPlatformSuperuser]
    serializer_class = BreakGlassSerializer
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self) -> QuerySet[BreakGlassAccess]:
        return break_glass_list()

    @extend_schema(request=BreakGlassOpenSerializer, responses={201: BreakGlassSerializer})
    def create(self, request: Request) -> Response:
        body = BreakGlassOpenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        access = break_glass_open(
            user=request.user,  # type: ignore[arg-type]
            hospital=hospital_get(body.validated_data["hospital"]),
            reason=body.validated_data["reason"],
            minutes=body.validated_data["minutes"],
        )
        return Response(BreakGlassSerializer(access).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=BreakGlassSerializer)
    @action(detail=True, methods=["post"], resource=SUPERUSERS)
    def close(self, request: Request, pk: str | None = None) -> Response:
        refuse_body(request)
        access = break_glass_close(access=self.get_object(), closed_by=request.user)  # type: ignore[arg-type]
        return Response(BreakGlassSerializer(access).data)


ROUTES = [
    ("audit-events", AuditEventViewSet, "audit-event"),
    ("break-glass", BreakGlassViewSet, "break-glass"),
    ("platform/break-glass", PlatformBreakGlassViewSet, "platform-break-glass"),
]
