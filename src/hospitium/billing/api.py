"""Invoices and payments over the REST API. Amounts travel as strings ("12.50") so they
round-trip exactly."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from hospitium.admissions.models import Admission
from hospitium.billing.models import Invoice, InvoiceLine, Payment
from hospitium.billing.selectors import (
    CENT,
    invoice_amounts,
    invoice_get,
    invoice_list,
    payment_list,
    with_amounts,
)
from hospitium.billing.services import (
    invoice_add_line,
    invoice_cancel,
    invoice_create,
    invoice_issue,
    invoice_remove_line,
    invoice_update,
    invoice_update_line,
    invoice_void,
    payment_record,
    payment_void,
)
from hospitium.core.api import StrictModelSerializer, StrictSerializer, refuse_body
from hospitium.core.errors import NotFound
from hospitium.core.filters import FilterSet
from hospitium.core.resources import UUID_PATTERN, HospitalResource
from hospitium.encounters.models import Visit
from hospitium.patients.models import Patient


class InvoiceLineSerializer(StrictModelSerializer[InvoiceLine]):
    amount = serializers.SerializerMethodField()

    class Meta:
        model = InvoiceLine
        fields = ["id", "description", "quantity", "unit_price", "amount"]
        read_only_fields = ["id", "amount"]
        # The service gives the readable errors (quantity > 0, price ≥ 0).
        extra_kwargs: dict[str, dict[str, object]] = {
            "quantity": {"validators": []},
            "unit_price": {"validators": []},
        }

    def get_amount(self, line: InvoiceLine) -> str:
        return str((line.quantity * line.unit_price).quantize(CENT))


class InvoiceSerializer(StrictModelSerializer[Invoice]):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    visit = serializers.PrimaryKeyRelatedField(
        queryset=Visit.objects.all(), allow_null=True, required=False
    )
    admission = serializers.PrimaryKeyRelatedField(
        queryset=Admission.objects.all(), allow_null=True, required=False
    )
    lines = InvoiceLineSerializer(many=True, required=False)
    # Not the model's default: the service fills in the hospital's own currency.
    currency = serializers.CharField(
        max_length=3,
        required=False,
        help_text="ISO 4217 code; the hospital's currency when left out, and the only one "
        "accepted (another answers 422 currency_not_accepted).",
    )
    total = serializers.SerializerMethodField()
    paid = serializers.SerializerMethodField()
    balance = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "patient",
            "visit",
            "admission",
            "status",
            "issued_at",
            "currency",
            "lines",
            "total",
            "paid",
            "balance",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "number", "status", "issued_at", "created_at", "updated_at"]

    def _amounts(self, invoice: Invoice) -> tuple[Decimal, Decimal]:
        # The selectors annotate the amounts; an invoice reached otherwise (a patient's nested
        # list) has them derived here, one query each.
        if hasattr(invoice, "total") and hasattr(invoice, "paid"):
            return Decimal(invoice.total).quantize(CENT), Decimal(invoice.paid).quantize(CENT)
        return invoice_amounts(invoice.pk)

    def get_total(self, invoice: Invoice) -> str:
        return str(self._amounts(invoice)[0])

    def get_paid(self, invoice: Invoice) -> str:
        return str(self._amounts(invoice)[1])

    def get_balance(self, invoice: Invoice) -> str:
        total, paid = self._amounts(invoice)
        return str(total - paid)

    def validate_patient(self, value: Patient) -> Patient:
        if self.instance is not None and value.pk != self.instance.patient_id:
            raise serializers.ValidationError("An invoice's patient cannot be changed.")
        return value

    def validate_lines(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.instance is not None:
            raise serializers.ValidationError("Change lines through …/lines/.")
        return value


class InvoiceFilter(FilterSet):
    issued_from = django_filters.DateFilter(field_name="issued_at__date", lookup_expr="gte")
    issued_to = django_filters.DateFilter(field_name="issued_at__date", lookup_expr="lte")

    class Meta:
        model = Invoice
        fields = ["patient", "status", "visit", "admission"]


class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class InvoiceViewSet(HospitalResource):
    resource = "invoices"
    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilter
    ordering_fields = ["created_at", "issued_at", "number"]
    search_fields = ["number"]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Invoice]:
        return invoice_list()

    def create_object(self, data: dict[str, Any]) -> Invoice:
        lines = [dict(line) for line in data.pop("lines", [])]
        invoice = invoice_create(lines=lines, **data)
        return invoice_get(invoice.pk)

    def update_object(self, instance: Invoice, data: dict[str, Any]) -> Invoice:
        data.pop("patient", None)
        data.pop("lines", None)
        invoice_update(invoice=instance, **data)
        return invoice_get(instance.pk)

    def void_object(self, instance: Invoice, reason: str) -> Invoice:
        invoice_void(invoice=instance, reason=reason)
        # A voided invoice is hidden from the default queries: answer with what it now is.
        return _with_amounts_any(instance.pk)

    def _answer(self, invoice_id: Any, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(invoice_get(invoice_id)).data, status=code)

    @extend_schema(request=InvoiceLineSerializer, responses={201: InvoiceSerializer})
    @action(detail=True, methods=["post"], url_path="lines", resource="invoices")
    def lines(self, request: Request, pk: str | None = None) -> Response:
        invoice = self.get_object()
        serializer = InvoiceLineSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invoice_add_line(invoice=invoice, **serializer.validated_data)
        return self._answer(invoice.pk, status.HTTP_201_CREATED)

    @extend_schema(request=InvoiceLineSerializer, responses=InvoiceSerializer)
    @action(
        detail=True,
        methods=["patch", "delete"],
        url_path=rf"lines/(?P<line_id>{UUID_PATTERN})",
        resource="invoices",
    )
    def line(self, request: Request, pk: str | None = None, line_id: str = "") -> Response:
        invoice = self.get_object()
        try:
            row = invoice.lines.get(pk=line_id)
        except (InvoiceLine.DoesNotExist, ValueError):
            raise NotFound("No such line on this invoice.") from None
        if request.method == "DELETE":
            invoice_remove_line(line=row)
            return self._answer(invoice.pk)
        serializer = InvoiceLineSerializer(row, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        invoice_update_line(line=row, **serializer.validated_data)
        return self._answer(invoice.pk)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], resource="invoices")
    def issue(self, request: Request, pk: str | None = None) -> Response:
        refuse_body(request)
        invoice_issue(invoice=self.get_object())
        return self._answer(pk)

    @extend_schema(request=ReasonSerializer)
    @action(detail=True, methods=["post"], resource="invoices")
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invoice_cancel(
            invoice=self.get_object(), reason=serializer.validated_data.get("reason", "")
        )
        return self._answer(pk)


def _with_amounts_any(invoice_id: Any) -> Invoice:
    return with_amounts(Invoice.all_objects.filter(pk=invoice_id)).get()


class PaymentSerializer(StrictModelSerializer[Payment]):
    invoice = serializers.PrimaryKeyRelatedField(queryset=Invoice.objects.all())
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    paid_at = serializers.DateTimeField(required=False)

    class Meta:
        model = Payment
        fields = [
            "id",
            "invoice",
            "amount",
            "paid_at",
            "method",
            "voided_at",
            "void_reason",
            "created_at",
        ]
        read_only_fields = ["id", "voided_at", "void_reason", "created_at"]


class PaymentFilter(FilterSet):
    paid_from = django_filters.DateFilter(field_name="paid_at__date", lookup_expr="gte")
    paid_to = django_filters.DateFilter(field_name="paid_at__date", lookup_expr="lte")

    class Meta:
        model = Payment
        fields = ["invoice", "method"]


class PaymentViewSet(HospitalResource):
    resource = "payments"
    serializer_class = PaymentSerializer
    filterset_class = PaymentFilter
    ordering_fields = ["paid_at", "amount"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[Payment]:
        return payment_list()

    def create_object(self, data: dict[str, Any]) -> Payment:
        return payment_record(**data)

    def void_object(self, instance: Payment, reason: str) -> Payment:
        return payment_void(payment=instance, reason=reason)


ROUTES = [
    ("invoices", InvoiceViewSet, "invoice"),
    ("payments", PaymentViewSet, "payment"),
]
