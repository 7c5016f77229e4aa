"""A real worker killed mid-report: a Huey consumer runs as a subprocess on this test's stores
(tests/worker_settings.py), generation stops part-way in a test-only template
(tests/reports/blocking.py), the consumer gets SIGKILL, the lease runs out, and the sweeper
re-queues the report for a new consumer to finish — or fails it after the maximum attempts."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from huey.contrib.djhuey import HUEY
from huey.storage import SqliteStorage

from hospitium.reports import files, registry
from hospitium.reports.generation import MAX_ATTEMPTS
from hospitium.reports.models import GeneratedReport
from hospitium.reports.services import report_request
from hospitium.reports.tasks import sweep_reports
from hospitium.tenancy.context import hospital_context
from tests import factories, storehelp
from tests.reports.blocking import KEY, with_blocking

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 2
WAIT_SECONDS = 90


class Workers:
    """Starts Huey consumers on this test's stores and queue; kills what is left at the end."""

    def __init__(self, home: Path, block: Path) -> None:
        self.home, self.block = home, block
        self.started: list[subprocess.Popen[bytes]] = []
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
            "HOSPITIUM_TEST_WORKER_HOME": str(home),
            "HOSPITIUM_TEST_BLOCK_DIR": str(block),
            "HOSPITIUM_REPORT_LEASE_SECONDS": str(LEASE_SECONDS),
            "HOSPITIUM_TEST_WORKER_PLATFORM_DB": str(connection.settings_dict["NAME"]),
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]
            ),
        }

    def start(self) -> subprocess.Popen[bytes]:
        if not storehelp.on_postgres():
            self._copy_platform_store()
        log = (self.home / f"worker-{len(self.started) + 1}.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "hospitium", "run_huey"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.started.append(worker)
        return worker

    def _copy_platform_store(self) -> None:
        """The SQLite test database lives in this process's memory: the worker gets a copy of
        it as its platform file (it only reads the hospitals' rows from it)."""
        connection.ensure_connection()
        target = sqlite3.connect(self.home / "platform.sqlite3")
        try:
            connection.connection.backup(target)
        finally:
            target.close()

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.home.glob("worker-*.log"))
        )

    def stop_all(self) -> None:
        for worker in self.started:
            if worker.poll() is None:
                worker.kill()
            worker.wait(timeout=30)


@pytest.fixture
def workers(_isolated_home: Path, settings, monkeypatch) -> Iterator[Workers]:
    """The test's queue is a SQLite file in its home, shared with the workers it starts."""
    settings.MEDIA_ROOT = _isolated_home / "media"
    block = _isolated_home / "block"
    block.mkdir()
    monkeypatch.setattr(HUEY, "_immediate", False)
    monkeypatch.setattr(
        HUEY, "storage", SqliteStorage(HUEY.name, filename=str(_isolated_home / "queue.sqlite3"))
    )
    monkeypatch.setattr(registry, "templates", with_blocking(registry.templates))
    started = Workers(_isolated_home, block)
    try:
        yield started
    finally:
        started.stop_all()


def state(report_id: object) -> GeneratedReport:
    with hospital_context("ALPHA"):
        return GeneratedReport.objects.get(pk=report_id)


def wait_for(what: str, done: Callable[[], bool], workers: Workers) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{workers.logs()}")
        if any(w.poll() not in (None, -signal.SIGKILL) for w in workers.started):
            pytest.fail(f"a worker stopped by itself while waiting for {what}\n{workers.logs()}")
        time.sleep(0.1)


def generating(report_id: object, attempt: int, workers: Workers) -> Callable[[], bool]:
    def check() -> bool:
        report = state(report_id)
        return (
            report.status == "generating"
            and report.attempts == attempt
            and (workers.block / f"started-{attempt}").exists()
        )

    return check


def kill_mid_report(report_id: object, attempt: int, workers: Workers) -> None:
    """Start a consumer, wait until it is inside the report, SIGKILL it, let its lease run out."""
    worker = workers.start()
    wait_for(
        f"attempt {attempt} to be generating", generating(report_id, attempt, workers), workers
    )
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(timeout=30) == -signal.SIGKILL
    stuck = state(report_id)
    assert stuck.status == "generating" and stuck.attempts == attempt
    assert stuck.lease_expires_at is not None
    wait_for(
        "the dead worker's lease to run out",
        lambda: timezone.now() > stuck.lease_expires_at,  # type: ignore[operator]
        workers,
    )


def request_report() -> GeneratedReport:
    with hospital_context("ALPHA"):
        factories.patient()
        factories.patient()
        return report_request(
            template_key=KEY, format="csv", date_from="2025-01-01", date_to="2025-03-31"
        )


def test_the_sweeper_recovers_a_report_whose_worker_was_killed(hospital_a, workers):
    report = request_report()
    assert HUEY.pending_count() == 1
    kill_mid_report(report.pk, 1, workers)
    assert HUEY.pending_count() == 0  # the killed consumer had taken the task with it

    swept = sweep_reports.call_local()
    assert swept["ALPHA"].requeued == 1 and swept["ALPHA"].failed == 0
    requeued = state(report.pk)
    assert requeued.status == "queued" and requeued.progress == 0
    assert HUEY.pending_count() == 1

    (workers.block / "release").touch()
    workers.start()
    wait_for("the report to complete", lambda: state(report.pk).status == "completed", workers)
    done = state(report.pk)
    assert done.attempts == 2 and done.progress == 100 and done.error_message == ""
    assert (workers.block / "started-2").exists() and not (workers.block / "started-3").exists()
    with files.reports_storage().open(done.storage_key, "rb") as stored:
        assert stored.read() and done.size == files.reports_storage().size(done.storage_key)


def test_a_report_whose_workers_keep_dying_ends_failed(hospital_a, workers):
    report = request_report()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        kill_mid_report(report.pk, attempt, workers)
        swept = sweep_reports.call_local()["ALPHA"]
        if attempt < MAX_ATTEMPTS:
            assert (swept.requeued, swept.failed) == (1, 0), attempt
            assert state(report.pk).status == "queued"
        else:
            assert (swept.requeued, swept.failed) == (0, 1)
    failed = state(report.pk)
    assert failed.status == "failed" and failed.attempts == MAX_ATTEMPTS
    assert failed.error_message == (
        f"The report could not be finished: the worker generating it stopped {MAX_ATTEMPTS} "
        "times. Please generate it again."
    )
    assert failed.lease_expires_at is None and failed.storage_key == ""
    assert HUEY.pending_count() == 0
