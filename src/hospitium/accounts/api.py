"""API tokens for clients: ``POST /api/auth/token/`` with email and password."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from hospitium.accounts.roles import ANYONE
from hospitium.core.api import StrictSerializer
from hospitium.core.errors import Category, HospitiumError


class InvalidCredentials(HospitiumError):
    code = "invalid_credentials"
    category = Category.AUTHENTICATION
    default_message = "The email or password is wrong, or the account is locked."


class TokenRequestSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    # Long enough for any passphrase; short enough that hashing it is not a way to burn CPU.
    password = serializers.CharField(trim_whitespace=False, max_length=1024)


class ObtainTokenView(APIView):
    """Exchange an email and password for an API token (``Authorization: Token …``)."""

    resource = ANYONE
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    # Per client address, at HOSPITIUM_RATE_TOKEN; django-axes locks out guessing besides.
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"
    serializer_class = TokenRequestSerializer

    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # django-axes counts failures and locks out repeated guessing (it needs the request).
        user = authenticate(
            request._request,
            username=serializer.validated_data["email"].strip().lower(),
            password=serializer.validated_data["password"],
        )
        if user is None or not user.is_active:
            raise InvalidCredentials()
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key, "user": {"id": user.pk, "email": user.email}})
