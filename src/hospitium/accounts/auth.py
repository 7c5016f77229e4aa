"""Sign-in helpers shared by the session login and the token endpoint."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from hospitium.accounts.models import normalize_email


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str:
    """The account a sign-in attempt is about, as django-axes counts it (AXES_USERNAME_CALLABLE):
    the email normalised as users are stored, whatever case or spaces were typed."""
    field = settings.AXES_USERNAME_FORM_FIELD
    raw = (credentials or {}).get(field)
    if raw is None:
        raw = getattr(request, "data", request.POST).get(field)
    return normalize_email(str(raw or ""))
