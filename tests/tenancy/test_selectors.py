"""The routing cache of tenancy.selectors: hits skip the platform store, entries expire, changes
are forgotten on demand, and the cache stays bounded."""

from __future__ import annotations

import pytest

from hospitium.tenancy import selectors
from hospitium.tenancy.errors import HospitalNotFound
from hospitium.tenancy.models import Hospital


@pytest.fixture
def cache_on(settings):
    settings.HOSPITIUM_TENANT_CACHE_SECONDS = 5
    selectors.forget_cached_hospitals()
    yield
    selectors.forget_cached_hospitals()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(selectors.time, "monotonic", fake)
    return fake


def test_a_cached_hospital_is_answered_without_a_query(
    cache_on, hospital_a, django_assert_num_queries
):
    first = selectors.hospital_ref_by_code("alpha", cached=True)
    with django_assert_num_queries(0):
        again = selectors.hospital_ref_by_code("ALPHA", cached=True)
    assert again == first
    assert again.code == "ALPHA"


def test_an_entry_expires_after_the_ttl(cache_on, clock, hospital_a, django_assert_num_queries):
    selectors.hospital_ref_by_code("ALPHA", cached=True)
    Hospital.objects.filter(code="ALPHA").update(name="Renamed")
    clock.now += 4.9
    assert selectors.hospital_ref_by_code("ALPHA", cached=True).name != "Renamed"
    clock.now += 0.2
    with django_assert_num_queries(1):
        assert selectors.hospital_ref_by_code("ALPHA", cached=True).name == "Renamed"


def test_forgetting_drops_every_entry(cache_on, hospital_a):
    selectors.hospital_ref_by_code("ALPHA", cached=True)
    Hospital.objects.filter(code="ALPHA").update(name="Renamed")
    selectors.forget_cached_hospitals()
    assert selectors.hospital_ref_by_code("ALPHA", cached=True).name == "Renamed"


def test_an_unknown_code_is_remembered_as_unknown(cache_on, db, django_assert_num_queries):
    with pytest.raises(HospitalNotFound):
        selectors.hospital_ref_by_code("NOPE", cached=True)
    with django_assert_num_queries(0), pytest.raises(HospitalNotFound):
        selectors.hospital_ref_by_code("NOPE", cached=True)


def test_a_zero_ttl_caches_nothing(settings, hospital_a, django_assert_num_queries):
    settings.HOSPITIUM_TENANT_CACHE_SECONDS = 0
    selectors.hospital_ref_by_code("ALPHA", cached=True)
    with django_assert_num_queries(1):
        selectors.hospital_ref_by_code("ALPHA", cached=True)


def test_hosts_are_cached_like_codes(cache_on, hospital_a, django_assert_num_queries):
    ref = selectors.hospital_ref_by_host("ALPHA.example.test")
    assert ref is not None and ref.code == "ALPHA"
    assert selectors.hospital_ref_by_host("nobody.example.test") is None
    with django_assert_num_queries(0):
        assert selectors.hospital_ref_by_host("alpha.example.test") == ref
        assert selectors.hospital_ref_by_host("nobody.example.test") is None


def test_the_cache_stays_bounded(cache_on, clock, monkeypatch, hospital_a):
    monkeypatch.setattr(selectors, "MAX_CACHED", 10)
    ref = selectors.hospital_ref_by_code("ALPHA", cached=True)
    for n in range(9):
        selectors._remember("code", f"OLD{n}", ref)
    clock.now += 10  # all of the above have expired
    selectors._remember("code", "FRESH", ref)
    assert len(selectors._entries) == 1, "expired entries go first"
    for n in range(20):
        selectors._remember("code", f"NEW{n}", ref)
        assert len(selectors._entries) <= 10
