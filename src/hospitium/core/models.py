"""Abstract bases shared by hospital models."""

from __future__ import annotations

import uuid

from django.db import models

from hospitium.core.ids import new_id


class HospitalModel(models.Model):
    """A row in a hospital's store: UUIDv7 primary key and timestamps."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    @property
    def uuid(self) -> uuid.UUID:
        return self.id
