"""A test-only urlconf: the real URLs plus views that fail the way a bug would, and one that
writes a log line.

The failure message carries what must never reach a client: a file path and a piece of SQL.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hospitium.core.errors import Conflict
from hospitium.urls import urlpatterns as real_urlpatterns

logger = logging.getLogger("tests.core.views")

SECRET_DETAIL = "boom at /srv/hospitium/secret.py: SELECT password FROM accounts_user"


class BoomAPIView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError(SECRET_DETAIL)


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SECRET_DETAIL)


def plain_conflict(request: HttpRequest) -> HttpResponse:
    raise Conflict("Plain views keep the error's own message.")


class LogLineView(APIView):
    """Hospital members only (the default permission); writes one log line."""

    def get(self, request: Request) -> Response:
        logger.info("view says hello")
        return Response({"ok": True})


urlpatterns = [
    path("api/boom/", BoomAPIView.as_view()),
    path("api/plain-boom/", boom),
    path("api/plain-conflict/", plain_conflict),
    path("api/log-line/", LogLineView.as_view()),
    path("boom/", boom),
    *real_urlpatterns,
]

handler400 = "hospitium.core.views.bad_request"
handler403 = "hospitium.core.views.permission_denied"
handler404 = "hospitium.core.views.page_not_found"
handler500 = "hospitium.core.views.server_error"
