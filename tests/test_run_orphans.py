"""`hospitium run` killed with SIGKILL takes its web server and worker with it, and a start over
a port that something still holds names the holder instead of failing with "address in use"."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hospitium.core.processes import pid_alive, port_free, port_holders
from tests.subprocs import descendants
from tests.test_cli import HOSPITIUM, _free_port, _get

pytestmark = pytest.mark.sqlite_only  # the store does not matter here


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A real installation's environment (as tests/test_cli.py's), on SQLite in its own home."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("HOSPITIUM_")}
    return {
        **base,
        "DJANGO_SETTINGS_MODULE": "hospitium.settings",
        "HOSPITIUM_LOG_LEVEL": "WARNING",
        "HOSPITIUM_HOME": str(tmp_path),
    }


#: A program that holds a port, run from a file whose name shows in its command line.
HOLD = """
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
print("ready", flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_children_die_with_a_killed_run_and_the_port_is_free_again(env, tmp_path):
    port = _free_port()
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen(
        [*HOSPITIUM, "run", "--no-demo", "--port", str(port), "--web-workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 90
        status = 0
        while status != 200 and time.monotonic() < deadline:
            assert run.poll() is None, (tmp_path / "run.log").read_text()
            try:
                status, _ = _get(f"http://127.0.0.1:{port}/health/")
            except OSError:
                time.sleep(0.3)
        assert status == 200, "the server did not come up"
        children = descendants(run.pid)
        # gunicorn's master and worker, and the Huey consumer
        assert len(children) >= 3, children

        os.kill(run.pid, signal.SIGKILL)
        assert run.wait(timeout=10) == -signal.SIGKILL
        deadline = time.monotonic() + 10
        while any(pid_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in children if pid_alive(pid)] == []
        assert port_free("127.0.0.1", port)
    finally:
        for pid in children:  # only if the test failed: leave nothing running
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        if run.poll() is None:
            run.kill()
        log.close()


@pytest.mark.parametrize(
    ("argv0", "expected"),
    [
        ("hospitium-left-over", "held by a Hospitium server left running by an earlier start"),
        ("something-else", "is already in use"),
    ],
)
def test_a_start_on_a_held_port_names_the_holder(env, tmp_path, argv0, expected):
    port = _free_port()
    program = tmp_path / f"{argv0}.py"
    program.write_text(HOLD)
    holder = subprocess.Popen(
        [sys.executable, str(program), str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        assert [pid for pid, _command in port_holders(port)] == [holder.pid]
        started = time.monotonic()
        done = subprocess.run(
            [*HOSPITIUM, "run", "--no-demo", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1
    assert f"Port {port} on 127.0.0.1" in done.stderr and expected in done.stderr
    assert f"pid {holder.pid}: " in done.stderr and argv0 in done.stderr
    assert "migrated" not in done.stdout  # refused before touching anything
    assert time.monotonic() - started < 30


def test_port_free_sees_a_listener_of_this_process():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not port_free("127.0.0.1", port)
        assert [pid for pid, _ in port_holders(port)] == [os.getpid()]
    assert port_free("127.0.0.1", port)
