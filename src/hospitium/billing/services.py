"""Writes to invoices, their lines and payments.

Every service locks the invoice row it changes, so a payment and a change of status or lines
never interleave. The database holds the same rules (migrations 0003 and 0004: payments within
the total, lines only on drafts, issuing with a line, no closing while payments stand, the
invoiced patient's own visit or admission, whole cents), even for writes that bypass these
services; a refusal that reaches a service anyway is answered with the service's own error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from hospitium.admissions.models import Admission
from hospitium.audit.services import audit_record
from hospitium.billing.errors import CurrencyNotAccepted
from hospitium.billing.models import (
    BillingSettings,
    Invoice,
    InvoiceLine,
    InvoiceNumberCounter,
    Payment,
)
from hospitium.billing.selectors import CENT, hospital_currency, invoice_amounts
from hospitium.core.currencies import validate_currency
from hospitium.core.db import atomic_service, broken_rule
from hospitium.core.errors import (
    BusinessRuleViolation,
    HospitiumError,
    NotFound,
    ValidationFailed,
)
from hospitium.core.voiding import record_void
from hospitium.encounters.models import Visit
from hospitium.patients.models import Patient
from hospitium.tenancy.router import current_alias

NUMBER_PREFIX = "INV-"
MAX_QUANTITY = Decimal("99999999.99")
MAX_PRICE = Decimal("9999999999.99")
LINE_FIELDS = ("description", "quantity", "unit_price")
INVOICE_EDITABLE = ("visit", "admission", "currency")
_UNSET: Any = object()


def _write_alias() -> str:
    return current_alias(write=True)


def _money(value: object) -> Decimal | None:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return amount if amount.is_finite() else None


def _fmt(amount: Decimal) -> str:
    return f"{amount.quantize(CENT)}"


def _line_errors(line: Mapping[str, Any], *, partial: bool = False) -> dict[str, list[str]]:
    """Field errors of one line (description, quantity > 0, unit price ≥ 0, whole cents)."""
    errors: dict[str, list[str]] = {}
    if not partial or "description" in line:
        if not str(line.get("description") or "").strip():
            errors["description"] = ["Required."]
        elif len(str(line["description"]).strip()) > 200:
            errors["description"] = ["At most 200 characters."]
    quantity = _money(line.get("quantity", Decimal("1")))
    if not partial or "quantity" in line:
        if quantity is None:
            errors["quantity"] = ["A number is required."]
        elif quantity <= 0:
            errors["quantity"] = ["The quantity must be more than 0."]
        elif quantity > MAX_QUANTITY or quantity != quantity.quantize(CENT):
            errors["quantity"] = ["At most 8 digits and 2 decimal places."]
    price = _money(line.get("unit_price"))
    if not partial or "unit_price" in line:
        if price is None:
            errors["unit_price"] = ["A price is required."]
        elif price < 0:
            errors["unit_price"] = ["The unit price cannot be negative."]
        elif price > MAX_PRICE or price != price.quantize(CENT):
            errors["unit_price"] = ["At most 10 digits and 2 decimal places."]
    return errors


def _not_whole_cents(quantity: Decimal, unit_price: Decimal) -> ValidationFailed:
    return ValidationFailed(
        f"{quantity} × {unit_price} does not come to whole cents.",
        fields={"quantity": ["Quantity × unit price must come to whole cents."]},
    )


def _check_line_amount(quantity: Decimal, unit_price: Decimal) -> None:
    # The database sums quantity × unit price exactly; a line that does not come to whole cents
    # would make the total shown (to the cent) differ from the total the database enforces.
    if quantity * unit_price != (quantity * unit_price).quantize(CENT):
        raise _not_whole_cents(quantity, unit_price)


def _refused_line(
    exc: IntegrityError, invoice: Invoice, doing: str, quantity: Decimal, unit_price: Decimal
) -> HospitiumError | None:
    """The service's own error for a line write the database refused."""
    rule = broken_rule(exc)
    if rule == "invoice_line_only_in_draft":
        return _not_draft(invoice, doing)
    if rule == "invoice_line_whole_cents":
        return _not_whole_cents(quantity, unit_price)
    return None


def _prefixed(errors: dict[str, list[str]], prefix: str) -> dict[str, list[str]]:
    return {f"{prefix}.{name}": messages for name, messages in errors.items()}


def _check_links(patient: Patient, visit: Visit | None, admission: Admission | None) -> None:
    error = _links_error(patient, visit, admission)
    if error is not None:
        raise error


def _other_patients(
    patient: Patient, visit: Visit | None, admission: Admission | None
) -> ValidationFailed:
    """The error for a visit or admission of another patient (what the database refuses)."""
    errors: dict[str, list[str]] = {}
    if visit is not None and visit.patient_id != patient.pk:
        errors["visit"] = ["This visit is of another patient."]
    if admission is not None and admission.patient_id != patient.pk:
        errors["admission"] = ["This admission is of another patient."]
    return ValidationFailed(
        "The visit and admission must be the invoiced patient's own.", fields=errors
    )


def _links_error(
    patient: Patient, visit: Visit | None, admission: Admission | None
) -> ValidationFailed | None:
    errors: dict[str, list[str]] = {}
    if visit is not None:
        if visit.voided_at is not None:
            errors["visit"] = ["This visit was voided."]
        elif visit.patient_id != patient.pk:
            errors["visit"] = ["This visit is of another patient."]
    if admission is not None:
        if admission.voided_at is not None:
            errors["admission"] = ["This admission was voided."]
        elif admission.patient_id != patient.pk:
            errors["admission"] = ["This admission is of another patient."]
    if errors:
        return ValidationFailed(
            "The visit and admission must be the invoiced patient's own.", fields=errors
        )
    return None


def _check_currency(currency: str | None) -> str:
    """The hospital's currency when ``currency`` is None or that currency; else raises
    InvalidCurrency (not ISO 4217, 400) or CurrencyNotAccepted (another currency, 422)."""
    accepted = hospital_currency()
    if currency is None:
        return accepted
    code = validate_currency(currency)
    if code != accepted:
        raise CurrencyNotAccepted(
            f"This hospital invoices in {accepted}; an invoice in {code} is not accepted.",
            fields={"currency": [f"Must be {accepted}."]},
        )
    return code


def _lock(invoice: Invoice) -> Invoice:
    """The invoice's row, locked for the rest of the transaction; NotFound once voided."""
    try:
        return Invoice.objects.select_for_update().get(pk=invoice.pk)
    except Invoice.DoesNotExist:
        raise NotFound("No such invoice.") from None


def _not_draft(invoice: Invoice, doing: str) -> BusinessRuleViolation:
    return BusinessRuleViolation(
        f"Invoice {invoice.number} is {invoice.status}; only a draft can {doing}.",
        fields={"status": [f"Is {invoice.status}, not draft."]},
    )


def _require_draft(invoice: Invoice, doing: str) -> None:
    if invoice.status != Invoice.Status.DRAFT:
        raise _not_draft(invoice, doing)


def _take_number() -> str:
    """The next number of this year's series, counted in the caller's transaction (see
    InvoiceNumberCounter): the counter row stays locked until that transaction ends, and a
    rollback gives the number back."""
    year = timezone.localdate(timezone.now(), timezone.get_default_timezone()).year
    connection = connections[_write_alias()]
    table = connection.ops.quote_name(InvoiceNumberCounter._meta.db_table)
    year_column = connection.ops.quote_name("year")
    last = connection.ops.quote_name("last_number")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({year_column}, {last}) VALUES (%s, 1) "  # noqa: S608 - names
            f"ON CONFLICT ({year_column}) DO UPDATE SET {last} = {table}.{last} + 1 "
            f"RETURNING {last}",
            [year],
        )
        (seq,) = cursor.fetchone()
    return f"{NUMBER_PREFIX}{year}-{seq:06d}"


@atomic_service(_write_alias)
def invoice_create(
    *,
    patient: Patient,
    lines: Iterable[Mapping[str, Any]] = (),
    visit: Visit | None = None,
    admission: Admission | None = None,
    currency: str | None = None,
) -> Invoice:
    """Open a draft invoice for ``patient`` (optionally for one of their visits or admissions)
    with ``lines`` (description, quantity, unit_price), in the hospital's currency
    (``currency``, when given, must be it). Numbers run ``INV-<year>-000001`` onwards without
    gaps in each calendar year of the hospital's reporting time zone.

    Raises ValidationFailed for bad lines, a visit or admission of another patient, or a code
    that is not ISO 4217 (InvalidCurrency); CurrencyNotAccepted for another currency.
    """
    lines = list(lines)
    errors: dict[str, list[str]] = {}
    for index, line in enumerate(lines):
        errors.update(_prefixed(_line_errors(line), f"lines.{index}"))
    if errors:
        raise ValidationFailed("Some invoice lines are not valid.", fields=errors)
    for line in lines:
        _check_line_amount(
            Decimal(str(line.get("quantity", "1"))), Decimal(str(line["unit_price"]))
        )
    _check_links(patient, visit, admission)
    code = _check_currency(currency)
    try:
        with transaction.atomic(using=_write_alias()):
            invoice = Invoice.objects.create(
                number=_take_number(),
                patient=patient,
                visit=visit,
                admission=admission,
                currency=code,
            )
    except IntegrityError as exc:
        if broken_rule(exc) == "invoice_same_patient":
            raise _other_patients(patient, visit, admission) from exc
        raise
    for line in lines:
        InvoiceLine.objects.create(
            invoice=invoice,
            description=str(line["description"]).strip(),
            quantity=Decimal(str(line.get("quantity", "1"))),
            unit_price=Decimal(str(line["unit_price"])),
        )
    audit_record(
        action="create",
        object_type="invoices",
        object_id=invoice.pk,
        detail={"number": invoice.number, "lines": len(lines)},
    )
    return invoice


@atomic_service(_write_alias)
def invoice_update(
    *,
    invoice: Invoice,
    visit: Visit | None = _UNSET,
    admission: Admission | None = _UNSET,
    currency: str = _UNSET,
) -> Invoice:
    """Change a draft's visit, admission or currency (only to the hospital's).

    Raises BusinessRuleViolation once issued, ValidationFailed for links to another patient or
    a code that is not ISO 4217, CurrencyNotAccepted for a currency not the hospital's.
    """
    fresh = _lock(invoice)
    _require_draft(fresh, "be changed")
    changed: list[str] = []
    if visit is not _UNSET:
        fresh.visit = visit
        changed.append("visit")
    if admission is not _UNSET:
        fresh.admission = admission
        changed.append("admission")
    if currency is not _UNSET:
        fresh.currency = _check_currency(currency)
        changed.append("currency")
    _check_links(fresh.patient, fresh.visit, fresh.admission)
    if changed:
        try:
            fresh.save(update_fields=[*changed, "updated_at"])
        except IntegrityError as exc:
            if broken_rule(exc) == "invoice_same_patient":
                raise _other_patients(fresh.patient, fresh.visit, fresh.admission) from exc
            raise
        audit_record(
            action="update", object_type="invoices", object_id=fresh.pk, detail={"fields": changed}
        )
    return fresh


@atomic_service(_write_alias)
def invoice_add_line(
    *, invoice: Invoice, description: str, unit_price: Decimal, quantity: Decimal = Decimal("1")
) -> InvoiceLine:
    """Add a line to a draft. Raises ValidationFailed (quantity ≤ 0, negative price) or
    BusinessRuleViolation (not a draft)."""
    data = {"description": description, "quantity": quantity, "unit_price": unit_price}
    errors = _line_errors(data)
    if errors:
        raise ValidationFailed("The invoice line is not valid.", fields=errors)
    _check_line_amount(Decimal(str(quantity)), Decimal(str(unit_price)))
    fresh = _lock(invoice)
    _require_draft(fresh, "take new lines")
    amounts = Decimal(str(quantity)), Decimal(str(unit_price))
    try:
        line = InvoiceLine.objects.create(
            invoice=fresh,
            description=description.strip(),
            quantity=amounts[0],
            unit_price=amounts[1],
        )
    except IntegrityError as exc:
        if (error := _refused_line(exc, fresh, "take new lines", *amounts)) is None:
            raise
        raise error from exc
    audit_record(
        action="create",
        object_type="invoice-lines",
        object_id=line.pk,
        detail={"invoice": str(fresh.pk)},
    )
    return line


@atomic_service(_write_alias)
def invoice_update_line(*, line: InvoiceLine, **changes: Any) -> InvoiceLine:
    """Change a draft's line (description, quantity, unit_price).

    Raises ValidationFailed or BusinessRuleViolation (not a draft).
    """
    unknown = set(changes) - set(LINE_FIELDS)
    if unknown:
        raise ValidationFailed(
            "These fields cannot be changed here.", fields={k: ["Not editable."] for k in unknown}
        )
    errors = _line_errors(changes, partial=True)
    if errors:
        raise ValidationFailed("The invoice line is not valid.", fields=errors)
    fresh_invoice = _lock(line.invoice)
    _require_draft(fresh_invoice, "have its lines changed")
    fresh = InvoiceLine.objects.get(pk=line.pk)
    for name, value in changes.items():
        setattr(fresh, name, value.strip() if isinstance(value, str) else Decimal(str(value)))
    amounts = Decimal(str(fresh.quantity)), Decimal(str(fresh.unit_price))
    _check_line_amount(*amounts)
    try:
        fresh.save(update_fields=[*changes, "updated_at"])
    except IntegrityError as exc:
        if (error := _refused_line(exc, fresh_invoice, "have its lines changed", *amounts)) is None:
            raise
        raise error from exc
    audit_record(
        action="update",
        object_type="invoice-lines",
        object_id=fresh.pk,
        detail={"invoice": str(fresh_invoice.pk), "fields": sorted(changes)},
    )
    return fresh


@atomic_service(_write_alias)
def invoice_remove_line(*, line: InvoiceLine) -> None:
    """Remove a line from a draft. Raises BusinessRuleViolation (not a draft)."""
    fresh_invoice = _lock(line.invoice)
    _require_draft(fresh_invoice, "have lines removed")
    try:
        InvoiceLine.objects.filter(pk=line.pk).delete()
    except IntegrityError as exc:
        if broken_rule(exc) == "invoice_line_only_in_draft":
            raise _not_draft(fresh_invoice, "have lines removed") from exc
        raise
    audit_record(
        action="delete",
        object_type="invoice-lines",
        object_id=line.pk,
        detail={"invoice": str(fresh_invoice.pk)},
    )


def _no_lines(invoice: Invoice) -> BusinessRuleViolation:
    return BusinessRuleViolation(
        f"Invoice {invoice.number} has no lines; add at least one before issuing it.",
        fields={"lines": ["At least one line is required."]},
    )


def _refuse_no_lines(invoice: Invoice) -> None:
    if not invoice.lines.exists():
        raise _no_lines(invoice)


@atomic_service(_write_alias)
def invoice_issue(*, invoice: Invoice, issued_at: dt.datetime | None = None) -> Invoice:
    """Issue a draft (it can then be paid, no longer edited).

    Raises BusinessRuleViolation when it is not a draft or has no lines.
    """
    fresh = _lock(invoice)
    _require_draft(fresh, "be issued")
    _refuse_no_lines(fresh)
    fresh.status = Invoice.Status.ISSUED
    fresh.issued_at = issued_at or timezone.now()
    try:
        fresh.save(update_fields=["status", "issued_at", "updated_at"])
    except IntegrityError as exc:
        if broken_rule(exc) == "invoice_issued_has_line":
            raise _no_lines(fresh) from exc
        raise
    audit_record(
        action="update", object_type="invoices", object_id=fresh.pk, detail={"status": "issued"}
    )
    return fresh


def _live_payments(invoice: Invoice) -> int:
    return Payment.objects.filter(invoice=invoice).count()


def _payments_stand(invoice: Invoice, doing: str) -> BusinessRuleViolation:
    count = _live_payments(invoice)
    return BusinessRuleViolation(
        f"Invoice {invoice.number} has {count} payment(s); void them before {doing} it.",
        fields={"payments": ["Void the payments first."]},
    )


def _refuse_with_payments(invoice: Invoice, doing: str) -> None:
    if _live_payments(invoice):
        raise _payments_stand(invoice, doing)


@atomic_service(_write_alias)
def invoice_cancel(*, invoice: Invoice, reason: str = "") -> Invoice:
    """Cancel an issued invoice that nothing was paid on.

    Raises BusinessRuleViolation for a draft (void it instead), an invoice already cancelled,
    or one with payments (void them first).
    """
    fresh = _lock(invoice)
    if fresh.status != Invoice.Status.ISSUED:
        hint = " A draft is voided instead." if fresh.status == Invoice.Status.DRAFT else ""
        raise BusinessRuleViolation(
            f"Invoice {fresh.number} is {fresh.status}; only an issued invoice can be "
            f"cancelled.{hint}",
            fields={"status": [f"Is {fresh.status}, not issued."]},
        )
    _refuse_with_payments(fresh, "cancelling")
    fresh.status = Invoice.Status.CANCELLED
    try:
        # A savepoint: on PostgreSQL the error's message counts the payments afterwards.
        with transaction.atomic(using=_write_alias()):
            fresh.save(update_fields=["status", "updated_at"])
    except IntegrityError as exc:
        if broken_rule(exc) == "invoice_not_closed_with_payments":
            raise _payments_stand(fresh, "cancelling") from exc
        raise
    audit_record(
        action="update",
        object_type="invoices",
        object_id=fresh.pk,
        detail={"status": "cancelled", "reason": reason.strip()},
    )
    return fresh


@atomic_service(_write_alias)
def invoice_void(*, invoice: Invoice, reason: str) -> Invoice:
    """Void an invoice made in error. Raises ValidationFailed without a reason and
    BusinessRuleViolation while payments on it are not voided."""
    fresh = _lock(invoice)
    _refuse_with_payments(fresh, "voiding")
    try:
        return record_void(fresh, reason=reason, object_type="invoices")
    except IntegrityError as exc:
        if broken_rule(exc) == "invoice_not_closed_with_payments":
            raise _payments_stand(fresh, "voiding") from exc
        raise


def _unpayable(invoice: Invoice) -> BusinessRuleViolation:
    return BusinessRuleViolation(
        f"Invoice {invoice.number} is {invoice.status}; only an issued invoice can be paid.",
        fields={"invoice": [f"Is {invoice.status}, not issued."]},
    )


def _refuse_unpayable(invoice: Invoice) -> None:
    if invoice.status != Invoice.Status.ISSUED:
        raise _unpayable(invoice)


@atomic_service(_write_alias)
def payment_record(
    *,
    invoice: Invoice,
    amount: Decimal,
    method: str = Payment.Method.CARD,
    paid_at: dt.datetime | None = None,
) -> Payment:
    """Record a payment on an issued invoice.

    Raises ValidationFailed (amount not positive, bad method) and BusinessRuleViolation (the
    invoice is not issued, or the amount is more than the balance, which the message names).
    """
    value = _money(amount)
    if value is None or value <= 0:
        raise ValidationFailed(
            "A payment must be more than 0.", fields={"amount": ["Must be more than 0."]}
        )
    if value != value.quantize(CENT):
        raise ValidationFailed(
            "A payment is in whole cents.", fields={"amount": ["At most 2 decimal places."]}
        )
    if method not in Payment.Method.values:
        raise ValidationFailed(
            f"Choose one of {', '.join(Payment.Method.values)}.",
            fields={"method": ["Not a payment method."]},
        )
    when = paid_at or timezone.now()
    if timezone.is_naive(when):
        raise ValidationFailed("Times need a time zone.", fields={"paid_at": ["Give a zone."]})
    fresh = _lock(invoice)
    _refuse_unpayable(fresh)
    total, paid = invoice_amounts(fresh.pk)
    balance = total - paid
    if value > balance:
        raise BusinessRuleViolation(
            f"The payment of {_fmt(value)} {fresh.currency} is more than the balance of "
            f"{_fmt(balance)} {fresh.currency} on invoice {fresh.number}.",
            fields={"amount": [f"At most the balance, {_fmt(balance)}."]},
        )
    try:
        payment = Payment.objects.create(invoice=fresh, amount=value, method=method, paid_at=when)
    except IntegrityError as exc:
        if broken_rule(exc) == "payment_on_issued_invoice":
            raise _unpayable(fresh) from exc
        raise
    audit_record(
        action="create",
        object_type="payments",
        object_id=payment.pk,
        detail={"invoice": str(fresh.pk), "amount": _fmt(value)},
    )
    return payment


@atomic_service(_write_alias)
def payment_void(*, payment: Payment, reason: str) -> Payment:
    """Void a payment recorded in error (the balance grows back).

    Raises ValidationFailed without a reason, BusinessRuleViolation when already voided.
    """
    # Serialise with payments and status changes of the same invoice.
    Invoice.all_objects.select_for_update().filter(pk=payment.invoice_id).first()
    return record_void(payment, reason=reason, object_type="payments")


@atomic_service(_write_alias)
def billing_currency_set(*, currency: str) -> BillingSettings:
    """Make ``currency`` the one the current hospital invoices in (provisioning sets it first).

    Invoices already made keep theirs; reports show each currency apart. Raises
    InvalidCurrency for a code that is not ISO 4217.
    """
    code = validate_currency(currency)
    row, created = BillingSettings.objects.select_for_update().get_or_create(
        singleton=1, defaults={"currency": code}
    )
    if not created and row.currency != code:
        before = row.currency
        row.currency = code
        row.save(update_fields=["currency", "updated_at"])
        audit_record(
            action="update",
            object_type="billing-settings",
            object_id=row.pk,
            detail={"currency": code, "was": before},
        )
    return row
