"""Core request middleware: the request id (accepted from a trusted-looking X-Request-ID header,
else generated), the refusal of NUL characters in query strings, the Content-Security-Policy."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from urllib.parse import unquote_plus

from django.http import HttpRequest, HttpResponse
from django.utils.log import log_response

from hospitium.core.context import (
    actor_var,
    client_ip_var,
    request_id_var,
    roles_var,
    user_id_var,
)
from hospitium.core.views import render_error

_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def log_error_response(request: HttpRequest, response: HttpResponse) -> None:
    """Log a 4xx/5xx response now, while the request's context (id, hospital, user) is bound.

    Django logs error responses itself only after the outermost middleware has returned, when
    that context is gone; a response logged here is marked and not logged again.
    """
    if response.status_code >= 400:
        log_response(
            "%s: %s", response.reason_phrase, request.path, response=response, request=request
        )


class RequestIdMiddleware:
    """Gives every request an id, exposes it on the response and to every log line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        # fullmatch, not match with "$": "$" also matches before a trailing newline, and a newline
        # in a response header is refused by Django with a 500.
        request_id = incoming if _VALID_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        tokens = [
            (request_id_var, request_id_var.set(request_id)),
            (user_id_var, user_id_var.set("-")),
            (actor_var, actor_var.set(None)),
            (roles_var, roles_var.set(frozenset())),
            (client_ip_var, client_ip_var.set(request.META.get("REMOTE_ADDR") or None)),
        ]
        try:
            response = self.get_response(request)
            log_error_response(request, response)
        finally:
            for var, token in reversed(tokens):
                var.reset(token)  # type: ignore[attr-defined]
        response["X-Request-ID"] = request_id
        return response


class RefuseNulMiddleware:
    """Answers 400 to a query string that carries a NUL character, before any view reads it.

    PostgreSQL stores no NUL in text or jsonb: one that reached a filter read by hand
    (``?template=%00``) or the audit log's record of a listing's query (``?ordering=%00``)
    raised DataError there (500), while SQLite took it. No field of Hospitium holds a NUL.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in unquote_plus(request.META.get("QUERY_STRING", ""), errors="replace"):
            return render_error(
                request,
                status=400,
                code="malformed_request",
                message="The query string contains a NUL character.",
                category="validation",
            )
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Adds settings.HOSPITIUM_CSP as the Content-Security-Policy of every response that has
    none of its own.

    Django 5.2 has no CSP support (it arrives in Django 6.0, which needs Python 3.12) and no CSP
    package is installed; one fixed header needs no more than this.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.conf import settings

        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = settings.HOSPITIUM_CSP
        return response
