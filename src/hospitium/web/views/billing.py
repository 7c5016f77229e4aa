"""``/billing/``: invoices (filtered by status), an invoice with its lines, payments and
balance; create, add lines, issue, record payments; the invoice and receipts as PDF. Every
write goes through the billing services, whose refusals (an overpayment names the balance)
are shown on the page."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from hospitium.billing.documents import invoice_pdf, receipt_pdf
from hospitium.billing.models import Invoice, Payment
from hospitium.billing.selectors import (
    hospital_currency,
    invoice_get,
    invoice_list,
    payment_get,
    payment_list,
)
from hospitium.billing.services import (
    invoice_add_line,
    invoice_create,
    invoice_issue,
    payment_record,
)
from hospitium.core.errors import HospitiumError
from hospitium.web.access import WRITE, can, current_hospital, require
from hospitium.web.choosing import chosen_patient, matching_patients
from hospitium.web.forms import AccessibleForm, show_refusal
from hospitium.web.pages import hospital_page, render_page

PER_PAGE = 50


def _amount(bill: Invoice, name: str) -> Decimal:
    """One of the amounts invoice_list() annotates: "total", "paid" or "balance"."""
    return Decimal(getattr(bill, name))


class StatusFilter(AccessibleForm):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All")), *Invoice.Status.choices],
    )


class LineForm(AccessibleForm):
    description = forms.CharField(label=_("Description"), max_length=200)
    quantity = forms.DecimalField(label=_("Quantity"), initial=Decimal("1"), decimal_places=2)
    unit_price = forms.DecimalField(label=_("Unit price"), decimal_places=2)


class PaymentForm(AccessibleForm):
    amount = forms.DecimalField(label=_("Amount"), decimal_places=2)
    method = forms.ChoiceField(label=_("Method"), choices=Payment.Method.choices)


@hospital_page
def invoices(request: HttpRequest) -> HttpResponse:
    """The invoices, newest first, filtered by status."""
    require("invoices")
    filters = StatusFilter(request.GET or None)
    rows = invoice_list()
    status = filters.cleaned_data["status"] if filters.is_valid() else ""
    if status:
        rows = rows.filter(status=status)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    return render_page(
        request,
        "web/billing_invoices.html",
        {
            "filters": filters,
            "status": status,
            "page": page,
            "currency": hospital_currency(),
            "can_create": can("invoices", WRITE),
        },
    )


@hospital_page
@require_http_methods(["GET", "POST"])
def invoice_new(request: HttpRequest) -> HttpResponse:
    """A new draft invoice for a patient found by name or MRN, with its first line."""
    require("invoices", WRITE)
    query = request.GET.get("q", "").strip()
    chosen = request.POST.get("patient") or request.GET.get("patient")
    patient = chosen_patient(chosen)
    form = LineForm(request.POST or None)
    if request.method == "POST" and patient is not None and form.is_valid():
        try:
            invoice = invoice_create(patient=patient, lines=[form.cleaned_data])
        except HospitiumError as exc:
            show_refusal(form, exc)
        else:
            messages.success(request, gettext("Draft invoice %s opened.") % invoice.number)
            return redirect(f"/billing/{invoice.pk}/")
    return render_page(
        request,
        "web/billing_new.html",
        {
            "form": form,
            "query": query,
            "results": matching_patients(query) if query and patient is None else None,
            "patient": patient,
            "currency": hospital_currency(),
        },
    )


@hospital_page
def invoice(request: HttpRequest, invoice_id: str) -> HttpResponse:
    """One invoice: lines, payments, total, paid and balance, and what may be done next."""
    require("invoices")
    return _invoice_page(request, invoice_get(invoice_id))


def _invoice_page(
    request: HttpRequest,
    bill: Invoice,
    *,
    line_form: LineForm | None = None,
    payment_form: PaymentForm | None = None,
) -> HttpResponse:
    draft = bill.status == Invoice.Status.DRAFT
    issued = bill.status == Invoice.Status.ISSUED
    line_form = line_form or LineForm()
    payment_form = payment_form or PaymentForm(initial={"amount": _amount(bill, "balance")})
    return render_page(
        request,
        "web/billing_invoice.html",
        {
            "invoice": bill,
            "lines": [(line, line.quantity * line.unit_price) for line in bill.lines.all()],
            "payments": payment_list().filter(invoice=bill) if can("payments") else None,
            "can_edit": draft and can("invoices", WRITE),
            "can_pay": issued and _amount(bill, "balance") > 0 and can("payments", WRITE),
            "can_read_patients": can("patients"),
            "line_form": line_form,
            "payment_form": payment_form,
            "refused": payment_form if payment_form.errors else line_form,
        },
    )


@hospital_page
@require_POST
def add_line(request: HttpRequest, invoice_id: str) -> HttpResponse:
    require("invoices", WRITE)
    bill = invoice_get(invoice_id)
    form = LineForm(request.POST)
    if form.is_valid():
        try:
            invoice_add_line(invoice=bill, **form.cleaned_data)
        except HospitiumError as exc:
            show_refusal(form, exc)
        else:
            return redirect(f"/billing/{bill.pk}/")
    return _invoice_page(request, bill, line_form=form)


@hospital_page
@require_POST
def issue(request: HttpRequest, invoice_id: str) -> HttpResponse:
    require("invoices", WRITE)
    bill = invoice_get(invoice_id)
    try:
        invoice_issue(invoice=bill)
    except HospitiumError as exc:
        form = LineForm()
        form.add_error(None, exc.message)
        return _invoice_page(request, bill, line_form=form)
    messages.success(request, gettext("Invoice %s is issued.") % bill.number)
    return redirect(f"/billing/{bill.pk}/")


@hospital_page
@require_POST
def pay(request: HttpRequest, invoice_id: str) -> HttpResponse:
    require("payments", WRITE)
    bill = invoice_get(invoice_id)
    form = PaymentForm(request.POST)
    if form.is_valid():
        try:
            payment = payment_record(invoice=bill, **form.cleaned_data)
        except HospitiumError as exc:
            show_refusal(form, exc)
        else:
            messages.success(
                request,
                gettext("Payment of %(amount)s %(currency)s recorded.")
                % {"amount": payment.amount, "currency": bill.currency},
            )
            return redirect(f"/billing/{bill.pk}/")
    return _invoice_page(request, bill, payment_form=form)


def _pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@hospital_page
def invoice_document(request: HttpRequest, invoice_id: str) -> HttpResponse:
    """The printable invoice (PDF)."""
    require("invoices")
    bill = invoice_get(invoice_id)
    content = invoice_pdf(
        hospital_name=current_hospital(request).name,
        invoice=bill,
        lines=bill.lines.all(),
        total=_amount(bill, "total"),
        paid=_amount(bill, "paid"),
    )
    return _pdf_response(content, f"{bill.number}.pdf")


@hospital_page
def receipt_document(request: HttpRequest, payment_id: str) -> HttpResponse:
    """A payment's receipt (PDF)."""
    require("payments")
    payment = payment_get(payment_id)
    bill = invoice_get(payment.invoice_id)
    content = receipt_pdf(
        hospital_name=current_hospital(request).name,
        invoice=bill,
        payment=payment,
        balance=_amount(bill, "balance"),
    )
    return _pdf_response(content, f"{bill.number}-receipt.pdf")
