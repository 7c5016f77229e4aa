"""Background work: Huey with a SQLite queue by default, Redis when HOSPITIUM_REDIS_URL is set."""

from __future__ import annotations

from typing import Any

from hospitium.settings.core import HOSPITIUM_HOME
from hospitium.settings.env import env_bool, env_int, env_url

HOSPITIUM_REDIS_URL = env_url("HOSPITIUM_REDIS_URL", schemes=("redis", "rediss", "unix"))

HUEY: dict[str, Any] = {
    "name": "hospitium",
    "immediate": env_bool("HOSPITIUM_TASKS_IMMEDIATE", False),
    "consumer": {
        "workers": env_int("HOSPITIUM_WORKERS", 2, minimum=1),
        "worker_type": "thread",
        "periodic": True,
    },
}
#: A report worker that has not reported progress for this long is presumed dead; the sweeper
#: then re-queues its report (or fails it after three attempts).
HOSPITIUM_REPORT_LEASE_SECONDS = env_int("HOSPITIUM_REPORT_LEASE_SECONDS", 120, minimum=1)
#: Days a whole-fleet report's file is kept.
HOSPITIUM_FLEET_REPORT_RETENTION_DAYS = env_int(
    "HOSPITIUM_FLEET_REPORT_RETENTION_DAYS", 30, minimum=1
)

if HOSPITIUM_REDIS_URL:
    HUEY.update({"huey_class": "huey.RedisHuey", "url": HOSPITIUM_REDIS_URL})
else:
    HUEY.update(
        {"huey_class": "huey.SqliteHuey", "filename": str(HOSPITIUM_HOME / "queue.sqlite3")}
    )
