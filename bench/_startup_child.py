"""Child process of bench.startup: start a web process, serve two requests, report time and memory.

Reads BENCH_HOSPITAL, BENCH_PATIENT and BENCH_TOKEN from the environment (HOSPITIUM_HOME too) and
prints one JSON line. Not meant to be run by hand.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()
STARTED_AT = time.time()

import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


def _request(app: Callable[..., Any], path: str, **headers: str) -> tuple[str, float]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_ACCEPT": "application/json",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **headers,
    }
    status: list[str] = [""]

    def start_response(line: str, response_headers: Any, exc_info: Any = None) -> None:
        status[0] = line

    started = time.perf_counter()
    response = app(env, start_response)
    body = b"".join(response)
    response.close()
    seconds = time.perf_counter() - started
    if not status[0].startswith("200"):
        raise SystemExit(f"{path} answered {status[0]}: {body[:300]!r}")
    return status[0], seconds


def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])  # kB
    return 0


def main() -> None:
    imported = time.perf_counter()
    from hospitium.wsgi import application

    ready = time.perf_counter()
    _, health = _request(application, "/health/")
    _, hospital = _request(
        application,
        f"/api/patients/{os.environ['BENCH_PATIENT']}/",
        HTTP_X_HOSPITAL=os.environ["BENCH_HOSPITAL"],
        HTTP_AUTHORIZATION=f"Token {os.environ['BENCH_TOKEN']}",
    )
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "setup_s": ready - imported,
                "first_health_s": health,
                "first_hospital_s": hospital,
                "in_process_s": done - STARTED,
                "started_at": STARTED_AT,
                "finished_at": time.time(),
                "vm_rss_kb": _vm("VmRSS"),
                "vm_hwm_kb": _vm("VmHWM"),
                "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )


if __name__ == "__main__":
    main()
