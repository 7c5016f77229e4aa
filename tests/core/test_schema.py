"""The OpenAPI document is generated without errors or warnings and lists every resource."""

from __future__ import annotations

from io import StringIO

import pytest
import yaml
from django.core.management import call_command

RESOURCES = [
    "patients",
    "departments",
    "practitioners",
    "appointments",
    "visits",
    "diagnoses",
    "treatments",
    "wards",
    "beds",
    "admissions",
    "invoices",
    "payments",
    "feedback",
    "campaigns",
    "audit-events",
]


def test_the_schema_builds_cleanly_and_lists_every_resource(capsys):
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    paths = set(schema["paths"])
    for resource in RESOURCES:
        assert f"/api/{resource}/" in paths, resource
    assert "/api/auth/token/" in paths
    for path in (
        "/api/reports/settings/templates/{id}/",
        "/api/reports/settings/retention/",
        "/api/reports/fleet/templates/{id}/generate/",
        "/api/reports/fleet/generated/{id}/status/",
        "/api/reports/fleet/generated/{id}/download/",
    ):
        assert path in paths, path
    assert set(schema["paths"]["/api/reports/settings/templates/{id}/"]) >= {"get", "patch"}


@pytest.mark.django_db
def test_the_swagger_ui_is_served_with_local_assets(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn" not in html.lower()
