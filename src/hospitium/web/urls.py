"""The web interface's pages (on a hospital's host)."""

from __future__ import annotations

from django.urls import URLPattern, path

from hospitium.web.views import auth, overview

urlpatterns: list[URLPattern] = [
    path("", overview.start, name="web-start"),
    path("login/", auth.sign_in, name="web-login"),
    path("logout/", auth.sign_out, name="web-logout"),
    path("password/", auth.password_change, name="web-password"),
]
