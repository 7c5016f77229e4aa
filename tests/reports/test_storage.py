"""Report files on S3-compatible storage, against moto's local server: the happy path, a file
lost behind our back, and a bucket that is gone — which answers a regeneration or a clear
envelope error, never a 500."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from hospitium.accounts.models import Role
from hospitium.reports import files
from hospitium.reports.errors import ReportTransientError
from hospitium.reports.generation import MAX_ATTEMPTS, report_generate
from hospitium.reports.models import GeneratedReport
from hospitium.reports.services import report_request
from hospitium.settings.storage import s3_storage
from hospitium.tenancy.context import hospital_context
from tests.conftest import make_user
from tests.reports.fakes import PERIOD, fake_reports  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_reports")]

ALPHA = "alpha.example.test"
BODY = {**PERIOD, "format": "csv", "filters": {}, "include_rows": False}
KEYS = {"access_key": "testing", "secret_key": "testing", "region": "us-east-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(moto_endpoint, settings, request) -> Iterator[str]:
    name = f"reports-{request.node.name[:40].lower().replace('_', '-')}"
    client = s3(moto_endpoint)
    client.create_bucket(Bucket=name)
    settings.STORAGES = {
        **settings.STORAGES,
        "reports": s3_storage(bucket=name, endpoint_url=moto_endpoint, **KEYS),
    }
    yield name


def s3(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def drop_bucket(endpoint: str, name: str) -> None:
    client = s3(endpoint)
    for item in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


@pytest.fixture
def admin(hospital_a, api):
    user = make_user("admin@alpha.example.test", hospital=hospital_a, role=Role.ADMIN)
    api.force_login(user)
    return user


def generate(api) -> str:
    response = api.post(
        "/api/reports/templates/fake_counts/generate/", BODY, format="json", HTTP_HOST=ALPHA
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def test_a_report_is_stored_in_the_bucket_and_streamed_back(api, admin, bucket, moto_endpoint):
    report_id = generate(api)
    with hospital_context("ALPHA"):
        report = GeneratedReport.objects.get(pk=report_id)
    assert report.status == "completed"
    stored = s3(moto_endpoint).get_object(Bucket=bucket, Key=report.storage_key)["Body"].read()
    assert report.storage_key == f"reports/alpha/{report_id}.csv" and len(stored) == report.size
    response = api.get(f"/api/reports/generated/{report_id}/download/", HTTP_HOST=ALPHA)
    assert response.status_code == 200 and response["X-Report-Regenerated"] == "0"
    assert b"".join(response.streaming_content) == stored


def test_an_object_lost_from_the_bucket_is_regenerated_and_stored_again(
    api, admin, bucket, moto_endpoint
):
    report_id = generate(api)
    with hospital_context("ALPHA"):
        key = GeneratedReport.objects.get(pk=report_id).storage_key
    s3(moto_endpoint).delete_object(Bucket=bucket, Key=key)
    response = api.get(f"/api/reports/generated/{report_id}/download/", HTTP_HOST=ALPHA)
    assert response.status_code == 200 and response["X-Report-Regenerated"] == "1"
    content = b"".join(response.streaming_content)
    assert s3(moto_endpoint).get_object(Bucket=bucket, Key=key)["Body"].read() == content


def test_a_missing_bucket_still_serves_a_completed_report_by_regenerating_it(
    api, admin, bucket, moto_endpoint
):
    report_id = generate(api)
    drop_bucket(moto_endpoint, bucket)
    response = api.get(f"/api/reports/generated/{report_id}/download/", HTTP_HOST=ALPHA)
    assert response.status_code == 200 and response["X-Report-Regenerated"] == "1"
    assert b"".join(response.streaming_content).startswith(b"# ALPHA fake_counts")


def test_a_missing_bucket_fails_generation_with_advice_after_retries(
    hospital_a, bucket, moto_endpoint
):
    drop_bucket(moto_endpoint, bucket)
    with hospital_context("ALPHA"):
        report = report_request(template_key="fake_counts", format="csv", **PERIOD, enqueue=False)
        for _ in range(MAX_ATTEMPTS - 1):
            with pytest.raises(ReportTransientError):
                report_generate(report_id=report.pk)
        done = report_generate(report_id=report.pk)
    assert done.status == "failed" and "storage" in done.error_message


def test_a_report_that_cannot_be_read_or_rebuilt_answers_an_envelope_not_a_500(
    api, admin, bucket, moto_endpoint, monkeypatch
):
    report_id = generate(api)
    drop_bucket(moto_endpoint, bucket)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(files, "write_report", broken)
    response = api.get(f"/api/reports/generated/{report_id}/download/", HTTP_HOST=ALPHA)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "report_storage_unavailable"
    assert "generate the report again" in response.json()["error"]["message"]


def test_an_unreachable_endpoint_answers_an_envelope_on_delete(api, admin, bucket, settings):
    report_id = generate(api)
    settings.STORAGES = {
        **settings.STORAGES,
        "reports": s3_storage(
            bucket=bucket, endpoint_url=f"http://127.0.0.1:{free_port()}", **KEYS
        ),
    }
    response = api.delete(f"/api/reports/generated/{report_id}/", HTTP_HOST=ALPHA)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "report_storage_unavailable"
