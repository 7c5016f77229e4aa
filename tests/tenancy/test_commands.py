from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from hospitium.accounts.models import User
from hospitium.tenancy.models import Domain, Hospital
from tests.storehelp import on_postgres

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("hospitals", *args, stdout=out)
    return out.getvalue()


def test_create_prints_the_domains_and_a_one_time_admin_password():
    out = run(
        "create",
        "CEDAR",
        "--name",
        "Cedar Hospital",
        "--domain",
        "cedar.example.test",
        "--domain",
        "www.cedar.example.test",
        "--admin-email",
        "chief@cedar.example.test",
    )
    assert "created hospital CEDAR (Cedar Hospital)" in out
    assert "domain: cedar.example.test (primary)" in out
    line = next(line for line in out.splitlines() if line.startswith("admin password: "))
    password = line.removeprefix("admin password: ")
    assert User.objects.get(email="chief@cedar.example.test").check_password(password)


def test_create_reads_the_admin_password_from_a_file(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("a-long-and-unusual-passphrase\n")
    out = run(
        "create",
        "ELM",
        "--name",
        "Elm",
        "--domain",
        "elm.example.test",
        "--admin-email",
        "a@elm.example.test",
        "--admin-password-file",
        str(secret),
    )
    assert "admin password" not in out
    assert User.objects.get(email="a@elm.example.test").check_password(
        "a-long-and-unusual-passphrase"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "bad-code", "--name", "X", "--domain", "x.example.test"], "is not valid"),
        (
            ["create", "OAK", "--name", "X", "--domain", "alpha.example.test"],
            "already used by hospital ALPHA",
        ),
        (["create", "ALPHA", "--name", "X", "--domain", "y.example.test"], "already taken"),
        (
            [
                "create",
                "OAK",
                "--name",
                "X",
                "--domain",
                "x.example.test",
                "--admin-password-file",
                "/nonexistent",
            ],
            "needs --admin-email",
        ),
        (
            [
                "create",
                "OAK",
                "--name",
                "X",
                "--domain",
                "x.example.test",
                "--admin-email",
                "a@x.example.test",
                "--admin-password-file",
                "/nonexistent/pw",
            ],
            "cannot read a password",
        ),
        (["archive", "NOPE"], "no hospital with code NOPE"),
        (["repair", "ALPHA"], "nothing to repair"),
    ],
)
def test_bad_input_exits_1_with_a_clear_message_and_changes_nothing(hospital_a, args, message):
    before = (Hospital.objects.count(), Domain.objects.count(), User.objects.count())
    with pytest.raises(CommandError, match=message) as info:
        run(*args)
    assert info.value.returncode == 1
    assert (Hospital.objects.count(), Domain.objects.count(), User.objects.count()) == before


def test_list_shows_status_and_migration_state(hospital_a, hospital_b):
    Hospital.objects.filter(code="BRAVO").update(migration_fingerprint="old")
    rows = json.loads(run("list", "--json"))
    assert [(r["code"], r["status"], r["migration_state"]) for r in rows] == [
        ("ALPHA", "active", "current"),
        ("BRAVO", "active", "behind"),
    ]
    assert rows[0]["domains"] == ["alpha.example.test"]
    expected = (
        {"server": "s1", "store": "hospital_alpha"}
        if on_postgres()
        else {"server": "embedded", "store": "ALPHA.sqlite3"}
    )
    assert rows[0]["placement"] == expected
    table = run("list")
    assert table.splitlines()[0].split() == ["CODE", "STATUS", "MIGRATIONS", "DOMAIN", "NAME"]
    assert "BRAVO" in table and "behind" in table


def test_list_says_so_when_there_are_no_hospitals():
    assert run("list").strip() == "no hospitals"


def test_archive_then_repair_cycle(hospital_a):
    assert "now read-only" in run("archive", "ALPHA")
    assert Hospital.objects.get(code="ALPHA").status == "archived"
    Hospital.objects.create(code="BROKE", name="B", status="failed", store_name="BROKE.sqlite3")
    out = run("repair", "BROKE")
    assert "hospital BROKE: finished" in out and "marked the hospital active" in out
