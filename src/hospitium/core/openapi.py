"""How the OpenAPI document describes operations: drf-spectacular's AutoSchema, with the error
envelope declared for every status an operation can answer with, and a few helpers the api
modules use to describe what they really answer."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers

from hospitium.core.api import OutputSerializer
from hospitium.core.errors import Category


class ErrorBodySerializer(OutputSerializer):
    code = serializers.CharField(help_text="Stable, snake_case: what went wrong.")
    message = serializers.CharField(help_text="Safe to show to the person who made the request.")
    category = serializers.ChoiceField(choices=[str(category) for category in Category])
    # DRF takes declared fields off the class, so this one does not shadow Serializer.fields.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages by input field (`field.sub` for nested input); empty when none.",
    )
    request_id = serializers.CharField(allow_null=True)


class ErrorEnvelopeSerializer(OutputSerializer):
    """Every error the API answers: `{"error": {...}}`."""

    error = ErrorBodySerializer()


#: What any operation may answer besides its success.
_ANY_OPERATION = {
    400: "The input is not valid (`fields` names each problem), or the request is malformed.",
    401: "No credentials, or credentials that are not valid.",
    403: "The user's role may not do this (or, for a session, the CSRF token is missing).",
    404: "No such hospital for this user, or no such record in it.",
    405: "The route does not take this method.",
    406: "The Accept header asks for a representation this operation does not give.",
    415: "The body's Content-Type is not one this operation reads.",
    429: "Too many requests; Retry-After says when to try again.",
}
#: What a write may answer besides.
_WRITES = {
    409: "It conflicts with what is stored (a duplicate, a slot taken, a concurrent change).",
    413: "The body is larger than the server accepts.",
    422: "A business rule refuses it (docs/integrity.md lists them).",
}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, with every error status declared with the envelope that
    core/api.py's exception handler gives every error, bodies closed to undeclared keys, and
    empty query values allowed."""

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        # Every body the API reads refuses keys its serializer does not declare (400).
        if direction == "request":
            schema["additionalProperties"] = False
        return schema

    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super()._get_parameters()
        for parameter in parameters:
            # An empty filter, page, ordering or search (``?ward=``) means "not given", as
            # django-filter and DRF read it; the document says so.
            if parameter.get("in") == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        return parameters

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        errors = dict(_ANY_OPERATION)
        if self.method not in ("GET", "HEAD", "OPTIONS"):
            errors.update(_WRITES)
        for status, description in sorted(errors.items()):
            if str(status) in responses:
                continue
            response = self._get_response_for_code(
                ErrorEnvelopeSerializer, str(status), direction=direction
            )
            response["description"] = description
            responses[str(status)] = response
        return responses


def list_of(component: str) -> dict[str, Any]:
    """A plain JSON array of the named schema component, for an action that answers a list
    (unpaginated) of another app's records without importing that app's serializer."""
    return {"type": "array", "items": {"$ref": f"#/components/schemas/{component}"}}
