"""File storage: the file system under HOSPITIUM_HOME/media by default; S3-compatible object
storage (django-storages + boto3) when HOSPITIUM_S3_BUCKET is set.

Report files use the ``reports`` storage alias, so an installation can keep media and reports
apart later without touching the code.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config  # type: ignore[import-untyped]

from hospitium.settings.env import env_str, env_url

HOSPITIUM_S3_BUCKET = env_str("HOSPITIUM_S3_BUCKET").strip()
HOSPITIUM_S3_ENDPOINT_URL = env_url("HOSPITIUM_S3_ENDPOINT_URL", schemes=("http", "https"))
HOSPITIUM_S3_REGION = env_str("HOSPITIUM_S3_REGION", "us-east-1")
HOSPITIUM_S3_ACCESS_KEY_ID = env_str("HOSPITIUM_S3_ACCESS_KEY_ID")
HOSPITIUM_S3_SECRET_ACCESS_KEY = env_str("HOSPITIUM_S3_SECRET_ACCESS_KEY")
#: Seconds a signed download link stays valid.
HOSPITIUM_REPORT_LINK_SECONDS = 300


def s3_storage(
    *,
    bucket: str,
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    access_key: str = "",
    secret_key: str = "",
) -> dict[str, Any]:
    """A STORAGES entry for an S3-compatible bucket (also used by tests against moto)."""
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "region_name": region,
        "file_overwrite": True,
        "default_acl": None,
        "querystring_auth": True,
        # A refused or unreachable bucket must fail fast, not hang a request or a worker.
        "client_config": Config(
            connect_timeout=5, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"}
        ),
    }
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    if access_key:
        options["access_key"] = access_key
        options["secret_key"] = secret_key
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


_files: dict[str, Any] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
if HOSPITIUM_S3_BUCKET:
    _files = s3_storage(
        bucket=HOSPITIUM_S3_BUCKET,
        endpoint_url=HOSPITIUM_S3_ENDPOINT_URL,
        region=HOSPITIUM_S3_REGION,
        access_key=HOSPITIUM_S3_ACCESS_KEY_ID,
        secret_key=HOSPITIUM_S3_SECRET_ACCESS_KEY,
    )

STORAGES: dict[str, dict[str, Any]] = {
    "default": _files,
    "reports": _files,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
