"""A crash campaign, run by hand (not a speed benchmark, not part of `make bench`): kill -9
`hospitium hospitals create` at random moments, then check that everything left half-made is
reported by `integrity check` and `hospitals list`, and that `hospitals repair` finishes it (its
admin included) or removes it. The figures go in docs/reliability.md.

    .venv/bin/python -m bench.crash_provisioning [--attempts 20] [--store sqlite|postgresql]
                                                 [--postgres postgresql://postgres@127.0.0.1:5432]

Each attempt is a real `hospitium hospitals create` process with the product's settings in a
fresh home, killed after a random delay drawn from the span in which a create that is not killed
does its work (its startup excluded: a kill then leaves nothing, which shows nothing). On
PostgreSQL two scratch databases (platform and one hospital server) are created and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench._common import BENCH_ENV, ENV_CLEARED, ROOT

ADMIN = "boss@{code}.example.test"


class Campaign:
    def __init__(self, home: Path, env: dict[str, str], platform_url: str | None) -> None:
        self.home, self.env, self.platform_url = home, env, platform_url

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hospitium", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def create_args(self, code: str) -> list[str]:
        return [
            "hospitals",
            "create",
            code,
            "--name",
            code,
            "--domain",
            f"{code.lower()}.example.test",
            "--admin-email",
            ADMIN.format(code=code.lower()),
        ]

    def admins(self) -> dict[str, list[str]]:
        query = (
            "select h.code, u.email from accounts_membership m join accounts_user u "
            "on u.id = m.user_id join tenancy_hospital h on h.id = m.hospital_id "
            "where m.role = 'admin'"
        )
        if self.platform_url is None:
            raw = sqlite3.connect(self.home / "platform.sqlite3")
            try:
                rows = raw.execute(query).fetchall()
            finally:
                raw.close()
        else:
            import psycopg

            with psycopg.connect(self.platform_url) as pg:
                # The platform store is a schema of its own (HOSPITIUM_PLATFORM_SCHEMA).
                pg.execute("SET search_path TO platform")
                rows = pg.execute(query).fetchall()
        found: dict[str, list[str]] = {}
        for code, email in rows:
            found.setdefault(code, []).append(email)
        return found


def _timed_create(campaign: Campaign, code: str) -> float:
    started = time.perf_counter()
    done = campaign.run(*campaign.create_args(code))
    if done.returncode != 0:
        raise SystemExit(f"a create that was not killed failed:\n{done.stderr}")
    return time.perf_counter() - started


def _startup(campaign: Campaign) -> float:
    started = time.perf_counter()
    campaign.run("hospitals", "list")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=20)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--seed", type=int, default=None)
    options = parser.parse_args(argv)
    seed = options.seed if options.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    home = Path(tempfile.mkdtemp(prefix="hospitium-crash-provisioning-"))
    env = {k: v for k, v in os.environ.items() if k not in ENV_CLEARED}
    env.update(BENCH_ENV)
    env.update({"HOSPITIUM_HOME": str(home), "PYTHONPATH": str(ROOT / "src")})
    databases: list[str] = []
    platform_url: str | None = None
    if options.store == "postgresql":
        import psycopg

        tag = uuid.uuid4().hex[:8]
        databases = [f"hospitium_crash_{tag}", f"hospitium_crash_{tag}_s1"]
        with psycopg.connect(f"{options.postgres}/postgres", autocommit=True) as pg:
            for name in databases:
                pg.execute(f'CREATE DATABASE "{name}"')
        platform_url = f"{options.postgres}/{databases[0]}"
        env["HOSPITIUM_DATABASE_URL"] = platform_url
        env["HOSPITIUM_HOSPITAL_SERVERS"] = f"s1={options.postgres}/{databases[1]}"
    campaign = Campaign(home, env, platform_url)
    try:
        return _campaign(campaign, options.attempts, rng, seed, options.store)
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if databases:
            import psycopg

            with psycopg.connect(f"{options.postgres}/postgres", autocommit=True) as pg:
                for name in databases:
                    pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _campaign(campaign: Campaign, attempts: int, rng: random.Random, seed: int, store: str) -> int:
    migrated = campaign.run("migrate", "--no-progress")
    if migrated.returncode != 0:
        raise SystemExit(migrated.stderr)
    # The span to draw kill moments from: from the end of a command's startup to the end of a
    # whole create, both measured here (three of each; the median).
    startup = sorted(_startup(campaign) for _ in range(3))[1]
    whole = sorted(_timed_create(campaign, f"BASE{n}") for n in range(3))[1]
    print(f"seed {seed}; startup {startup:.2f}s, whole create {whole:.2f}s", flush=True)
    killed: list[str] = []
    for n in range(attempts):
        code = f"KILL{n:02d}"
        process = subprocess.Popen(
            [sys.executable, "-m", "hospitium", *campaign.create_args(code)],
            env=campaign.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(startup * 0.8, whole * 1.1))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed.append(code)
        process.wait()

    listed = {row["code"]: row for row in campaign.json("hospitals", "list")}
    report = campaign.json("integrity", "check")
    reported = {f["store"] for f in report["findings"] if f["kind"] == "provisioning_unfinished"}
    others = [f for f in report["findings"] if f["kind"] != "provisioning_unfinished"]
    admins = campaign.admins()
    half = sorted(code for code, row in listed.items() if row["status"] != "active")
    complete = sorted(
        code for code, row in listed.items() if row["status"] == "active" and code in killed
    )
    nothing = sorted(code for code in killed if code not in listed)
    unnamed_by_list = [code for code in half if not listed[code]["needs_repair"]]
    unreported = [code for code in half if code not in reported]
    active_without_admin = [
        code for code, row in listed.items() if row["status"] == "active" and code not in admins
    ]

    repaired: list[str] = []
    removed: list[str] = []
    repair_failures: list[str] = []
    for index, code in enumerate(half):
        clean = index % 4 == 3  # one in four removed, the rest finished
        done = campaign.run("hospitals", "repair", code, *(["--clean"] if clean else []))
        if done.returncode != 0:
            repair_failures.append(f"{code}: {done.stderr.strip()}")
        else:
            (removed if clean else repaired).append(code)

    final = campaign.json("integrity", "check")
    after = {row["code"]: row for row in campaign.json("hospitals", "list")}
    admins = campaign.admins()
    not_finished = [c for c in repaired if after.get(c, {}).get("status") != "active"]
    no_admin = [c for c in repaired if ADMIN.format(code=c.lower()) not in admins.get(c, [])]
    still_there = [c for c in removed if c in after]
    failures = (
        len(unreported)
        + len(unnamed_by_list)
        + len(others)
        + len(active_without_admin)
        + len(repair_failures)
        + len(not_finished)
        + len(no_admin)
        + len(still_there)
        + (0 if final["ok"] else 1)
    )
    summary = {
        "store": store,
        "seed": seed,
        "attempts": attempts,
        "killed_while_running": len(killed),
        "left_nothing": len(nothing),
        "left_complete": len(complete),
        "left_half_made": len(half),
        "reported_by_integrity_check": len(reported & set(half)),
        "named_by_list": len(half) - len(unnamed_by_list),
        "repaired_with_admin": len(repaired) - len(no_admin) - len(not_finished),
        "removed": len(removed) - len(still_there),
        "final_integrity_ok": final["ok"],
        "failures": failures,
        "details": {
            "unreported": unreported,
            "unnamed_by_list": unnamed_by_list,
            "other_findings": others,
            "active_without_admin": active_without_admin,
            "repair_failures": repair_failures,
            "not_finished": not_finished,
            "no_admin": no_admin,
            "still_there": still_there,
            "steps_left_at": sorted(
                {
                    str(listed[c]["needs_repair"]).rpartition("last step done: ")[2].rstrip(")")
                    for c in half
                }
            ),
        },
    }
    print(json.dumps(summary, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
