"""`hospitium run`: migrate, set up demo hospitals if there are none, serve the web app (gunicorn)
and the background worker (Huey) until interrupted.

The two servers are children that die with this command, however it ends (kill -9 included:
``core.processes.die_with_parent``), and a start over a port that something still holds says
what holds it instead of gunicorn's "address in use" retries."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hospitium.core.demo import Login, read_credentials, setup_demo
from hospitium.core.processes import bound_to_parent, port_free, port_holders
from hospitium.tenancy.migration import fleet_migrate
from hospitium.tenancy.models import Hospital


def login_lines(logins: list[Login], host: str, port: int) -> list[str]:
    """What `run` prints at start: where to go, and the demo sign-ins (every role of each demo
    hospital, so a newcomer can see the interface as each role sees it)."""
    base = f"http://{host}:{port}"
    lines = [
        f"\nHospitium is starting on {base}  (Ctrl+C stops it)",
        f"  platform admin: {base}/admin/",
    ]
    for login in logins:
        if login.where == "platform":
            lines.append(f"    sign in as {login.email} / {login.password}")
    codes = list(dict.fromkeys(login.code for login in logins if login.where == "hospital"))
    for code in codes:
        site = f"http://{code.lower()}.localhost:{port}"
        lines.append(f"  hospital {code}: {site}/  (API: {site}/api/docs/)")
        for login in logins:
            if login.where == "hospital" and login.code == code:
                role = login.role or "admin"
                lines.append(f"    {role:<13} {login.email} / {login.password}")
    lines.append("")
    return lines


class Command(BaseCommand):
    help = "Migrate, create demo hospitals if there are none, and serve the web app and the worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-demo", action="store_true", help="do not create demo hospitals")
        parser.add_argument("--web-workers", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535; got {port}")
        _refuse_a_held_port(host, port)
        result = fleet_migrate(progress=sys.stderr.isatty())
        self.stdout.write(
            f"migrated: {result.checked} hospitals checked, {result.behind} behind, "
            f"{len(result.failures)} failed"
        )
        for failure in result.failures:
            self.stderr.write(f"  hospital {failure.code} failed to migrate: {failure.error}")
        if not options["no_demo"] and not Hospital.objects.exists():
            self.stdout.write("no hospitals yet: creating two demo hospitals with synthetic data")
            setup_demo()
        self._print_logins(host, port)
        self._serve(host, port, options["web_workers"])

    def _print_logins(self, host: str, port: int) -> None:
        for line in login_lines(read_credentials(), host, port):
            self.stdout.write(line)

    def _serve(self, host: str, port: int, web_workers: int) -> None:
        web = subprocess.Popen(
            bound_to_parent(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "hospitium.wsgi:application",
                    "--bind",
                    f"{host}:{port}",
                    "--workers",
                    str(web_workers),
                    "--threads",
                    "4",
                    "--access-logfile",
                    "-",
                    # Within the 10 s this command waits for its children when it stops.
                    "--graceful-timeout",
                    "8",
                ]
            )
        )
        worker = subprocess.Popen(
            bound_to_parent([sys.executable, "-m", "hospitium", "run_huey", "--quiet"])
        )
        children = [web, worker]

        def stop(signum: int, frame: Any) -> None:
            for child in children:
                if child.poll() is None:
                    child.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.2)
        finally:
            stop(signal.SIGTERM, None)
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
        if web.returncode not in (0, -signal.SIGTERM, None):
            raise CommandError(f"the web server stopped with status {web.returncode}")


def _refuse_a_held_port(host: str, port: int) -> None:
    """Raise CommandError naming what holds host:port, if anything does."""
    if port_free(host, port):
        return
    holders = port_holders(port)
    if not holders:
        raise CommandError(
            f"Port {port} on {host} is already in use, by a process this user cannot see. "
            "Stop it, or choose another --port."
        )
    ours = [pid for pid, command in holders if "hospitium" in command]
    named = "; ".join(f"pid {pid}: {command[:160]}" for pid, command in holders)
    if ours:
        raise CommandError(
            f"Port {port} on {host} is held by a Hospitium server left running by an earlier "
            f"start ({named}). Stop it (kill {' '.join(map(str, ours))}), or choose another "
            "--port."
        )
    raise CommandError(
        f"Port {port} on {host} is already in use ({named}). Stop that program, or choose "
        "another --port."
    )
