"""`hospitium hospitals create` killed with SIGKILL at each step (a real subprocess paused at a
test-only point, tests/subprocs.py): whatever it left is named by `integrity check` and `hospitals
list`, and `hospitals repair` finishes it — the admin recorded at the start included — or removes
it. On both stores."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth.hashers import check_password

from tests import storehelp
from tests.subprocs import Cli, kill

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CREATE = (
    "hospitals",
    "create",
    "KILLED",
    "--name",
    "Killed Mid-way",
    "--domain",
    "killed.example.test",
    "--admin-email",
    "Boss@Killed.example.test",
    "--currency",
    "GBP",
)
ADMIN = "boss@killed.example.test"


@pytest.fixture
def cli(_isolated_home: Path) -> Iterator[Cli]:
    started = Cli(_isolated_home)
    try:
        yield started
    finally:
        started.stop_all()


def has_store(code: str) -> bool:
    return any(code.lower() in name.lower() for name in storehelp.existing_stores())


def currency_of(home: Path, placement: dict[str, str]) -> list[tuple[str]]:
    """The billing settings' currency in a hospital's store, read behind the code's back."""
    query = "select currency from billing_billingsettings"
    if placement["server"] == "embedded":
        raw = sqlite3.connect(home / "hospitals" / placement["store"])
        try:
            return raw.execute(query).fetchall()
        finally:
            raw.close()
    with psycopg.connect(storehelp._server_url(placement["server"]), autocommit=True) as pg:
        pg.execute(f'SET search_path TO "{placement["store"]}"')
        return pg.execute(query).fetchall()


def killed_at(cli: Cli, point: str) -> None:
    kill(cli.start_paused(*CREATE, at=point))


def listed(cli: Cli) -> dict[str, dict[str, object]]:
    return {row["code"]: row for row in cli.json("hospitals", "list")}


def admins(cli: Cli, code: str) -> list[tuple[str, str]]:
    return cli.platform(
        "select u.email, u.password from accounts_membership m "
        "join accounts_user u on u.id = m.user_id join tenancy_hospital h on h.id = m.hospital_id "
        "where h.code = ? and m.role = 'admin'",
        (code,),
    )


def test_a_kill_before_anything_is_recorded_leaves_nothing(cli):
    killed_at(cli, "before_record")
    assert listed(cli) == {}
    assert cli.json("integrity", "check") == {"ok": True, "findings": []}
    assert not has_store("KILLED")


@pytest.mark.parametrize(
    ("point", "store_made"),
    [
        ("before_store", False),
        ("before_settings", True),
        ("before_admin", True),
        ("before_activate", True),
    ],
)
def test_a_killed_provisioning_is_found_and_repair_finishes_it_with_its_admin(
    cli, tmp_path, point, store_made
):
    killed_at(cli, point)
    assert has_store("KILLED") is store_made
    assert admins(cli, "KILLED") == []

    row = listed(cli)["KILLED"]
    assert row["status"] == "provisioning"
    assert "is gone" in str(row["needs_repair"])
    report = cli.json("integrity", "check", returncode=1)
    assert report["ok"] is False
    assert [(f["store"], f["kind"]) for f in report["findings"]] == [
        ("KILLED", "provisioning_unfinished")
    ]
    assert "hospitals repair KILLED" in report["findings"][0]["detail"]

    password = tmp_path / "password"
    password.write_text("a-long-and-fine-password-9\n")
    repaired = cli.run("hospitals", "repair", "KILLED", "--admin-password-file", str(password))
    assert "hospital KILLED: finished" in repaired.stdout
    assert f"admin: {ADMIN} (new user)" in repaired.stdout
    assert "admin password:" not in repaired.stdout  # the operator chose it

    row = listed(cli)["KILLED"]
    assert (row["status"], row["needs_repair"], row["migration_state"]) == (
        "active",
        None,
        "current",
    )
    assert cli.json("integrity", "check", returncode=0) == {"ok": True, "findings": []}
    assert has_store("KILLED")
    assert currency_of(cli.home, row["placement"]) == [("GBP",)]
    [(email, encoded)] = admins(cli, "KILLED")
    assert email == ADMIN and check_password("a-long-and-fine-password-9", encoded)


def test_list_and_create_point_at_repair_which_shows_a_generated_password_once(cli):
    killed_at(cli, "before_admin")
    text = cli.run("hospitals", "list").stdout
    assert "KILLED: provisioning did not finish" in text
    assert "hospitium hospitals repair KILLED" in text
    # Creating it again is refused with the way out, not a bare "taken".
    again = cli.run(*CREATE, ok=False)
    assert again.returncode == 1 and "hospitals repair KILLED" in again.stderr

    repaired = cli.run("hospitals", "repair", "KILLED")
    [line] = [line for line in repaired.stdout.splitlines() if line.startswith("admin password:")]
    [(email, encoded)] = admins(cli, "KILLED")
    assert email == ADMIN and check_password(line.removeprefix("admin password:").strip(), encoded)


def test_repair_clean_removes_a_killed_provisioning_and_the_code_is_free_again(cli):
    killed_at(cli, "before_activate")
    assert "hospital KILLED: removed" in cli.run("hospitals", "repair", "KILLED", "--clean").stdout
    assert listed(cli) == {}
    assert not has_store("KILLED")
    assert cli.json("integrity", "check") == {"ok": True, "findings": []}
    created = cli.run(*CREATE)
    assert "created hospital KILLED" in created.stdout
    assert listed(cli)["KILLED"]["status"] == "active"
