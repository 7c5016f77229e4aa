"""The base of every list filter of the API: what the schema says a filter takes is what it takes.

django-filter's defaults disagree with the OpenAPI document in two ways. A filter on a foreign
key is a choice among existing rows, so ``?patient=<a well-formed id of no patient>`` answers
400 although the document only asks for a UUID; here it filters by the id and answers an empty
list, as a filter on any other value does. A boolean filter reads anything it does not know
(``?is_active=maybe``) as "no filter" and answers everything, and a number filter on a whole
number takes ``1.5``; here both answer 400. An empty value (``?ward=``) is still "no filter", as
the document says (``allowEmptyValue``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db import models
from django_filters.rest_framework import DjangoFilterBackend

_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


class _BooleanWidget(forms.Widget):
    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        value = data.get(name)
        if value is None or value == "":
            return None
        return _BOOLEANS.get(str(value).lower(), value)


class _BooleanField(forms.Field):
    widget = _BooleanWidget

    def to_python(self, value: Any) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        raise forms.ValidationError("Must be true or false.", code="invalid")

    def validate(self, value: Any) -> None:
        return None


class BooleanFilter(django_filters.BooleanFilter):
    """``true``/``false`` (or ``1``/``0``); anything else is refused."""

    field_class = _BooleanField


class IntegerFilter(django_filters.NumberFilter):
    """A whole number (django-filter's NumberFilter reads any decimal: ``?rating_min=1.5``)."""

    field_class = forms.IntegerField


class FilterSet(django_filters.FilterSet):
    """django-filter's FilterSet: foreign keys filtered by id; booleans and whole numbers strict."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.BooleanField: {"filter_class": BooleanFilter},
        **{
            field: {"filter_class": IntegerFilter}
            for field in (
                models.IntegerField,
                models.BigIntegerField,
                models.SmallIntegerField,
                models.PositiveIntegerField,
                models.PositiveBigIntegerField,
                models.PositiveSmallIntegerField,
            )
        },
    }

    def filter_queryset(self, queryset: Any) -> Any:
        # An ISO time may carry any offset under 24 hours (``+23:08``); PostgreSQL refuses
        # offsets past 15:59 (a 500 before). The same instant in UTC is what the filter means.
        cleaned = self.form.cleaned_data
        for name, value in cleaned.items():
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                cleaned[name] = value.astimezone(dt.UTC)
        return super().filter_queryset(queryset)

    @classmethod
    def filter_for_lookup(cls, field: Any, lookup_type: str) -> tuple[Any, dict[str, Any]]:
        if isinstance(field, models.ForeignKey) and lookup_type == "exact":
            by_uuid = isinstance(field.target_field, models.UUIDField)
            return (django_filters.UUIDFilter if by_uuid else django_filters.NumberFilter), {}
        return super().filter_for_lookup(field, lookup_type)


class FilterBackend(DjangoFilterBackend):
    """DRF's django-filter backend, building ``filterset_fields`` on our FilterSet."""

    filterset_base = FilterSet
