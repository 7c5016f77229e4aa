"""Shared plumbing for the hand-run benchmarks (not part of the test suite).

Nothing here imports Django at module level: every benchmark must point HOSPITIUM_HOME at a fresh
temporary folder *before* the settings are read, because the settings read the environment once,
at import.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "BENCH-RESULT "

#: The environment every benchmark runs with: defaults of the settings that matter for speed, and
#: quiet logs (provisioning logs one INFO line per hospital).
BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "hospitium.settings",
    "HOSPITIUM_ENV": "embedded",
    "HOSPITIUM_DEBUG": "0",
    "HOSPITIUM_LOG_LEVEL": "WARNING",
    "HOSPITIUM_TENANT_CACHE_SECONDS": "5",
}
#: Unset, so that the settings' defaults apply (HOSPITIUM_MAX_OPEN_STORES: 64 before commit
#: e7bfaae, 128 since).
ENV_CLEARED = [
    "HOSPITIUM_MAX_OPEN_STORES",
    "HOSPITIUM_DATABASE_URL",
    "HOSPITIUM_HOSPITAL_SERVERS",
    "HOSPITIUM_REDIS_URL",
    "HOSPITIUM_SECRET_KEY",
    "HOSPITIUM_TEMPLATE_DIR",
]


def fresh_home(prefix: str) -> Path:
    """Create a fresh HOSPITIUM_HOME and point the environment (and so the settings) at it."""
    home = Path(tempfile.mkdtemp(prefix=f"hospitium-bench-{prefix}-"))
    os.environ["HOSPITIUM_HOME"] = str(home)
    os.environ.update(BENCH_ENV)
    # The embedded default (SQLite files) is what these benchmarks measure.
    for name in ENV_CLEARED:
        os.environ.pop(name, None)
    return home


@contextmanager
def django_home(prefix: str, *, migrate: bool = True) -> Iterator[Path]:
    """A fresh HOSPITIUM_HOME, Django set up on it, the platform store migrated; removed after."""
    home = fresh_home(prefix)
    # A plain `kill` must still remove the temporary folder.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        import django

        django.setup()
        if migrate:
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
        yield home
    finally:
        _close_everything()
        shutil.rmtree(home, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _close_everything() -> None:
    if "django.db" not in sys.modules:
        return
    try:
        from django.db import connections

        from hospitium.tenancy import stores

        stores.close_hospital_connections()
        connections.close_all()
    except Exception as exc:  # clean-up must not hide the benchmark's own error
        print(f"warning: closing connections failed: {exc}", file=sys.stderr)


def provision(count: int, *, prefix: str = "H", start: int = 0) -> list[str]:
    """Provision ``count`` hospitals with hospital_create (no admin); return their codes."""
    from hospitium.tenancy.provisioning import hospital_create

    codes = []
    for index in range(start, start + count):
        code = f"{prefix}{index:05d}"
        hospital_create(code=code, name=f"Bench hospital {index}", domains=[domain_of(code)])
        codes.append(code)
    return codes


def provision_in_child(count: int, *, prefix: str = "H", start: int = 0) -> list[str]:
    """Provision like :func:`provision`, but in a child process on the same HOSPITIUM_HOME.

    A web process never provisions 10,000 hospitals itself: this keeps the provisioning's
    objects and heap churn out of the process that is then measured. Raises
    subprocess.CalledProcessError if the child fails.
    """
    code = (
        "import django, sys; django.setup(); from bench import _common; "
        f"_common.provision({count}, prefix={prefix!r}, start={start})"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=dict(os.environ))
    return [f"{prefix}{index:05d}" for index in range(start, start + count)]


def seed_template(template: str | Path) -> uuid.UUID:
    """Put one patient into the migrated template, so that every hospital cloned from it has one
    (the same id in each): far quicker than opening 10,000 stores to insert a row into each."""
    from hospitium.patients.models import Patient
    from hospitium.tenancy import stores

    alias = "bench-template-seed"
    stores.register_alias(alias, stores.sqlite_config(Path(template), mode="rw"))
    try:
        row = Patient(
            mrn="BENCH-0001",
            given_name="Ada",
            family_name="Lovelace",
            birth_date=date(1815, 12, 10),
        )
        row.save(using=alias, force_insert=True)
    finally:
        stores.unregister_alias(alias)  # closing checkpoints the WAL into the file
    return row.pk


def domain_of(code: str) -> str:
    return f"{code.lower()}.bench.test"


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``func`` once; return (seconds, its result)."""
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction in 0..1)."""
    ordered = sorted(samples)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(samples: Sequence[float]) -> dict[str, float]:
    """Median, p95, mean, min and max of samples given in seconds, in milliseconds."""
    return {
        "n": len(samples),
        "median_ms": statistics.median(samples) * 1000,
        "p95_ms": percentile(samples, 0.95) * 1000,
        "mean_ms": statistics.fmean(samples) * 1000,
        "min_ms": min(samples) * 1000,
        "max_ms": max(samples) * 1000,
    }


def fmt_ms(stats: dict[str, float]) -> str:
    return (
        f"median {stats['median_ms']:.2f} ms, p95 {stats['p95_ms']:.2f} ms "
        f"(min {stats['min_ms']:.2f}, max {stats['max_ms']:.2f}, n={stats['n']:.0f})"
    )


def emit(name: str, result: dict[str, Any]) -> None:
    """Print the machine-readable result line that ``python -m bench`` collects."""
    print(RESULT_PREFIX + json.dumps({"bench": name, **result}, default=str), flush=True)


def bench_subprocess_env(home: Path) -> dict[str, str]:
    """The environment for a child process that works on ``home``."""
    env = dict(os.environ)
    env.update(BENCH_ENV)
    for name in ENV_CLEARED:
        env.pop(name, None)
    env["HOSPITIUM_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory = subprocess.run(
            ["free", "-h"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        memory = "unknown"
    import django

    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "django": django.get_version(),
        "sqlite": _sqlite_version(),
        "platform": platform.platform(),
    }


def _sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def source_state() -> dict[str, str]:
    """Which hospitium was measured: where it was imported from and, for this checkout, the
    commit and whether src/ had uncommitted changes (another engineer edits it).

    To measure a fixed commit while src/ is being edited, extract it and put it first on the
    path: ``git archive COMMIT src | tar -x -C /tmp/pinned`` then
    ``PYTHONPATH=/tmp/pinned/src HOSPITIUM_BENCH_SOURCE=COMMIT .venv/bin/python -m bench``.
    """
    import hashlib
    import importlib.util

    spec = importlib.util.find_spec("hospitium")
    origin = Path(spec.origin).parent if spec and spec.origin else Path("?")

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    state = {"imported_from": str(origin), "label": os.environ.get("HOSPITIUM_BENCH_SOURCE", "")}
    if origin == ROOT / "src" / "hospitium":
        diff = git("diff", "HEAD", "--", "src")
        state["commit"] = git("rev-parse", "--short", "HEAD")
        state["src_dirty"] = "yes" if diff else "no"
        state["src_diff_sha"] = hashlib.sha256(diff.encode()).hexdigest()[:12] if diff else ""
    return state


def _cpu_times() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def cpu_busy(seconds: float = 2.0) -> float:
    """The fraction of all CPUs busy over the next ``seconds`` (from /proc/stat; 0 if unknown)."""
    try:
        busy0, total0 = _cpu_times()
        time.sleep(seconds)
        busy1, total1 = _cpu_times()
    except OSError:
        return 0.0
    return (busy1 - busy0) / max(total1 - total0, 1)


def wait_for_quiet(limit_seconds: float, threshold: float = 0.15) -> float:
    """Wait (up to ``limit_seconds``) until the machine is nearly idle; return the last busy
    fraction seen. Others' work on a shared machine skews every number here."""
    deadline = time.monotonic() + limit_seconds
    busy = cpu_busy()
    while busy > threshold and time.monotonic() < deadline:
        busy = cpu_busy(5.0)
    return busy


def maybe_wait_for_quiet() -> None:
    """Between parts of a benchmark: wait for the machine to be quiet if BENCH_WAIT_IDLE (seconds)
    is set (``python -m bench --wait-idle N`` sets it)."""
    limit = float(os.environ.get("BENCH_WAIT_IDLE") or 0)
    if limit > 0:
        wait_for_quiet(limit)


class OthersLoad:
    """Measures how busy the CPUs were with *other* processes' work during a block: all CPU time
    (/proc/stat) minus this process's and its children's, as a fraction of all CPUs."""

    def __init__(self) -> None:
        self.fraction = 0.0
        self._start: tuple[int, int, float] | None = None

    @staticmethod
    def _own_seconds() -> float:
        import resource

        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def __enter__(self) -> OthersLoad:
        try:
            busy, total = _cpu_times()
        except OSError:
            return self
        self._start = (busy, total, self._own_seconds())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._start is None:
            return
        busy0, total0, own0 = self._start
        busy1, total1 = _cpu_times()
        hz = os.sysconf("SC_CLK_TCK")
        others = (busy1 - busy0) / hz - (self._own_seconds() - own0)
        self.fraction = max(0.0, others / max((total1 - total0) / hz, 1e-9))


CALLGRIND_ENV = "HOSPITIUM_BENCH_CALLGRIND"


def rerun_under_callgrind(module: str) -> None:
    """Run ``python -m module`` with this process's arguments again, under valgrind's callgrind
    with counting off until the bench switches it on (``Instructions``)."""
    out = Path(tempfile.mkdtemp(prefix="hospitium-bench-callgrind-"))
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}/callgrind.out",
        sys.executable,
        "-m",
        module,
        *sys.argv[1:],
    ]
    env = {**os.environ, CALLGRIND_ENV: str(out), "PYTHONHASHSEED": "0"}
    try:
        subprocess.run(command, env=env, check=True, stderr=subprocess.DEVNULL)
    finally:
        shutil.rmtree(out, ignore_errors=True)


class Instructions:
    """Instructions executed by this process between ``start`` and ``stop`` (under callgrind,
    started by ``rerun_under_callgrind``): a count of CPU work that the host's neighbours do not
    change. Waiting (for a server, for fsync) is not in it."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self._control("--instr=on")

    def _control(self, *arguments: str) -> None:
        subprocess.run(
            ["callgrind_control", *arguments, str(os.getpid())], check=True, capture_output=True
        )

    def start(self) -> None:
        self._control("--zero")

    def stop(self) -> float:
        before = set(self.folder.iterdir())
        self._control("--dump")
        (dump,) = set(self.folder.iterdir()) - before
        for line in dump.read_text().splitlines():
            if line.startswith("summary:"):
                dump.unlink()
                return float(line.split()[1])
        raise RuntimeError(f"no summary in {dump}")
