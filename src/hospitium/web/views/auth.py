"""Signing in and out, and changing one's password, on a hospital's host.

Repeated failures lock signing in (django-axes); the lockout answer is the sign-in page with a
clear message for people, the JSON envelope for API clients.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from hospitium.core import views as core
from hospitium.web.access import current_hospital
from hospitium.web.pages import hospital_page, render_page


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(target, allowed_hosts=None, require_https=False):
        return target
    return "/"


@sensitive_post_parameters()
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    current_hospital(request)
    if request.method == "POST":
        form = AuthenticationForm(request, data=request.POST)
        if form.is_valid():
            login(request, form.get_user())
            return redirect(_next(request))
    else:
        if request.user.is_authenticated:
            return redirect(_next(request))
        form = AuthenticationForm(request)
    form.fields["username"].label = _("Email address")
    return render_page(request, "web/login.html", {"form": form, "next": _next(request)})


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("/login/")


@sensitive_post_parameters()
@never_cache
@require_http_methods(["GET", "POST"])
@hospital_page
def password_change(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = PasswordChangeForm(user, data=request.POST if request.method == "POST" else None)  # type: ignore[arg-type]
    if request.method == "POST" and form.is_valid():
        form.save()
        update_session_auth_hash(request, form.user)
        messages.success(request, _("Your password has been changed."))
        return redirect("/")
    return render_page(request, "web/password_change.html", {"form": form})


def locked_out(
    request: HttpRequest, credentials: object = None, *args: object, **kwargs: object
) -> HttpResponse:
    """django-axes' answer once signing in is locked: the sign-in page with the reason (429)."""
    if core.wants_json(request) or getattr(request, "hospital", None) is None:
        return core.locked_out(request, credentials, *args, **kwargs)
    form = AuthenticationForm(request)
    form.fields["username"].label = _("Email address")
    minutes = round(float(settings.AXES_COOLOFF_TIME) * 60)
    return render_page(
        request,
        "web/login.html",
        {"form": form, "next": "/", "locked_out": True, "minutes": minutes},
        status=429,
    )
