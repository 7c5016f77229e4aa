"""The database router: platform apps → the platform store; hospital apps → the current
hospital's store, or NoHospitalSelected. There is no fallback."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.db.models import Model

from hospitium.tenancy import stores
from hospitium.tenancy.context import current_hospital
from hospitium.tenancy.errors import HospitalMismatch, HospitalReadOnly

PLATFORM_ALIAS = "default"


@cache
def hospital_app_labels() -> frozenset[str]:
    """Labels of the apps listed in settings.HOSPITAL_APPS."""
    from django.apps import apps

    return frozenset(
        config.label for config in apps.get_app_configs() if config.name in settings.HOSPITAL_APPS
    )


def is_hospital_model(model: type[Model] | Model) -> bool:
    return model._meta.app_label in hospital_app_labels()


def current_alias(*, write: bool) -> str:
    """The alias of the current hospital's store; raises NoHospitalSelected or HospitalReadOnly."""
    ref = current_hospital()
    if write and ref.read_only:
        if ref.status == "archived":
            raise HospitalReadOnly(f"Hospital {ref.code} is archived and read-only.")
        raise HospitalReadOnly(
            f"Hospital {ref.code} is read-only while maintenance is under way; try again shortly."
        )
    alias = stores.alias_for(ref)
    stores.touch(alias)
    return alias


def current_side_alias() -> str:
    """The alias for short writes to the current hospital's store made while this thread's
    connection to it is still reading (``stores.side_alias``): a report's progress and lease.
    Raises as ``current_alias(write=True)``."""
    current_alias(write=True)
    alias = stores.side_alias(current_hospital())
    stores.touch(alias)
    return alias


def _check_instance(hints: dict[str, Any]) -> None:
    """Refuse to use a row of one hospital in another's context.

    Each hospital row's state remembers the hospital it was loaded from or saved to (set here on
    first write, and by HospitalModel.from_db). The alias alone cannot tell: on PostgreSQL every
    hospital of a server shares one.
    """
    state = getattr(hints.get("instance"), "_state", None)
    if state is None:
        return
    code = current_hospital().code
    owner = getattr(state, "hospital", None)
    if owner is None:
        state.hospital = code
    elif owner != code:
        raise HospitalMismatch()


class HospitalRouter:
    """Routes every model by the app it belongs to (settings.PLATFORM_APPS / HOSPITAL_APPS)."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        if not is_hospital_model(model):
            return PLATFORM_ALIAS
        alias = current_alias(write=False)
        if hints:  # most reads have none: spare them the call
            _check_instance(hints)
        return alias

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        if not is_hospital_model(model):
            return PLATFORM_ALIAS
        alias = current_alias(write=True)
        if hints:
            _check_instance(hints)
        return alias

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        if is_hospital_model(obj1) != is_hospital_model(obj2):
            return False
        return bool(obj1._state.db == obj2._state.db or not (obj1._state.db and obj2._state.db))

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        hospital_app = app_label in hospital_app_labels()
        if db == PLATFORM_ALIAS:
            return not hospital_app
        return hospital_app
