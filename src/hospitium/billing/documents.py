"""Printable billing documents (PDF, ReportLab): an invoice and a payment's receipt.

Pure layout: the caller passes what the documents show (the hospital's name comes from the
platform, which this layer does not read). Money is shown with two places and the invoice's
currency, which is the hospital's.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import getSampleStyleSheet  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import Flowable  # type: ignore[import-untyped]

from hospitium.billing.models import Invoice, InvoiceLine, Payment

_CENT = Decimal("0.01")


def _money(amount: Decimal, currency: str) -> str:
    return f"{Decimal(amount).quantize(_CENT):,.2f} {currency}"


def _pdf(title: str, story: Sequence[Flowable]) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=title,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
    )
    document.build(list(story))
    return buffer.getvalue()


def _table(rows: list[list[str]], widths: list[float], *, header: bool = True) -> Table:
    table = Table(rows, colWidths=widths, hAlign="LEFT")
    style = [
        ("ALIGN", (-1, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    if header:
        style.append(("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"))
    table.setStyle(TableStyle(style))
    return table


def _patient_line(invoice: Invoice) -> str:
    patient = invoice.patient
    return f"{patient.given_name} {patient.family_name} (MRN {patient.mrn})"


def invoice_pdf(
    *,
    hospital_name: str,
    invoice: Invoice,
    lines: Iterable[InvoiceLine],
    total: Decimal,
    paid: Decimal,
) -> bytes:
    """The invoice as a one-or-more-page PDF: hospital, number, patient, lines and balance."""
    styles = getSampleStyleSheet()
    currency = invoice.currency
    rows = [["Description", "Quantity", "Unit price", "Amount"]]
    for line in lines:
        rows.append(
            [
                line.description,
                f"{line.quantity.normalize():f}",
                _money(line.unit_price, currency),
                _money(line.quantity * line.unit_price, currency),
            ]
        )
    sums = [
        ["Total", _money(total, currency)],
        ["Paid", _money(paid, currency)],
        ["Balance", _money(total - paid, currency)],
    ]
    issued = f"{invoice.issued_at:%Y-%m-%d}" if invoice.issued_at else "not issued (draft)"
    story: list[Flowable] = [
        Paragraph(hospital_name, styles["Title"]),
        Paragraph(f"Invoice {invoice.number}", styles["Heading2"]),
        Paragraph(f"Patient: {_patient_line(invoice)}", styles["Normal"]),
        Paragraph(f"Issued: {issued}", styles["Normal"]),
        Paragraph(f"Currency: {currency}", styles["Normal"]),
        Spacer(1, 6 * mm),
        _table(rows, [80 * mm, 22 * mm, 36 * mm, 36 * mm]),
        Spacer(1, 4 * mm),
        _table(sums, [138 * mm, 36 * mm], header=False),
    ]
    return _pdf(f"Invoice {invoice.number}", story)


def receipt_pdf(
    *, hospital_name: str, invoice: Invoice, payment: Payment, balance: Decimal
) -> bytes:
    """A receipt for one payment: hospital, invoice, patient, amount, method and what is left."""
    styles = getSampleStyleSheet()
    currency = invoice.currency
    rows = [
        ["Invoice", invoice.number],
        ["Patient", _patient_line(invoice)],
        ["Paid on", f"{payment.paid_at:%Y-%m-%d %H:%M}"],
        ["Method", str(payment.get_method_display())],
        ["Amount", _money(payment.amount, currency)],
        ["Balance after all payments", _money(balance, currency)],
    ]
    story: list[Flowable] = [
        Paragraph(hospital_name, styles["Title"]),
        Paragraph("Receipt", styles["Heading2"]),
        Spacer(1, 4 * mm),
        _table(rows, [70 * mm, 104 * mm], header=False),
    ]
    return _pdf(f"Receipt for {invoice.number}", story)
