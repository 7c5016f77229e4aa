"""The `hospitium` console script, run as a real process: exit statuses and `run` end to end."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from django.conf import settings as django_settings

from tests import storehelp

HOSPITIUM = [sys.executable, "-m", "hospitium"]


@pytest.fixture
def env(tmp_path) -> Iterator[dict[str, str]]:
    """The environment of a real installation: the real settings (not the test settings
    pytest-django exported), its own home and, on the PostgreSQL run, a database of its own."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("HOSPITIUM_")}
    base.update(
        {
            "DJANGO_SETTINGS_MODULE": "hospitium.settings",
            "HOSPITIUM_LOG_LEVEL": "WARNING",
            "HOSPITIUM_HOME": str(tmp_path),
        }
    )
    if not storehelp.on_postgres():
        yield base
        return
    name = f"hospitium_cli_{uuid.uuid4().hex[:10]}"
    admin = django_settings.HOSPITIUM_HOSPITAL_SERVERS["s1"].rsplit("/", 1)[0]
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as raw:
        raw.execute(f'CREATE DATABASE "{name}"')
    base["HOSPITIUM_DATABASE_URL"] = f"{admin}/{name}"
    try:
        yield base
    finally:
        with psycopg.connect(f"{admin}/postgres", autocommit=True) as raw:
            raw.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HOSPITIUM, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_a_duplicate_domain_exits_1_naming_the_holder_and_creates_nothing(env, tmp_path):
    assert cli(env, "migrate", "--no-progress").returncode == 0
    first = cli(
        env, "hospitals", "create", "ACME", "--name", "Acme", "--domain", "acme.example.test"
    )
    assert first.returncode == 0, first.stderr
    second = cli(
        env, "hospitals", "create", "BETA", "--name", "Beta", "--domain", "ACME.example.test"
    )
    assert second.returncode == 1
    assert "Domain acme.example.test is already used by hospital ACME." in second.stderr
    assert "Traceback" not in second.stderr
    listing = cli(env, "hospitals", "list", "--json")
    assert [row["code"] for row in json.loads(listing.stdout)] == ["ACME"]
    if not storehelp.on_postgres():
        assert sorted(p.name for p in (tmp_path / "hospitals").iterdir()) == ["ACME.sqlite3"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, host: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.slow
def test_run_migrates_creates_demo_hospitals_serves_and_stops(env, tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [*HOSPITIUM, "run", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        status = 0
        while time.monotonic() < deadline:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/health/")
                if status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        assert status == 200, "server did not come up"
        assert body == b'{"status": "ok"}'
        status, body = _get(
            f"http://127.0.0.1:{port}/api/hospital/", host=f"northgate.localhost:{port}"
        )
        assert status == 403 and b'"not_authenticated"' in body
        status, _ = _get(f"http://127.0.0.1:{port}/api/docs/")
        assert status == 200
        status, body = _get(f"http://127.0.0.1:{port}/api/", host=f"nowhere.example.test:{port}")
        assert status == 404 and b'"not_found"' in body
        status, _ = _get(f"http://127.0.0.1:{port}/static/admin/css/base.css")
        assert status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "hospital NORTHGATE: http://northgate.localhost:" in output
    assert "sign in as admin@hospitium.example / " in output
    listing = json.loads(cli(env, "hospitals", "list", "--json").stdout)
    assert [(row["code"], row["status"]) for row in listing] == [
        ("NORTHGATE", "active"),
        ("RIVERSIDE", "active"),
    ]
