"""Patients' feedback over the REST API."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from hospitium.core.api import StrictModelSerializer, StrictSerializer
from hospitium.core.filters import BooleanFilter, FilterSet, IntegerFilter
from hospitium.core.resources import HospitalResource
from hospitium.encounters.models import Visit
from hospitium.feedback.models import Feedback
from hospitium.feedback.selectors import feedback_get, feedback_list
from hospitium.feedback.services import feedback_delete, feedback_respond, feedback_submit


class FeedbackSerializer(StrictModelSerializer[Feedback]):
    visit = serializers.PrimaryKeyRelatedField(queryset=Visit.objects.all())
    submitted_at = serializers.DateTimeField(required=False)
    response_seconds = serializers.SerializerMethodField(
        help_text="Seconds from submission to the hospital's response (null until answered)."
    )

    class Meta:
        model = Feedback
        fields = [
            "id",
            "visit",
            "rating",
            "comment",
            "submitted_at",
            "response",
            "responded_at",
            "response_seconds",
            "created_at",
        ]
        read_only_fields = ["id", "response", "responded_at", "created_at"]
        # The service explains a bad rating and a second feedback (409) itself.
        extra_kwargs: dict[str, dict[str, object]] = {
            "rating": {"validators": []},
            "visit": {"validators": []},
        }
        validators: list[Any] = []

    def get_response_seconds(self, feedback: Feedback) -> int | None:
        if feedback.responded_at is None:
            return None
        return int((feedback.responded_at - feedback.submitted_at).total_seconds())


class RespondSerializer(StrictSerializer):
    response = serializers.CharField(
        allow_blank=True,
        trim_whitespace=True,
        max_length=Feedback._meta.get_field("response").max_length,
    )
    responded_at = serializers.DateTimeField(required=False)


class FeedbackFilter(FilterSet):
    submitted_from = django_filters.DateFilter(field_name="submitted_at__date", lookup_expr="gte")
    submitted_to = django_filters.DateFilter(field_name="submitted_at__date", lookup_expr="lte")
    rating_min = IntegerFilter(field_name="rating", lookup_expr="gte")
    rating_max = IntegerFilter(field_name="rating", lookup_expr="lte")
    responded = BooleanFilter(field_name="responded_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Feedback
        fields = ["rating", "visit"]


class FeedbackViewSet(HospitalResource):
    resource = "feedback"
    serializer_class = FeedbackSerializer
    filterset_class = FeedbackFilter
    ordering_fields = ["submitted_at", "rating"]
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Feedback]:
        return feedback_list()

    def create_object(self, data: dict[str, Any]) -> Feedback:
        return feedback_submit(**data)

    def delete_object(self, instance: Feedback) -> None:
        feedback_delete(feedback=instance)

    @extend_schema(request=RespondSerializer)
    @action(detail=True, methods=["post"], resource="feedback")
    def respond(self, request: Request, pk: str | None = None) -> Response:
        feedback = self.get_object()
        serializer = RespondSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        feedback_respond(feedback=feedback, **serializer.validated_data)
        return Response(self.get_serializer(feedback_get(feedback.pk)).data)


ROUTES = [("feedback", FeedbackViewSet, "feedback")]
