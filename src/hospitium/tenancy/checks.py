"""System checks that refuse, at start-up, the designs that break across stores."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.db.migrations import Migration
from django.db.models import Model

from hospitium.tenancy.fields import PlatformRef
from hospitium.tenancy.router import hospital_app_labels


def _is_hospital(model: type[Model]) -> bool:
    return model._meta.app_label in hospital_app_labels()


def check_relations(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """No database relation may cross between the platform store and a hospital store."""
    return relation_errors(apps.get_models())


def relation_errors(models: Iterable[type[Model]]) -> list[checks.CheckMessage]:
    """The cross-store relations (and misplaced PlatformRefs) among ``models``."""
    models = list(models)
    errors: list[checks.CheckMessage] = []
    for model in models:
        for field in model._meta.get_fields(include_hidden=False):
            if not getattr(field, "is_relation", False) or field.auto_created:
                continue
            related = getattr(field, "related_model", None)
            if related is None or isinstance(related, str):
                continue
            if _is_hospital(model) and not _is_hospital(related):
                errors.append(
                    checks.Error(
                        f"{model._meta.label}.{field.name} is a database relation from a "
                        f"hospital model to the platform model {related._meta.label}.",
                        hint="Use hospitium.tenancy.fields.PlatformRef: no foreign key may "
                        "cross stores.",
                        obj=field,
                        id="hospitium.E001",
                    )
                )
            elif not _is_hospital(model) and _is_hospital(related):
                errors.append(
                    checks.Error(
                        f"{model._meta.label}.{field.name} is a database relation from a "
                        f"platform model to the hospital model {related._meta.label}.",
                        hint="Platform rows must not point into hospital stores.",
                        obj=field,
                        id="hospitium.E002",
                    )
                )
    for model in models:
        for field in model._meta.concrete_fields:
            if not isinstance(field, PlatformRef):
                continue
            if not _is_hospital(model):
                errors.append(
                    checks.Error(
                        f"{model._meta.label}.{field.name}: PlatformRef belongs on hospital "
                        "models.",
                        obj=field,
                        id="hospitium.E003",
                    )
                )
            elif _is_hospital(field.target):
                errors.append(
                    checks.Error(
                        f"{model._meta.label}.{field.name}: PlatformRef must point at a platform "
                        "model; use a ForeignKey inside the hospital store.",
                        obj=field,
                        id="hospitium.E004",
                    )
                )
    return errors


def check_migration_dependencies(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """A hospital app's migrations may depend only on hospital apps' migrations."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    return dependency_errors(loader.disk_migrations)


def dependency_errors(
    disk_migrations: Mapping[tuple[str, str], Migration],
) -> list[checks.CheckMessage]:
    """Hospital-app migrations among ``disk_migrations`` that depend on a non-hospital app."""
    labels = hospital_app_labels()
    errors: list[checks.CheckMessage] = []
    for (app_label, name), migration in disk_migrations.items():
        if app_label not in labels:
            continue
        for dep_app, _dep_name in migration.dependencies:
            if dep_app == "__setting__" or dep_app not in labels:
                errors.append(
                    checks.Error(
                        f"Migration {app_label}.{name} depends on {dep_app}, which is not a "
                        "hospital app.",
                        hint="Hospital stores migrate without the platform store; remove the "
                        "dependency (a PlatformRef needs none).",
                        id="hospitium.E005",
                    )
                )
    return errors


def check_app_lists(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every hospitium app is declared as either a platform app or a hospital app, never both."""
    overlap = set(settings.PLATFORM_APPS) & set(settings.HOSPITAL_APPS)
    if overlap:
        return [
            checks.Error(
                f"Apps listed as both platform and hospital apps: {sorted(overlap)}",
                id="hospitium.E006",
            )
        ]
    return []


def register() -> None:
    checks.register(check_relations, checks.Tags.models)
    checks.register(check_migration_dependencies, checks.Tags.models)
    checks.register(check_app_lists, checks.Tags.models)
