"""A smoke run of bench.load's own code (the benchmark itself is run by hand, never here): its
hospitals and clients, for two seconds against the test server, with one client."""

from __future__ import annotations

import itertools
import time

import pytest

from bench import load


@pytest.mark.django_db(transaction=True)
def test_the_load_benchmarks_clients_get_no_errors_on_two_hospitals(live_server) -> None:
    hospitals = load.prepare(2, patients=3)
    tally = load.Tally()
    load.client_loop(
        live_server.url, hospitals, time.monotonic() + 2, itertools.count(), tally, seed=1
    )
    assert not tally.errors, tally.errors
    assert sum(len(samples) for samples in tally.latencies.values()) > 0
