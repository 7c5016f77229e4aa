"""The real URLs plus a page that fails the way a bug would (its message must never show)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from hospitium.urls import handler400, handler403, handler404, handler500  # noqa: F401
from hospitium.urls import urlpatterns as real_urlpatterns

SECRET_DETAIL = "boom at /srv/hospitium/secret.py: SELECT password FROM accounts_user"


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SECRET_DETAIL)


urlpatterns = [path("boom/", boom), *real_urlpatterns]
