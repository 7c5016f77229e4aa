from __future__ import annotations

from django.db import models
from django.db.migrations import Migration
from django.test.utils import isolate_apps

from hospitium.tenancy.checks import check_relations, dependency_errors, relation_errors
from hospitium.tenancy.fields import PROTECT, PlatformRef


def test_the_project_itself_passes_the_cross_store_checks():
    assert check_relations() == []


@isolate_apps("hospitium.patients", "hospitium.accounts")
def test_a_foreign_key_from_a_hospital_model_to_a_platform_model_is_refused():
    from hospitium.accounts.models import User

    class Visit(models.Model):
        doctor = models.ForeignKey(User, on_delete=models.PROTECT)

        class Meta:
            app_label = "patients"

    errors = relation_errors([Visit])
    assert [error.id for error in errors] == ["hospitium.E001"]
    assert "PlatformRef" in (errors[0].hint or "")


@isolate_apps("hospitium.patients", "hospitium.accounts")
def test_a_foreign_key_from_a_platform_model_to_a_hospital_model_is_refused():
    class Chart(models.Model):
        class Meta:
            app_label = "patients"

    class Favourite(models.Model):
        chart = models.ForeignKey(Chart, on_delete=models.CASCADE)

        class Meta:
            app_label = "accounts"

    errors = relation_errors([Chart, Favourite])
    assert [error.id for error in errors] == ["hospitium.E002"]


@isolate_apps("hospitium.patients", "hospitium.accounts")
def test_a_platform_ref_on_a_platform_model_or_to_a_hospital_model_is_refused():
    class Note(models.Model):
        author = PlatformRef("accounts.User", on_delete=PROTECT)

        class Meta:
            app_label = "accounts"

    class Wrong(models.Model):
        patient = PlatformRef("patients.Patient", on_delete=PROTECT)

        class Meta:
            app_label = "patients"

    assert [error.id for error in relation_errors([Note, Wrong])] == [
        "hospitium.E003",
        "hospitium.E004",
    ]


def test_a_hospital_migration_depending_on_a_platform_app_is_refused():
    bad = Migration("0002_link", "patients")
    bad.dependencies = [("patients", "0001_initial"), ("accounts", "0001_initial")]
    swappable = Migration("0003_user", "staff")
    swappable.dependencies = [("__setting__", "AUTH_USER_MODEL")]
    good = Migration("0002_ok", "staff")
    good.dependencies = [("staff", "0001_initial"), ("patients", "0001_initial")]
    errors = dependency_errors(
        {
            ("patients", "0002_link"): bad,
            ("staff", "0003_user"): swappable,
            ("staff", "0002_ok"): good,
        }
    )
    assert [error.id for error in errors] == ["hospitium.E005", "hospitium.E005"]
    assert "accounts" in errors[0].msg


def test_set_null_on_a_non_nullable_platform_ref_is_refused():
    field = PlatformRef("accounts.User", on_delete="set_null")
    field.set_attributes_from_name("owner")
    field.model = type("M", (), {"_meta": None})  # check() only needs a model attribute
    assert any(error.id == "hospitium.E010" for error in PlatformRef.check(field) if error.id)
