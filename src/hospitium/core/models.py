"""Abstract bases shared by hospital models."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from django.db import models

from hospitium.core.ids import new_id
from hospitium.tenancy.context import current_hospital_or_none


class HospitalModel(models.Model):
    """A row in a hospital's store: UUIDv7 primary key and timestamps."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Bookkeeping, not a side effect: the row now belongs to the bound hospital (see from_db).
        ref = current_hospital_or_none()
        if ref is not None and getattr(self._state, "hospital", None) is None:
            self._state.hospital = ref.code  # type: ignore[attr-defined]
        super().save(*args, **kwargs)

    @classmethod
    def from_db(cls, *args: Any, **kwargs: Any) -> Any:
        instance = super().from_db(*args, **kwargs)
        # Remember which hospital the row came from, so the router can refuse to use it in
        # another hospital's context (see tenancy.router._check_instance).
        ref = current_hospital_or_none()
        instance._state.hospital = ref.code if ref else None  # type: ignore[attr-defined]
        return instance

    @property
    def uuid(self) -> uuid.UUID:
        return self.id


_V = TypeVar("_V", bound="Voidable")


class NotVoidedManager(models.Manager[_V]):
    """The default manager of voidable rows: voided rows are hidden from ordinary queries."""

    def get_queryset(self) -> models.QuerySet[_V]:
        return super().get_queryset().filter(voided_at__isnull=True)


class Voidable(models.Model):
    """Clinical records are never hard-deleted: they are voided, with who, when and why.

    ``objects`` hides voided rows; ``all_objects`` sees everything (audits, reports of voids).
    """

    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by_id = models.BigIntegerField(null=True, blank=True)
    void_reason = models.CharField(max_length=500, blank=True, default="")

    objects = NotVoidedManager()
    all_objects = models.Manager()  # noqa: DJ012

    class Meta:
        abstract = True
        base_manager_name = "all_objects"
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(voided_at__isnull=True) & models.Q(void_reason=""))
                | (models.Q(voided_at__isnull=False) & ~models.Q(void_reason="")),
                name="%(app_label)s_%(class)s_void_has_reason",
            )
        ]

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None
