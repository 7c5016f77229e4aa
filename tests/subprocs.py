"""Real `hospitium` commands run as subprocesses on the calling test's stores, for tests that
kill them (kill -9) at a named step. Use with ``django_db(transaction=True)``: the subprocess
must see what the test committed, and the test what the subprocess did.

On SQLite the test database lives in the test's memory, so the subprocesses get a copy of it as
their platform file, and from then on that file is the platform store: read it with
``Cli.platform`` (which reads the test's own database on PostgreSQL, where both share it).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from tests import storehelp

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120


class Cli:
    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.started: list[subprocess.Popen[bytes]] = []
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.subprocess_settings",
            "HOSPITIUM_TEST_WORKER_HOME": str(home),
            "HOSPITIUM_TEST_WORKER_PLATFORM_DB": str(connection.settings_dict["NAME"]),
            "HOSPITIUM_TEST_TEMPLATE_DIR": str(settings.HOSPITIUM_TEMPLATE_DIR or ""),
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]
            ),
            **(env or {}),
        }
        self.env.pop("HOSPITIUM_TEST_PAUSE_AT", None)
        if not storehelp.on_postgres():
            connection.ensure_connection()
            target = sqlite3.connect(home / "platform.sqlite3")
            try:
                connection.connection.backup(target)
            finally:
                target.close()

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `hospitium ARGS...` to the end; with ``ok``, fail unless it exits 0."""
        done = subprocess.run(
            [sys.executable, "-m", "hospitium", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        if ok and done.returncode != 0:
            raise AssertionError(
                f"hospitium {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
            )
        return done

    def json(self, *args: str, returncode: int | None = None) -> Any:
        """The JSON that `hospitium ARGS... --json` prints (after checking its exit code)."""
        done = self.run(*args, "--json", ok=False)
        if returncode is not None:
            assert done.returncode == returncode, (done.returncode, done.stdout, done.stderr)
        return json.loads(done.stdout)

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start `hospitium ARGS...`; its stderr goes to a log file in the home."""
        log = self.home / f"command-{len(self.started) + 1}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "hospitium", *args],
                cwd=ROOT,
                env={**self.env, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        process.log = log  # type: ignore[attr-defined]
        self.started.append(process)
        return process

    def start_paused(self, *args: str, at: str) -> subprocess.Popen[bytes]:
        """Start `hospitium ARGS...` and return once it is paused at the test-only point ``at``
        (hospitium.core.processes.pause_for_tests)."""
        process = self.start(*args, env={"HOSPITIUM_TEST_PAUSE_AT": at})
        wait_until(lambda: f"paused at {at}" in output(process), f"pause at {at}", process)
        return process

    def platform(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query on the platform store the subprocesses use."""
        if storehelp.on_postgres():
            with connection.cursor() as cursor:
                cursor.execute(sql.replace("?", "%s"), params)
                return list(cursor.fetchall())
        raw = sqlite3.connect(self.home / "platform.sqlite3")
        try:
            return raw.execute(sql, params).fetchall()
        finally:
            raw.close()

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def output(process: subprocess.Popen[bytes]) -> str:
    return process.log.read_text(errors="replace")  # type: ignore[attr-defined]


def wait_until(done: Any, what: str, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not done():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"stopped before {what}:\n{output(process)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def kill(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found
