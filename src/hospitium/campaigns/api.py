"""Health campaigns and participations over the REST API."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from hospitium.audit.services import audit_record
from hospitium.campaigns.models import Campaign, Participation
from hospitium.campaigns.selectors import (
    campaign_get,
    participation_get,
    participation_list,
)
from hospitium.campaigns.selectors import campaign_list as _campaign_list
from hospitium.campaigns.services import (
    campaign_create,
    campaign_delete,
    campaign_update,
    participation_join,
    participation_set_outcome,
)
from hospitium.core.api import StrictModelSerializer, StrictSerializer
from hospitium.core.errors import ValidationFailed
from hospitium.core.filters import FilterSet
from hospitium.core.openapi import list_of
from hospitium.core.resources import HospitalResource
from hospitium.patients.models import Patient


class CampaignSerializer(StrictModelSerializer[Campaign]):
    participant_count = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "kind",
            "starts_on",
            "ends_on",
            "target",
            "participant_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "participant_count", "created_at", "updated_at"]
        # The service explains a taken name (409) and a negative target itself.
        extra_kwargs: dict[str, dict[str, object]] = {
            "name": {"validators": []},
            "target": {"validators": []},
        }

    def get_participant_count(self, campaign: Campaign) -> int:
        count = getattr(campaign, "participant_count", None)
        return int(count) if count is not None else campaign.participations.count()


class ParticipationSerializer(StrictModelSerializer[Participation]):
    campaign = serializers.PrimaryKeyRelatedField(queryset=Campaign.objects.all())
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    joined_at = serializers.DateTimeField(required=False)

    class Meta:
        model = Participation
        fields = ["id", "campaign", "patient", "joined_at", "outcome", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators: list[Any] = []  # the service answers a second enrolment with 409

    def validate_campaign(self, value: Campaign) -> Campaign:
        if self.instance is not None and value.pk != self.instance.campaign_id:
            raise serializers.ValidationError("A participation's campaign cannot be changed.")
        return value

    def validate_patient(self, value: Patient) -> Patient:
        if self.instance is not None and value.pk != self.instance.patient_id:
            raise serializers.ValidationError("A participation's patient cannot be changed.")
        return value


class JoinSerializer(StrictSerializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    joined_at = serializers.DateTimeField(required=False)
    outcome = serializers.CharField(
        required=False, max_length=Participation._meta.get_field("outcome").max_length
    )


class CampaignFilter(FilterSet):
    active_on = django_filters.DateFilter(method="filter_active_on")

    class Meta:
        model = Campaign
        fields = ["kind"]

    def filter_active_on(
        self, queryset: QuerySet[Campaign], name: str, value: Any
    ) -> QuerySet[Campaign]:
        return queryset.filter(starts_on__lte=value, ends_on__gte=value)


class CampaignViewSet(HospitalResource):
    resource = "campaigns"
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter
    search_fields = ["name"]
    ordering_fields = ["starts_on", "ends_on", "name"]

    def get_queryset(self) -> QuerySet[Campaign]:
        return _campaign_list()

    def create_object(self, data: dict[str, Any]) -> Campaign:
        return campaign_get(campaign_create(**data).pk)

    def update_object(self, instance: Campaign, data: dict[str, Any]) -> Campaign:
        return campaign_get(campaign_update(campaign=instance, **data).pk)

    def delete_object(self, instance: Campaign) -> None:
        campaign_delete(campaign=instance)

    # Participants are patients' data: the nested list and enrolment follow the
    # "participations" row of the role matrix, not the campaigns one.
    @extend_schema(methods=["GET"], responses={200: list_of("Participation")})
    @extend_schema(
        methods=["POST"], request=JoinSerializer, responses={201: ParticipationSerializer}
    )
    @action(detail=True, methods=["get", "post"], resource="participations")
    def participations(self, request: Request, pk: str | None = None) -> Response:
        campaign = self.get_object()
        if request.method == "GET":
            rows = list(participation_list(campaign)[:1000])
            audit_record(
                action="list",
                object_type="participations",
                detail={"campaign": str(campaign.pk), "count": len(rows)},
            )
            return Response(ParticipationSerializer(rows, many=True).data)
        serializer = JoinSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        joined = participation_join(campaign=campaign, **serializer.validated_data)
        return Response(
            ParticipationSerializer(participation_get(joined.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class ParticipationFilter(FilterSet):
    class Meta:
        model = Participation
        fields = ["campaign", "patient", "outcome"]


class ParticipationViewSet(HospitalResource):
    resource = "participations"
    serializer_class = ParticipationSerializer
    filterset_class = ParticipationFilter
    ordering_fields = ["joined_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Participation]:
        return participation_list()

    def create_object(self, data: dict[str, Any]) -> Participation:
        return participation_join(**data)

    def update_object(self, instance: Participation, data: dict[str, Any]) -> Participation:
        extra = sorted(set(data) - {"outcome", "campaign", "patient"})
        if extra:
            raise ValidationFailed(
                "Only a participation's outcome can be changed.",
                fields={name: ["Not editable."] for name in extra},
            )
        outcome = data.get("outcome", instance.outcome)
        return participation_set_outcome(participation=instance, outcome=outcome)


ROUTES = [
    ("campaigns", CampaignViewSet, "campaign"),
    ("participations", ParticipationViewSet, "participation"),
]
