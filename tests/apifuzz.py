"""Schemathesis over the whole API, as a hospital's admin, against a server on a real port.

Shared by the suite's bounded run (tests/test_api_fuzz.py) and the longer run by hand
(``python -m bench.fuzz``). Every phase schemathesis has (examples, coverage, fuzzing, stateful)
and every check it knows run; a failure is any check that fails or any error the engine meets.

One check is told more than its defaults: ``positive_data_acceptance`` (a request the document
calls valid must not be refused) also accepts 400 and 422. JSON Schema cannot say that an id
must name an existing record, that a diagnosis code must be on the WHO's ICD-10 list, that an
appointment can only be cancelled while booked, or that a medical record number never changes;
the API answers those 400 (``fields`` names the input) and 422 (business rules,
docs/integrity.md). Everything a schema can say (types, formats, required keys, blank strings,
unknown keys, enums) is in the document, and the other checks hold the API to it.

The server is werkzeug's, single-threaded, in a thread of this process: requests go over HTTP as
a client's would (schemathesis' in-process WSGI transport cannot send the probes some checks
need), and one thread means one database connection per store, closed by that thread at the end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from django.db import connections
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from werkzeug.serving import BaseWSGIServer, make_server

from hospitium.tenancy import stores

#: schemathesis' default for positive_data_acceptance, plus 400 and 422 (see above).
POSITIVE_ANSWERS = ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429", "5xx"]


@dataclass(frozen=True)
class FuzzFailure:
    operation: str
    check: str
    title: str
    message: str
    reproduce: str
    #: The status and the start of the body the server answered.
    answer: str = ""

    def __str__(self) -> str:
        return (
            f"{self.operation} [{self.check}] {self.title}\n{self.message}\n"
            f"answered: {self.answer}\n{self.reproduce}"
        )


@dataclass
class FuzzReport:
    cases: int = 0
    operations: set[str] = field(default_factory=set)
    failures: list[FuzzFailure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: Seconds each phase took (examples, coverage, fuzzing, stateful...).
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        """Each failure once (by operation, check and title), then each engine error."""
        seen: dict[tuple[str, str, str], FuzzFailure] = {}
        for failure in self.failures:
            seen.setdefault((failure.operation, failure.check, failure.title), failure)
        return [str(failure) for failure in seen.values()] + self.errors

    def summary(self) -> str:
        return (
            f"{self.cases} cases over {len(self.operations)} operations in {self.seconds:.0f} s: "
            f"{len(self.failures)} failed checks ({len(self.problems) - len(self.errors)} "
            f"distinct), {len(self.errors)} errors; seconds by phase: {self.phases}"
        )


def _serve(server: BaseWSGIServer) -> None:
    try:
        server.serve_forever()
    finally:
        # The connections this thread opened are this thread's to close.
        stores.close_hospital_connections()
        connections.close_all()


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` on a free local port in a thread; yields its base URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=_serve, args=(server,), name="fuzz-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=30)
        server.server_close()


def fuzz(base_url: str, *, token: str, hospital: str, examples: int, seed: int = 1) -> FuzzReport:
    """Run every phase and check of schemathesis over every operation of ``base_url``'s schema,
    authenticated with the API ``token`` in the hospital coded ``hospital``."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": seed,
            "workers": 1,
            "base-url": base_url,
            "cache": {"enabled": False},
            # A loaded two-core machine can take more than the default 10 s for one answer
            # (the schema's first build above all); slowness is not what this run is about.
            "request-timeout": 120,
            "headers": {"X-Hospital": hospital},
            "auth": {"openapi": {"tokenAuth": {"api_key": f"Token {token}"}}},
            "generation": {"max-examples": examples, "deterministic": True, "database": "none"},
            "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_ANSWERS}},
        }
    )
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/", config=config, timeout=120)
    report = FuzzReport()
    started = time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            report.cases += len(event.recorder.cases)
            report.operations.add(event.recorder.label)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    interaction = event.recorder.interactions.get(case_id)
                    response = interaction.response if interaction else None
                    answer = (
                        f"{response.status_code} {response.content[:400]!r}" if response else ""
                    )
                    report.failures.append(
                        FuzzFailure(
                            operation=event.recorder.label,
                            check=check.name,
                            title=failure.title,
                            message=failure.message,
                            reproduce=check.failure_info.code_sample,
                            answer=answer,
                        )
                    )
        elif isinstance(event, events.PhaseStarted):
            report.phases[event.phase.name.value] = time.monotonic()
        elif isinstance(event, events.PhaseFinished):
            name = event.phase.name.value
            report.phases[name] = round(time.monotonic() - report.phases.get(name, started), 1)
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            report.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            report.failures.extend(
                FuzzFailure("after run", "", f.title, f.message, "") for f in event.failures
            )
    report.seconds = time.monotonic() - started
    return report
