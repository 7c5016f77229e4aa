"""The routing cache of tenancy.selectors: hits skip the platform store; a change made anywhere
(another process, the admin, raw SQL) moves the routing generation and is seen within the check
interval; entries expire; changes are forgotten on demand; the cache stays bounded."""

from __future__ import annotations

import pytest

from hospitium.tenancy import selectors
from hospitium.tenancy.errors import HospitalNotFound
from hospitium.tenancy.models import Domain, Hospital, RoutingGeneration


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


def generation() -> int:
    return RoutingGeneration.objects.get(pk=1).value


def test_a_change_made_elsewhere_is_seen_within_the_check_interval(
    cache_on, clock, hospital_a, django_assert_num_queries
):
    selectors.hospital_ref_by_code("ALPHA", cached=True)
    # As another process (or the admin, or psql) would: no forget_cached_hospitals() here.
    Hospital.objects.filter(code="ALPHA").update(status=Hospital.Status.ARCHIVED)
    clock.now += 4.9
    assert selectors.hospital_ref_by_code("ALPHA", cached=True).status == "active"
    clock.now += 0.2
    with django_assert_num_queries(2):  # the generation, then the hospital again
        assert selectors.hospital_ref_by_code("ALPHA", cached=True).status == "archived"


def test_with_nothing_changed_only_the_generation_is_read_again(
    cache_on, clock, hospital_a, hospital_b, django_assert_num_queries
):
    selectors.hospital_ref_by_code("ALPHA", cached=True)
    selectors.hospital_ref_by_host("bravo.example.test")
    clock.now += 5.1
    with django_assert_num_queries(1):
        assert selectors.hospital_ref_by_code("ALPHA", cached=True).code == "ALPHA"
        ref = selectors.hospital_ref_by_host("bravo.example.test")
        assert ref is not None and ref.code == "BRAVO"


def test_an_entry_expires_after_its_maximum_age_even_when_nothing_moved(
    cache_on, clock, hospital_a, django_assert_num_queries
):
    selectors.hospital_ref_by_code("ALPHA", cached=True)
    clock.now += selectors.MAX_AGE_SECONDS + 1
    with django_assert_num_queries(2):
        selectors.hospital_ref_by_code("ALPHA", cached=True)


def test_every_write_to_routing_facts_moves_the_generation(hospital_a):
    before = generation()
    steps = [
        lambda: Hospital.objects.filter(pk=hospital_a.pk).update(name="Renamed"),
        lambda: Hospital.objects.filter(pk=hospital_a.pk).update(status="archived"),
        lambda: Hospital.objects.filter(pk=hospital_a.pk).update(locked_reason="moving"),
        lambda: Hospital.objects.filter(pk=hospital_a.pk).update(server="s9", store_name="x"),
        lambda: Domain.objects.create(hospital=hospital_a, host="second.example.test"),
        lambda: Domain.objects.filter(host="second.example.test").update(host="third.example.test"),
        lambda: Domain.objects.filter(host="third.example.test").delete(),
        lambda: Hospital.objects.create(code="ZULU", name="Zulu", store_name="zulu"),
        lambda: Hospital.objects.filter(code="ZULU").delete(),
    ]
    for number, step in enumerate(steps, start=1):
        step()
        after = generation()
        assert after > before, f"step {number} did not move the routing generation"
        before = after


def test_other_hospital_columns_leave_the_generation_alone(hospital_a):
    before = generation()
    Hospital.objects.filter(pk=hospital_a.pk).update(migration_fingerprint="f" * 64)
    assert generation() == before


def test_a_write_rolled_back_leaves_the_generation_where_it_was(hospital_a):
    from django.db import transaction

    before = generation()
    with pytest.raises(RuntimeError), transaction.atomic():
        Hospital.objects.filter(pk=hospital_a.pk).update(name="Renamed")
        raise RuntimeError
    assert generation() == before


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
    clock.now += selectors.MAX_AGE_SECONDS + 1  # all of the above have expired
    selectors._remember("code", "FRESH", ref)
    assert len(selectors._entries) == 1, "expired entries go first"
    for n in range(20):
        selectors._remember("code", f"NEW{n}", ref)
        assert len(selectors._entries) <= 10


# --- what routing works out from a cached ref (HospitalRef.derived) ---------------------------


def test_a_cached_refs_alias_and_session_are_worked_out_once(cache_on, hospital_a, monkeypatch):
    from hospitium.tenancy import stores
    from hospitium.tenancy.context import hospital_context
    from hospitium.tenancy.stores import schemas

    ref = selectors.hospital_ref_by_code("ALPHA", cached=True)
    alias = stores.alias_for(ref)
    with hospital_context(ref):
        session = schemas.wanted_session(alias)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("worked out again")

    monkeypatch.setattr(stores, "store_for", refuse)
    monkeypatch.setattr(schemas, "session_for", refuse)
    again = selectors.hospital_ref_by_code("ALPHA", cached=True)
    assert again is ref
    assert stores.alias_for(again) == alias
    with hospital_context(again):
        assert schemas.wanted_session(alias) is session


def _routing_of(ref):
    """(alias, read-only mode of the session a server connection would be given)."""
    from hospitium.tenancy import stores
    from hospitium.tenancy.context import hospital_context
    from hospitium.tenancy.stores.schemas import wanted_session

    alias = stores.alias_for(ref)
    with hospital_context(ref):
        return alias, wanted_session(alias).read_only


@pytest.mark.parametrize("how", ["service", "elsewhere"])
def test_archiving_a_hospital_routes_it_read_only_from_the_next_lookup(
    cache_on, clock, hospital_a, how
):
    from hospitium.tenancy.provisioning import hospital_archive
    from hospitium.tenancy.stores.sqlite import READ_ONLY_SUFFIX
    from tests.storehelp import on_postgres

    before = selectors.hospital_ref_by_code("ALPHA", cached=True)
    alias, read_only = _routing_of(before)
    assert not read_only and not alias.endswith(READ_ONLY_SUFFIX)
    if how == "service":
        hospital_archive(code="ALPHA")
    else:  # as another process would: the generation moves, seen after the check interval
        Hospital.objects.filter(code="ALPHA").update(status=Hospital.Status.ARCHIVED)
        clock.now += 5.1
    after = selectors.hospital_ref_by_code("ALPHA", cached=True)
    assert after is not before and after.read_only
    if on_postgres():
        # The same server connection, now given the read-only session.
        assert _routing_of(after) == (alias, True)
    else:
        # The read-only connection of the SQLite file.
        assert _routing_of(after) == (alias + READ_ONLY_SUFFIX, False)
    assert _routing_of(before) == (alias, False), "the old ref keeps what it was built from"


def test_a_hospital_deleted_elsewhere_is_not_found_after_the_check_interval(
    cache_on, clock, hospital_a
):
    ref = selectors.hospital_ref_by_code("ALPHA", cached=True)
    _routing_of(ref)
    Hospital.objects.filter(code="ALPHA").delete()
    clock.now += 5.1
    with pytest.raises(HospitalNotFound):
        selectors.hospital_ref_by_code("ALPHA", cached=True)
