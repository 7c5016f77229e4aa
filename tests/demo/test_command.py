"""`hospitium demo`: refusals exit 1 and change nothing; demo hospitals come with an admin."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from hospitium.accounts.models import Membership, Role
from hospitium.core.demo import credentials_path, setup_demo
from hospitium.encounters.models import Visit
from hospitium.patients.models import Patient
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital


@pytest.mark.parametrize(
    "args",
    [
        ["--hospital", "NOWHERE", "--patients", "5"],
        ["--hospitals", "0", "--patients", "5"],
        ["--hospitals", "two", "--patients", "5"],
        ["--hospitals", "1", "--patients", "0"],
        ["--hospitals", "1", "--patients", "many"],
        ["--hospitals", "1", "--patients", "5", "--years", "0"],
        ["--hospitals", "1", "--patients", "5", "--seed", "x"],
        ["--hospitals", "1"],
        ["--patients", "5"],
        ["--hospitals", "1", "--hospital", "ALPHA", "--patients", "5"],
    ],
)
def test_bad_input_exits_1_and_changes_nothing(hospital_a, args):
    before = list(Hospital.objects.values_list("code", flat=True))
    with pytest.raises(CommandError) as refused:
        call_command("demo", *args)
    assert refused.value.returncode == 1
    assert list(Hospital.objects.values_list("code", flat=True)) == before
    with hospital_context(hospital_a):
        assert Patient.objects.count() == 0


def test_an_archived_hospital_is_not_filled(hospital_a):
    Hospital.objects.filter(pk=hospital_a.pk).update(status=Hospital.Status.ARCHIVED)
    with pytest.raises(CommandError, match="archived") as refused:
        call_command("demo", "--hospital", "ALPHA", "--patients", "5")
    assert refused.value.returncode == 1


def test_non_numeric_input_exits_1_as_a_real_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSPITIUM_")}
    env.update({"DJANGO_SETTINGS_MODULE": "hospitium.settings", "HOSPITIUM_HOME": str(tmp_path)})
    done = subprocess.run(
        [sys.executable, "-m", "hospitium", "demo", "--hospitals", "x", "--patients", "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "--hospitals must be a whole number" in done.stderr


def test_demo_hospitals_are_created_with_an_admin_and_their_logins_printed(db, capsys):
    call_command("demo", "--hospitals", "2", "--patients", "15", "--years", "1", "--seed", "4")
    out = capsys.readouterr().out
    hospitals = Hospital.objects.filter(code__startswith="DEMO_").order_by("code")
    assert [h.code for h in hospitals] == ["DEMO_01", "DEMO_02"]
    for hospital in hospitals:
        assert hospital.status == Hospital.Status.ACTIVE
        assert hospital.domains.filter(host=f"demo-{hospital.code[5:]}.localhost").exists()
        admin = Membership.objects.get(hospital=hospital, role=Role.ADMIN).user
        assert admin.email in out
        with hospital_context(hospital):
            assert Patient.objects.count() == 15
            assert set(Patient.objects.values_list("registered_by_id", flat=True)) == {admin.pk}
    assert "demo-01.localhost" in out and "rows/s" in out
    call_command("demo", "--hospitals", "1", "--patients", "5", "--years", "1")
    assert Hospital.objects.filter(code="DEMO_03").exists()


def test_an_existing_hospital_is_filled(hospital_a, admin_a, capsys):
    call_command("demo", "--hospital", "alpha", "--patients", "12", "--years", "1")
    assert "ALPHA:" in capsys.readouterr().out
    with hospital_context(hospital_a):
        assert Patient.objects.count() == 12
        assert set(Patient.objects.values_list("registered_by_id", flat=True)) == {admin_a.pk}
        assert Visit.objects.exists()


def test_setup_demo_fills_both_demo_hospitals_and_keeps_the_logins_private(db):
    logins = setup_demo(patients=25, years=1)
    assert [login.code for login in logins] == ["", *["NORTHGATE"] * 6, *["RIVERSIDE"] * 6]
    for code in ("NORTHGATE", "RIVERSIDE"):
        hospital = Hospital.objects.get(code=code)
        for login in logins:
            if login.code == code:
                assert Membership.objects.filter(
                    hospital=hospital, user__email=login.email, role=login.role
                ).exists()
        assert {login.role for login in logins if login.code == code} == set(Role.values)
    assert oct(credentials_path().stat().st_mode & 0o777) == "0o600"
    for code in ("NORTHGATE", "RIVERSIDE"):
        with hospital_context(code):
            assert Patient.objects.count() == 25
            assert Visit.objects.filter(kind="dental").exists()


def test_run_prints_a_sign_in_for_every_role_of_each_demo_hospital():
    from hospitium.core.demo import Login
    from hospitium.core.management.commands.run import login_lines

    logins = [Login("platform", "", "root@x.example", "pw0")] + [
        Login("hospital", "NORTHGATE", f"{role}@northgate.example", f"pw-{role}", role)
        for role in Role.values
    ]
    text = "\n".join(login_lines(logins, "127.0.0.1", 8000))
    assert "hospital NORTHGATE: http://northgate.localhost:8000/ " in text
    for role in Role.values:
        assert f"{role}@northgate.example / pw-{role}" in text
    assert "root@x.example / pw0" in text
