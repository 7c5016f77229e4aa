"""Billing's own errors and their stable codes."""

from __future__ import annotations

from hospitium.core.errors import BusinessRuleViolation


class CurrencyNotAccepted(BusinessRuleViolation):
    """An invoice in a currency other than the hospital's (422)."""

    code = "currency_not_accepted"
    default_message = "This hospital invoices in another currency."
