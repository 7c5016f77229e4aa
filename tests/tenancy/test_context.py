from __future__ import annotations

import asyncio
import threading

import pytest

from hospitium.tenancy.context import (
    HospitalRef,
    current_hospital,
    current_hospital_or_none,
    hospital_context,
    no_hospital,
)
from hospitium.tenancy.errors import HospitalNotFound, NoHospitalSelected


def ref(code: str, status: str = "active") -> HospitalRef:
    return HospitalRef(
        id=1, code=code, name=code, status=status, server="", store_name=f"{code}.sqlite3"
    )


def test_no_hospital_is_bound_by_default():
    assert current_hospital_or_none() is None
    with pytest.raises(NoHospitalSelected):
        current_hospital()


def test_contexts_nest_and_restore_the_outer_hospital():
    with hospital_context(ref("ALPHA")):
        assert current_hospital().code == "ALPHA"
        with hospital_context(ref("BRAVO")):
            assert current_hospital().code == "BRAVO"
            with no_hospital():
                assert current_hospital_or_none() is None
            assert current_hospital().code == "BRAVO"
        assert current_hospital().code == "ALPHA"
    assert current_hospital_or_none() is None


def test_the_context_is_restored_after_an_exception():
    with pytest.raises(RuntimeError), hospital_context(ref("ALPHA")):
        raise RuntimeError("boom")
    assert current_hospital_or_none() is None


def test_threads_do_not_see_each_others_hospital():
    seen: dict[str, str | None] = {}
    barrier = threading.Barrier(2)

    def work(code: str) -> None:
        with hospital_context(ref(code)):
            barrier.wait()
            seen[code] = current_hospital().code

    threads = [threading.Thread(target=work, args=(code,)) for code in ("ALPHA", "BRAVO")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"ALPHA": "ALPHA", "BRAVO": "BRAVO"}


def test_asyncio_tasks_each_keep_their_own_hospital():
    async def work(code: str) -> str:
        with hospital_context(ref(code)):
            await asyncio.sleep(0.01)
            return current_hospital().code

    async def main() -> list[str]:
        return list(await asyncio.gather(work("ALPHA"), work("BRAVO"), work("CHARLIE")))

    assert asyncio.run(main()) == ["ALPHA", "BRAVO", "CHARLIE"]


def test_an_archived_hospital_is_read_only_except_for_maintenance():
    archived = ref("ALPHA", status="archived")
    assert archived.read_only
    assert not archived.for_maintenance().read_only
    with hospital_context(archived, maintenance=True) as bound:
        assert not bound.read_only


@pytest.mark.django_db
def test_binding_an_unknown_code_raises_not_found():
    with pytest.raises(HospitalNotFound), hospital_context("NOPE"):
        pass


@pytest.mark.django_db
def test_binding_by_code_looks_the_hospital_up(hospital_a):
    with hospital_context("alpha") as bound:
        assert bound.code == "ALPHA"
        assert bound.id == hospital_a.pk
