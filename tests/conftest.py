"""Base fixtures: two hospitals (ALPHA and BRAVO) and personas — an admin and a doctor of ALPHA,
a doctor of BRAVO, an outsider with no membership, and a platform superuser — so that every test
can show that one hospital never sees another's data.

Each test gets its own HOSPITIUM_HOME (hospital store files); the migrated template is built
once per session and shared, which is what makes provisioning a hospital per test cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from hospitium.accounts.models import Membership, Role, User
from hospitium.tenancy import stores
from hospitium.tenancy.migration import hospital_fingerprint
from hospitium.tenancy.models import Hospital
from hospitium.tenancy.provisioning import hospital_create
from hospitium.tenancy.selectors import forget_cached_hospitals
from tests import storehelp

# tests/settings.py made this scratch folder; each test gets a home of its own below.
_SESSION_HOME = Path(django_settings.HOSPITIUM_HOME)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: about the SQLite store only")
    config.addinivalue_line("markers", "postgresql_only: about the PostgreSQL store only")


def pytest_report_header(config: pytest.Config) -> str:
    store = "postgresql" if storehelp.on_postgres() else "sqlite"
    return f"hospitium store: {store}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests about one kind of store are left out (reported as deselected) on the other run."""
    other = "sqlite_only" if storehelp.on_postgres() else "postgresql_only"
    kept = [item for item in items if other not in item.keywords]
    dropped = [item for item in items if other in item.keywords]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_sessionstart(session: pytest.Session) -> None:
    if storehelp.on_postgres():
        storehelp.create_server_databases()
        storehelp.drop_all_hospital_schemas()


PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _isolated_home(settings, tmp_path: Path) -> Iterator[Path]:
    """A fresh HOSPITIUM_HOME per test; the template folder is shared by the session."""
    home = tmp_path / "var"
    home.mkdir()
    settings.HOSPITIUM_HOME = home
    settings.HOSPITIUM_TEMPLATE_DIR = _SESSION_HOME / "templates"
    settings.HOSPITIUM_TENANT_CACHE_SECONDS = 0
    forget_cached_hospitals()
    # Rate limits count in the cache: each test starts with none spent.
    cache.clear()
    yield home
    stores.close_hospital_connections()
    if storehelp.on_postgres():
        storehelp.drop_all_hospital_schemas()
    forget_cached_hospitals()
    hospital_fingerprint.cache_clear()


@pytest.fixture
def hospital_a(db) -> Hospital:
    return hospital_create(
        code="ALPHA", name="Alpha General", domains=["alpha.example.test"]
    ).hospital


@pytest.fixture
def hospital_b(db) -> Hospital:
    return hospital_create(
        code="BRAVO", name="Bravo Clinic", domains=["bravo.example.test"]
    ).hospital


def make_user(email: str, *, hospital: Hospital | None = None, role: str = Role.DOCTOR) -> User:
    user = User.objects.create_user(email, PASSWORD)
    if hospital is not None:
        Membership.objects.create(user=user, hospital=hospital, role=role)
    return user


@pytest.fixture
def admin_a(hospital_a: Hospital) -> User:
    return make_user("admin@alpha.example.test", hospital=hospital_a, role=Role.ADMIN)


@pytest.fixture
def doctor_a(hospital_a: Hospital) -> User:
    return make_user("doctor@alpha.example.test", hospital=hospital_a)


@pytest.fixture
def doctor_b(hospital_b: Hospital) -> User:
    return make_user("doctor@bravo.example.test", hospital=hospital_b)


@pytest.fixture
def outsider(db) -> User:
    return make_user("outsider@example.test")


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("root@example.test", PASSWORD)


@dataclass
class Personas:
    admin_a: User
    doctor_a: User
    doctor_b: User
    outsider: User


@pytest.fixture
def personas(admin_a: User, doctor_a: User, doctor_b: User, outsider: User) -> Personas:
    return Personas(admin_a, doctor_a, doctor_b, outsider)


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def web() -> Client:
    return Client()
