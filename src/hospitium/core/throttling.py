"""A rate limit on signing in, for the sign-in forms that are plain Django views.

The token endpoint and report generation are DRF views and use DRF's ScopedRateThrottle
(``throttle_scope``). The sign-in forms (the web's, the API's browsable login, the admin's) are
Django views, so a middleware applies the same kind of throttle, scope ``sign_in``, to POSTs
to them, counted per client address (see NUM_PROXIES in the settings). Counts live in Django's
cache: per process with the default local-memory cache.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import SimpleRateThrottle

from hospitium.core.views import render_error

#: The URL names of every sign-in form.
SIGN_IN_VIEWS = frozenset({"web-login", "rest_framework:login", "admin:login"})


class SignInRateThrottle(SimpleRateThrottle):
    scope = "sign_in"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def too_many(request: HttpRequest, wait: float | None, what: str) -> HttpResponse:
    """The 429 answer (envelope or page) with Retry-After."""
    seconds = max(1, math.ceil(wait or 1))
    response = render_error(
        request,
        status=429,
        code="throttled",
        message=f"Too many {what} from this address. Try again in {seconds} seconds.",
        category="permission",
    )
    response["Retry-After"] = str(seconds)
    return response


class SignInThrottleMiddleware:
    """Refuses sign-in POSTs over the ``sign_in`` rate with 429 and Retry-After."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        if request.method != "POST" or match is None or match.view_name not in SIGN_IN_VIEWS:
            return None
        throttle = SignInRateThrottle()
        # DRF's throttle reads only request.META (the address), which a Django request has.
        if throttle.allow_request(request, view):  # type: ignore[arg-type]
            return None
        return too_many(request, throttle.wait(), "sign-in attempts")
