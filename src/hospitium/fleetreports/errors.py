"""Errors of whole-fleet reports."""

from __future__ import annotations

from hospitium.core.errors import PermissionRefused


class SuperuserRequired(PermissionRefused):
    code = "superuser_required"
    default_message = "Only a platform superuser can report on the whole fleet."
