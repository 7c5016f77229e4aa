"""Cross-store references: a hospital row pointing at a platform row (a user).

No database foreign key can span two stores, and switching foreign keys off to pretend otherwise
is how other systems lost their integrity. So a PlatformRef stores the id in a plain column,
checks on every write that the row exists, resolves (and caches) the row on read, and declares
what happens when the platform row is deleted; hospitium.tenancy.integrity enforces that across
every hospital, and ``hospitium integrity check`` finds anything that slipped past.
"""

from __future__ import annotations

import enum
import logging
import time
from typing import Any

from django.apps import apps
from django.core import checks, exceptions
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

from hospitium.tenancy.errors import InvalidPlatformReference

logger = logging.getLogger(__name__)


class OnPlatformDelete(enum.StrEnum):
    PROTECT = "protect"
    SET_NULL = "set_null"


PROTECT = OnPlatformDelete.PROTECT
SET_NULL = OnPlatformDelete.SET_NULL

# Ids known to exist, per model label, with the time they were seen. Deletions go through the
# integrity service, which forgets them here at once; other processes forget within the TTL.
_KNOWN_TTL_SECONDS = 30.0
_known: dict[tuple[str, int], float] = {}


def forget_known(label: str, pks: list[int] | None = None) -> None:
    """Drop cached existence facts for a model (all, or some ids)."""
    for key in [k for k in _known if k[0] == label and (pks is None or k[1] in pks)]:
        _known.pop(key, None)


class PlatformRef(models.BigIntegerField):
    """A reference from a hospital model to a platform model, by id, with no database constraint."""

    description = "Reference to a platform row (cross-store)"

    def __init__(self, to: str, *, on_delete: OnPlatformDelete | str, **kwargs: Any) -> None:
        self.to = to
        self.on_delete = OnPlatformDelete(on_delete)
        kwargs.setdefault("db_index", True)
        super().__init__(**kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["to"] = self.to
        kwargs["on_delete"] = str(self.on_delete)
        if kwargs.get("db_index") is True:
            kwargs.pop("db_index")
        return name, path, args, kwargs

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        errors = super().check(**kwargs)
        if self.on_delete == SET_NULL and not self.null:
            errors.append(
                checks.Error(
                    "PlatformRef with on_delete=SET_NULL must allow null.",
                    obj=self,
                    id="hospitium.E010",
                )
            )
        return errors

    @property
    def target(self) -> type[models.Model]:
        from django.conf import settings

        label = settings.AUTH_USER_MODEL if self.to == "AUTH_USER_MODEL" else self.to
        return apps.get_model(label)

    def get_attname(self) -> str:
        return f"{self.name}_id"

    def contribute_to_class(
        self, cls: type[models.Model], name: str, private_only: bool = False
    ) -> None:
        super().contribute_to_class(cls, name, private_only=private_only)
        setattr(cls, name, _PlatformRefDescriptor(self))

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, models.Model):
            value = value.pk
        return super().get_prep_value(value)

    def get_db_prep_save(self, value: Any, connection: BaseDatabaseWrapper) -> Any:
        # Every write path (save, bulk_create, update, bulk_update) passes through here; an
        # expression (bulk_update's CASE) arrives first, and its values then come one by one.
        prepared = super().get_db_prep_save(value, connection)
        if isinstance(prepared, int):
            self.ensure_exists(prepared)
        return prepared

    def ensure_exists(self, pk: int) -> None:
        """Raise InvalidPlatformReference unless the platform row ``pk`` exists."""
        target = self.target
        key = (target._meta.label, pk)
        seen = _known.get(key)
        now = time.monotonic()
        if seen is not None and now - seen < _KNOWN_TTL_SECONDS:
            return
        if not target._base_manager.filter(pk=pk).exists():
            noun = target._meta.verbose_name
            raise InvalidPlatformReference(
                f"There is no {noun} with id {pk}.",
                fields={self.name: [f"There is no {noun} with id {pk}."]},
            )
        _known[key] = now

    def validate(self, value: Any, model_instance: models.Model | None) -> None:
        super().validate(value, model_instance)
        if value is not None:
            try:
                self.ensure_exists(int(value))
            except InvalidPlatformReference as exc:
                raise exceptions.ValidationError(exc.message, code="invalid_reference") from exc

    def formfield(self, **kwargs: Any) -> Any:
        return None


class _PlatformRefDescriptor:
    """``row.user`` resolves the platform row (cached on the instance); assigning sets the id."""

    def __init__(self, field: PlatformRef) -> None:
        self.field = field
        self.cache_name = f"_{field.name}_platform_cache"

    def __get__(self, instance: models.Model | None, owner: type[models.Model]) -> Any:
        if instance is None:
            return self
        pk = instance.__dict__.get(self.field.attname)
        if pk is None:
            return None
        cached = instance.__dict__.get(self.cache_name)
        if cached is not None and cached.pk == pk:
            return cached
        obj = self.field.target._base_manager.filter(pk=pk).first()
        if obj is None:
            logger.warning(
                "dangling platform reference %s.%s=%s",
                instance._meta.label,
                self.field.name,
                pk,
            )
            return None
        instance.__dict__[self.cache_name] = obj
        return obj

    def __set__(self, instance: models.Model, value: Any) -> None:
        if value is None:
            instance.__dict__[self.field.attname] = None
            instance.__dict__.pop(self.cache_name, None)
        elif isinstance(value, models.Model):
            if not isinstance(value, self.field.target):
                raise TypeError(
                    f"{self.field.name} must be a {self.field.target.__name__}, "
                    f"not {type(value).__name__}"
                )
            instance.__dict__[self.field.attname] = value.pk
            instance.__dict__[self.cache_name] = value
        else:
            instance.__dict__[self.field.attname] = int(value)
            instance.__dict__.pop(self.cache_name, None)


def platform_refs() -> list[tuple[type[models.Model], PlatformRef]]:
    """Every (hospital model, PlatformRef field) pair in the project."""
    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, PlatformRef)
    ]
