"""Helpers for the web interface's tests: a client on a hospital's host, signed in, and a
query count over both stores (the platform's and the hospital's)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from django.db import connection, connections
from django.test import Client

from hospitium.accounts.models import Membership, User
from hospitium.tenancy import stores
from hospitium.tenancy.models import Hospital
from tests.conftest import make_user

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def host_of(hospital: Hospital) -> str:
    """The host a browser would use locally: ``<code>.localhost``."""
    return f"{hospital.code.lower()}.localhost"


def client_for(hospital: Hospital, user: User | None = None) -> Client:
    """A test client on the hospital's host, signed in as ``user`` when given."""
    client = Client(HTTP_HOST=host_of(hospital))
    if user is not None:
        client.force_login(user, backend=MODEL_BACKEND)
    return client


def member(hospital: Hospital, role: str, email: str | None = None) -> User:
    """A new user holding ``role`` in ``hospital``."""
    return make_user(
        email or f"{role}@{hospital.code.lower()}.example.test", hospital=hospital, role=role
    )


def add_role(user: User, hospital: Hospital, role: str) -> None:
    Membership.objects.create(user=user, hospital=hospital, role=role)


@contextmanager
def max_queries(assert_max: Any, hospital: Hospital, limit: int) -> Iterator[None]:
    """``django_assert_max_num_queries`` on the platform store and on the hospital's store,
    ``limit`` each."""
    alias = stores.alias_for(hospital.as_ref())
    with ExitStack() as stack:
        stack.enter_context(assert_max(limit, connection=connection))
        stack.enter_context(assert_max(limit, connection=connections[alias]))
        yield
