"""The OpenAPI document is generated without errors or warnings and lists every resource."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]

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
    "members",
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


# Run in a fresh interpreter: the failure only shows while drf-spectacular is still loading its
# extensions, which this test process did long ago.
_CONCURRENT_FIRST_REQUESTS = """
import collections, threading
import django
django.setup()
from django.test import Client

THREADS = 32
barrier = threading.Barrier(THREADS)
answers = []

def fetch():
    client = Client(raise_request_exception=False)
    barrier.wait()
    response = client.get("/api/schema/", HTTP_HOST="localhost")
    answers.append((response.status_code, response.content))

threads = [threading.Thread(target=fetch) for _ in range(THREADS)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(sorted(collections.Counter(status for status, _ in answers).items()))
print(len({content for _, content in answers}))
"""


def test_concurrent_first_schema_requests_of_a_fresh_process_all_get_the_same_document(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "HOSPITIUM_TEST_WORKER_HOME": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    run = subprocess.run(
        [sys.executable, "-c", _CONCURRENT_FIRST_REQUESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    statuses, distinct = run.stdout.strip().splitlines()[-2:]
    assert statuses == "[(200, 32)]", run.stderr[-3000:]
    assert distinct == "1"
