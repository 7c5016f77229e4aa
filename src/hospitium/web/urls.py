"""The web interface's pages (on a hospital's host)."""

from __future__ import annotations

from django.urls import URLPattern, path

from hospitium.web.views import auth, overview, patients

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
]
