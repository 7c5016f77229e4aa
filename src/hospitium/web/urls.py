"""The web interface's pages (on a hospital's host)."""

from __future__ import annotations

from django.urls import URLPattern, path

from hospitium.web.views import (
    admissions,
    appointments,
    audit,
    auth,
    billing,
    engagement,
    overview,
    patients,
    staff,
    visits,
)

urlpatterns: list[URLPattern] = [
    path("", overview.start, name="web-start"),
    path("login/", auth.sign_in, name="web-login"),
    path("logout/", auth.sign_out, name="web-logout"),
    path("password/", auth.password_change, name="web-password"),
    path("patients/", patients.patient_list, name="web-patients"),
    path("patients/new/", patients.patient_create, name="web-patient-new"),
    path("patients/<uuid:patient_id>/", patients.patient_detail, name="web-patient"),
    path("patients/<uuid:patient_id>/edit/", patients.patient_edit, name="web-patient-edit"),
    path("patients/<uuid:patient_id>/void/", patients.patient_void_view, name="web-patient-void"),
    path("appointments/", appointments.appointment_list, name="web-appointments"),
    path("appointments/new/", appointments.appointment_book, name="web-appointment-new"),
    path(
        "appointments/<uuid:appointment_id>/<str:action>/",
        appointments.appointment_action,
        name="web-appointment-action",
    ),
    path("visits/new/", visits.visit_new, name="web-visit-new"),
    path("visits/icd10/", visits.icd10_choices, name="web-icd10"),
    path("visits/<uuid:visit_id>/", visits.visit_detail, name="web-visit"),
    path("visits/<uuid:visit_id>/diagnoses/", visits.visit_diagnosis_add, name="web-diagnosis-new"),
    path(
        "visits/<uuid:visit_id>/treatments/", visits.visit_treatment_add, name="web-treatment-new"
    ),
    path("admissions/", admissions.board, name="web-admissions"),
    path("admissions/admit/", admissions.admit, name="web-admit"),
    path("admissions/<str:admission_id>/", admissions.stay, name="web-stay"),
    path("admissions/<str:admission_id>/transfer/", admissions.transfer, name="web-transfer"),
    path("admissions/<str:admission_id>/discharge/", admissions.discharge, name="web-discharge"),
    path("billing/", billing.invoices, name="web-invoices"),
    path("billing/new/", billing.invoice_new, name="web-invoice-new"),
    path("billing/<str:invoice_id>/", billing.invoice, name="web-invoice"),
    path("billing/<str:invoice_id>/lines/", billing.add_line, name="web-invoice-line"),
    path("billing/<str:invoice_id>/issue/", billing.issue, name="web-invoice-issue"),
    path("billing/<str:invoice_id>/payments/", billing.pay, name="web-invoice-pay"),
    path("billing/<str:invoice_id>/invoice.pdf", billing.invoice_document, name="web-invoice-pdf"),
    path(
        "billing/payments/<str:payment_id>/receipt.pdf",
        billing.receipt_document,
        name="web-receipt-pdf",
    ),
    path("feedback/", engagement.feedback_index, name="web-feedback"),
    path("feedback/<str:feedback_id>/", engagement.feedback_detail, name="web-feedback-item"),
    path("campaigns/", engagement.campaign_index, name="web-campaigns"),
    path("campaigns/<str:campaign_id>/", engagement.campaign_detail, name="web-campaign"),
    path("campaigns/<str:campaign_id>/join/", engagement.campaign_join, name="web-campaign-join"),
    path(
        "campaigns/participations/<str:participation_id>/leave/",
        engagement.campaign_leave,
        name="web-campaign-leave",
    ),
    path("staff/", staff.staff_list, name="web-staff"),
    path("staff/<int:user_id>/", staff.staff_member, name="web-staff-member"),
    path("staff/<int:user_id>/remove/", staff.staff_member_remove, name="web-staff-remove"),
    path("audit/", audit.audit_log, name="web-audit"),
]
