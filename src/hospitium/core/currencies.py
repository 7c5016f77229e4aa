"""ISO 4217 currency codes: which exist, and the installation's default for new hospitals.

The codes are read once from ``iso4217.txt`` next to this module (why a file of our own: see
its header).
"""

from __future__ import annotations

import importlib.resources
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from hospitium.core.errors import ValidationFailed


class InvalidCurrency(ValidationFailed):
    code = "invalid_currency"
    default_message = "A currency is a current ISO 4217 code, like EUR."


@lru_cache(maxsize=1)
def currency_names() -> dict[str, str]:
    """Every current ISO 4217 code with its name."""
    text = importlib.resources.files("hospitium.core").joinpath("iso4217.txt").read_text("utf-8")
    names: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, _, name = line.partition("\t")
            names[code] = name
    return names


def is_currency(code: object) -> bool:
    return isinstance(code, str) and code in currency_names()


def validate_currency(code: object, *, field: str = "currency") -> str:
    """The code in upper case when it is a current ISO 4217 code; raises InvalidCurrency."""
    candidate = code.strip().upper() if isinstance(code, str) else ""
    if not is_currency(candidate):
        shown = code if isinstance(code, str) else ""
        raise InvalidCurrency(
            f"{shown!r} is not a current ISO 4217 currency code (like EUR, GBP or USD).",
            fields={field: ["Not an ISO 4217 currency code."]},
        )
    return candidate


def default_currency() -> str:
    """The currency new hospitals get unless told otherwise (HOSPITIUM_DEFAULT_CURRENCY).

    Raises ImproperlyConfigured when the setting is not an ISO 4217 code.
    """
    configured = settings.HOSPITIUM_DEFAULT_CURRENCY
    if not is_currency(configured):
        raise ImproperlyConfigured(
            f"HOSPITIUM_DEFAULT_CURRENCY must be an ISO 4217 code in upper case; got {configured!r}"
        )
    return str(configured)
