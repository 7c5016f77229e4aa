"""The addressed hospital, as the API sees it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hospitium.tenancy.context import current_hospital


class CurrentHospitalView(APIView):
    """The hospital this request addresses (by host or X-Hospital)."""

    #: Every member, whatever their role (accounts.roles.ANY_MEMBER; tenancy sits below
    #: accounts, and the route test checks that the name is a known rule).
    resource = "any-member"

    @extend_schema(
        responses=inline_serializer(
            "CurrentHospital",
            {
                "code": serializers.CharField(),
                "name": serializers.CharField(),
                "status": serializers.CharField(),
            },
        )
    )
    def get(self, request: Request) -> Response:
        ref = current_hospital()
        return Response({"code": ref.code, "name": ref.name, "status": ref.status})
