"""Sign-in lockout (django-axes) counts failures per user and address together: guessing one
account's password locks that account out from that address only, never a colleague who signs
in from the same address (a hospital's staff often share one public address)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db

IP_1 = "10.0.0.1"
IP_2 = "10.0.0.2"

SignIn = Callable[[str, str, str], Any]


def token_sign_in(email: str, password: str, ip: str) -> Any:
    return APIClient().post(
        "/api/auth/token/", {"email": email, "password": password}, format="json", REMOTE_ADDR=ip
    )


def session_sign_in(email: str, password: str, ip: str) -> Any:
    return Client().post(
        "/api/auth/login/", {"username": email, "password": password}, REMOTE_ADDR=ip
    )


def signed_in(response: Any) -> bool:
    if response.wsgi_request.path == "/api/auth/token/":
        return response.status_code == 200 and "token" in response.json()
    # Django's login view redirects after a successful sign-in and shows the form again otherwise.
    return response.status_code == 302 and response.wsgi_request.user.is_authenticated


def locked_out(response: Any) -> bool:
    return response.status_code == 429 and response.json()["error"]["code"] == "locked_out"


@pytest.fixture(autouse=True)
def _no_rate_limit_left_over() -> None:
    # The token endpoint's rate limit (per address, in the cache) is another matter: start clean.
    cache.clear()


SIGN_INS = pytest.mark.parametrize(
    "sign_in", [token_sign_in, session_sign_in], ids=["token", "session"]
)


@pytest.fixture
def users(hospital_a: Any) -> tuple[str, str]:
    x = make_user("x@alpha.example.test", hospital=hospital_a)
    y = make_user("y@alpha.example.test", hospital=hospital_a)
    return x.email, y.email


@SIGN_INS
def test_guessing_locks_out_that_user_from_that_address(sign_in, users, settings):
    x, _y = users
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert not signed_in(sign_in(x, "guess", IP_1))
    assert locked_out(sign_in(x, PASSWORD, IP_1))


@SIGN_INS
def test_another_user_on_the_same_address_still_signs_in(sign_in, users, settings):
    x, y = users
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(x, "guess", IP_1)
    assert locked_out(sign_in(x, PASSWORD, IP_1))
    assert signed_in(sign_in(y, PASSWORD, IP_1))


@SIGN_INS
def test_the_same_user_from_another_address_still_signs_in(sign_in, users, settings):
    x, _y = users
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(x, "guess", IP_1)
    assert signed_in(sign_in(x, PASSWORD, IP_2))


@SIGN_INS
def test_changing_the_case_of_the_email_does_not_buy_more_guesses(sign_in, users, settings):
    x, _y = users
    spellings = [x.upper(), x.title(), x, f" {x}", x.swapcase()]
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(spellings[attempt % len(spellings)], "guess", IP_1)
    assert locked_out(sign_in(x, PASSWORD, IP_1))
