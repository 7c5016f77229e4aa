"""What every API view shares: the error envelope (every error answers
``{"error": {"code", "message", "category", "fields", "request_id"}}``) and the strict base
serializers that refuse fields a body should not carry."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import Http404, HttpRequest, JsonResponse, QueryDict
from drf_spectacular.authentication import SessionScheme as SpectacularSessionScheme
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication as DrfSessionAuthentication
from rest_framework.authentication import TokenAuthentication as DrfTokenAuthentication
from rest_framework.request import Request
from rest_framework.response import Response

from hospitium.core.context import current_request_id
from hospitium.core.errors import Category, HospitiumError, InternalError, RequestTooLarge

logger = logging.getLogger(__name__)

_M = TypeVar("_M", bound=models.Model)


#: The CSRF token an HTML form (DRF's browsable API) posts beside its fields: not data.
_FORM_TOKEN_FIELD = "csrfmiddlewaretoken"  # noqa: S105 (a field name, not a secret)


def _json_type_error(field: serializers.Field[Any, Any, Any, Any], value: Any) -> str | None:
    """In a JSON body, text must be a string and a flag a boolean, as the OpenAPI document says:
    DRF would take ``0`` for the text "0" and for false. (A form body is all strings.)"""
    if value is None:
        return None
    if isinstance(field, serializers.CharField) and not isinstance(value, str):
        return "Must be a string."
    if isinstance(field, serializers.BooleanField) and not isinstance(value, bool):
        return "Must be true or false."
    return None


class StrictFieldsMixin:
    """For a serializer: a key in the body that the serializer does not declare, or declares
    read-only, is an error (``fields`` names it) instead of being dropped without a word as DRF
    does by default. A misspelt field (``mrnx``) or one the client may not set (an appointment's
    ``status``) would otherwise answer 200 and change nothing, or not what was asked."""

    def to_internal_value(self, data: Any) -> Any:
        """Refuse undeclared and read-only keys, and JSON values of the wrong type for text and
        flags; raises DRF's ValidationError."""
        fields = self.fields  # type: ignore[attr-defined]
        if isinstance(data, Mapping):
            errors: dict[str, list[str]] = {}
            for key in sorted(str(key) for key in data if key != _FORM_TOKEN_FIELD):
                field = fields.get(key)
                if field is None:
                    errors[key] = ["This field is unknown."]
                elif field.read_only:
                    errors[key] = ["This field is read-only."]
                elif not isinstance(data, QueryDict) and (
                    wrong := _json_type_error(field, data[key])
                ):
                    errors[key] = [wrong]
            if errors:
                raise drf.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    """Base of the API's plain serializers (action bodies, descriptions of answers)."""


class StrictModelSerializer(StrictFieldsMixin, serializers.ModelSerializer[_M]):
    """Base of the API's model serializers."""


class OutputSerializer(StrictSerializer):
    """Base of serializers that only describe an answer (for the OpenAPI document)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "data" in kwargs:
            raise TypeError(f"{type(self).__name__} describes answers; it does not read bodies.")
        super().__init__(*args, **kwargs)


class NoBody(StrictSerializer):
    """The body of an action that takes none: an empty body or ``{}``; any key is unknown."""


def refuse_body(request: Request) -> None:
    """Raise ValidationError (400) if ``request`` carries fields to an action that takes none."""
    NoBody(data=request.data).is_valid(raise_exception=True)


class CsrfFailed(drf.PermissionDenied):
    """A session-authenticated unsafe request without a valid CSRF token."""

    default_code = "csrf_failed"


class SessionAuthentication(DrfSessionAuthentication):
    """DRF's session authentication, with its CSRF refusal told apart from other 403s.

    DRF raises a plain PermissionDenied("CSRF Failed: …"); clients (and the web error page,
    which answers ``csrf_failed``) need the distinct code to know that fetching a token, not
    asking for a role, is the fix.
    """

    def enforce_csrf(self, request: Request) -> None:
        try:
            super().enforce_csrf(request)
        except drf.PermissionDenied as exc:
            raise CsrfFailed(
                f"{exc.detail} Send the csrftoken cookie's value in an X-CSRFToken header, "
                "or authenticate with a token."
            ) from exc


# Where token_identity leaves its answer on the request, for TokenAuthentication to reuse.
_IDENTITY_ATTR = "_hospitium_token_identity"


def token_identity(request: HttpRequest) -> tuple[Any, Any] | None:
    """The (user, token) of a valid ``Authorization: Token …`` header of an active user, or None.

    The hospital middleware needs to know who a request is before DRF authenticates it (an
    anonymous request must not learn which hospital codes exist); the answer is kept on the
    request so that DRF's authentication does not read the token a second time.
    """
    try:
        identity = DrfTokenAuthentication().authenticate(request)  # type: ignore[arg-type]
    except drf.AuthenticationFailed:
        identity = None
    setattr(request, _IDENTITY_ATTR, identity)
    return identity


class TokenAuthentication(DrfTokenAuthentication):
    """DRF's token authentication, reusing the middleware's look-up of the same header.

    A header the middleware found invalid is checked again here, so the client gets DRF's own
    explanation (401 ``authentication_failed``).
    """

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        known = getattr(request._request, _IDENTITY_ATTR, None)
        if known is not None:
            return known
        return super().authenticate(request)


class SessionScheme(SpectacularSessionScheme):
    """The OpenAPI description of our session authentication (drf-spectacular's, retargeted)."""

    target_class = "hospitium.core.api.SessionAuthentication"


# DRF exception class → (category, stable code). The first match in order wins.
_DRF_MAP: list[tuple[type[drf.APIException], Category, str]] = [
    (drf.ValidationError, Category.VALIDATION, "validation_error"),
    (drf.ParseError, Category.VALIDATION, "malformed_request"),
    (drf.UnsupportedMediaType, Category.VALIDATION, "unsupported_media_type"),
    (drf.NotAcceptable, Category.VALIDATION, "not_acceptable"),
    (drf.MethodNotAllowed, Category.VALIDATION, "method_not_allowed"),
    (drf.NotAuthenticated, Category.AUTHENTICATION, "not_authenticated"),
    (drf.AuthenticationFailed, Category.AUTHENTICATION, "authentication_failed"),
    (CsrfFailed, Category.PERMISSION, "csrf_failed"),
    (drf.PermissionDenied, Category.PERMISSION, "permission_denied"),
    (drf.NotFound, Category.NOT_FOUND, "not_found"),
    (drf.Throttled, Category.PERMISSION, "throttled"),
]


def envelope(
    *, code: str, message: str, category: str, fields: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "category": category,
            "fields": fields or {},
            "request_id": current_request_id(),
        }
    }


def request_too_large() -> RequestTooLarge:
    """The error for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, naming the limit."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return RequestTooLarge()
    return RequestTooLarge(
        f"The request body is larger than this server accepts ({limit:,} bytes at most)."
    )


def error_json(exc: HospitiumError) -> JsonResponse:
    """A plain Django JSON response for a HospitiumError (outside DRF views)."""
    return JsonResponse(envelope(**exc.as_dict()), status=exc.http_status)  # type: ignore[arg-type]


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into ``{"field.sub": ["message", ...]}``."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, name))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        out = {}
        for index, item in enumerate(detail):
            out.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix or "non_field_errors": [str(detail)]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception becomes the envelope; unknown ones are logged."""
    headers: dict[str, str] = {}
    if isinstance(exc, RequestDataTooBig):
        exc = request_too_large()
    elif isinstance(exc, SuspiciousOperation):
        # Django's refusals of a body it will not parse (too many fields or files, a broken
        # multipart stream): the request is malformed, the server is fine.
        exc = drf.ParseError("The request body could not be read.")
    if isinstance(exc, HospitiumError):
        return Response(envelope(**exc.as_dict()), status=exc.http_status)  # type: ignore[arg-type]
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = drf.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, drf.APIException):
        category, code = Category.SYSTEM, "error"
        for klass, cat, stable in _DRF_MAP:
            if isinstance(exc, klass):
                category, code = cat, stable
                break
        if isinstance(exc, drf.ValidationError):
            fields = _flatten(exc.detail)
            message = "Some of the input is not valid."
        else:
            fields = {}
            message = str(exc.detail)
            if isinstance(exc, drf.UnsupportedMediaType):
                message += " Send the body as application/json."
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        body = envelope(code=code, message=message, category=str(category), fields=fields)
        return Response(body, status=exc.status_code, headers=headers)
    logger.exception("unhandled error in API view")
    internal = InternalError()
    return Response(envelope(**internal.as_dict()), status=internal.http_status)  # type: ignore[arg-type]
