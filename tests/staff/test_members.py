"""A hospital's admins manage its staff: add a person (new account or existing), grant and
revoke roles, remove; never the last admin; every change in the hospital's audit log."""

from __future__ import annotations

from typing import Any

import pytest

from hospitium.accounts.models import Membership, Role, User
from hospitium.accounts.selectors import member_list, roles_of
from hospitium.accounts.services import AdminRequired, LastAdmin, NotAMember
from hospitium.audit.models import AuditEvent
from hospitium.audit.services import break_glass_open
from hospitium.core.errors import ValidationFailed
from hospitium.staff.members import (
    member_invite_or_create,
    member_remove,
    member_role_grant,
    member_role_revoke,
    member_roles_set,
)
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ALPHA = "alpha.example.test"
BRAVO = "bravo.example.test"
NEW_PASSWORD = "a long first passphrase 42"


def roles(user: User, hospital: Hospital) -> set[str]:
    return set(roles_of(user_id=user.pk, hospital_id=hospital.pk))


def member_events(hospital: Hospital) -> list[AuditEvent]:
    with hospital_context(hospital):
        return list(AuditEvent.objects.filter(object_type="members").order_by("id"))


# --- services --------------------------------------------------------------------------------


def test_an_admin_creates_an_account_that_signs_in_with_the_given_password(
    hospital_a: Hospital, admin_a: User
) -> None:
    user, created = member_invite_or_create(
        by=admin_a,
        hospital=hospital_a,
        email="Reception@Alpha.example.test",
        roles=["receptionist"],
        full_name="Rita Reception",
        password=NEW_PASSWORD,
    )
    assert created
    assert user.email == "reception@alpha.example.test"
    assert roles(user, hospital_a) == {"receptionist"}
    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)
    [event] = member_events(hospital_a)
    assert (event.action, event.object_id, event.actor_id) == ("create", str(user.pk), admin_a.pk)
    assert event.detail["granted"] == ["receptionist"]
    assert event.detail["new_account"] is True


def test_an_existing_account_is_added_as_it_is_and_its_password_is_not_touched(
    hospital_a: Hospital, admin_a: User, doctor_b: User
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        member_invite_or_create(
            by=admin_a, hospital=hospital_a, email=doctor_b.email, roles=["nurse"], password="x"
        )
    assert "password" in refused.value.fields
    user, created = member_invite_or_create(
        by=admin_a, hospital=hospital_a, email=doctor_b.email, roles=["nurse", "analyst"]
    )
    assert (user, created) == (doctor_b, False)
    assert roles(doctor_b, hospital_a) == {"nurse", "analyst"}
    assert User.objects.get(pk=doctor_b.pk).check_password(PASSWORD)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "new@example.test", "roles": ["doctor"]}, "password"),
        ({"email": "new@example.test", "roles": ["doctor"], "password": "short"}, "password"),
        ({"email": "new@example.test", "roles": [], "password": NEW_PASSWORD}, "roles"),
        ({"email": "new@example.test", "roles": ["chief"], "password": NEW_PASSWORD}, "roles"),
        ({"email": "not an email", "roles": ["doctor"], "password": NEW_PASSWORD}, "email"),
    ],
)
def test_invalid_input_is_refused_naming_the_field_and_nothing_is_written(
    hospital_a: Hospital, admin_a: User, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        member_invite_or_create(by=admin_a, hospital=hospital_a, **body)
    assert field in refused.value.fields
    assert not User.objects.filter(email="new@example.test").exists()
    assert member_events(hospital_a) == []


def test_only_admins_manage_members(
    hospital_a: Hospital, admin_a: User, doctor_a: User, superuser: User
) -> None:
    for by in (doctor_a, superuser):
        with pytest.raises(AdminRequired):
            member_role_grant(by=by, hospital=hospital_a, user=doctor_a, roles=["admin"])
        with pytest.raises(AdminRequired):
            member_remove(by=by, hospital=hospital_a, user=admin_a)
    assert roles(doctor_a, hospital_a) == {"doctor"}
    # A superuser acts as an admin only under break-glass.
    break_glass_open(user=superuser, hospital=hospital_a, reason="Ticket 1: add a role")
    member_role_grant(by=superuser, hospital=hospital_a, user=doctor_a, roles=["nurse"])
    assert roles(doctor_a, hospital_a) == {"doctor", "nurse"}


def test_an_admin_of_another_hospital_manages_nothing_here(
    hospital_a: Hospital, hospital_b: Hospital, doctor_a: User
) -> None:
    admin_b = User.objects.create_user("admin@bravo.example.test", PASSWORD)
    Membership.objects.create(user=admin_b, hospital=hospital_b, role=Role.ADMIN)
    with pytest.raises(AdminRequired):
        member_remove(by=admin_b, hospital=hospital_a, user=doctor_a)


def test_grant_revoke_and_set_roles_are_each_audited(
    hospital_a: Hospital, admin_a: User, doctor_a: User
) -> None:
    assert member_role_grant(
        by=admin_a, hospital=hospital_a, user=doctor_a, roles=["nurse", "doctor"]
    ) == ["nurse"]
    assert member_role_revoke(by=admin_a, hospital=hospital_a, user=doctor_a, roles=["doctor"]) == [
        "doctor"
    ]
    assert member_roles_set(
        by=admin_a, hospital=hospital_a, user=doctor_a, roles=["billing", "nurse"]
    ) == (["billing"], [])
    assert roles(doctor_a, hospital_a) == {"nurse", "billing"}
    details = [
        (e.action, e.detail.get("granted"), e.detail.get("revoked"))
        for e in member_events(hospital_a)
    ]
    assert details == [
        ("update", ["nurse"], None),
        ("update", None, ["doctor"]),
        ("update", ["billing"], []),
    ]


def test_the_last_admin_can_be_neither_removed_nor_demoted(
    hospital_a: Hospital, admin_a: User, doctor_a: User
) -> None:
    with pytest.raises(LastAdmin):
        member_remove(by=admin_a, hospital=hospital_a, user=admin_a)
    with pytest.raises(LastAdmin):
        member_role_revoke(by=admin_a, hospital=hospital_a, user=admin_a, roles=["admin"])
    with pytest.raises(LastAdmin):
        member_roles_set(by=admin_a, hospital=hospital_a, user=admin_a, roles=["doctor"])
    assert roles(admin_a, hospital_a) == {"admin"}
    member_role_grant(by=admin_a, hospital=hospital_a, user=doctor_a, roles=["admin"])
    member_remove(by=admin_a, hospital=hospital_a, user=admin_a)
    assert roles(admin_a, hospital_a) == set()
    assert User.objects.filter(pk=admin_a.pk).exists()  # the account stays
    assert member_events(hospital_a)[-1].action == "delete"


def test_a_non_member_cannot_be_granted_or_removed(
    hospital_a: Hospital, admin_a: User, doctor_b: User
) -> None:
    with pytest.raises(NotAMember):
        member_role_grant(by=admin_a, hospital=hospital_a, user=doctor_b, roles=["nurse"])
    with pytest.raises(NotAMember):
        member_remove(by=admin_a, hospital=hospital_a, user=doctor_b)


def test_the_member_list_groups_roles_in_one_query(
    hospital_a: Hospital, admin_a: User, doctor_a: User, django_assert_num_queries: Any
) -> None:
    Membership.objects.create(user=doctor_a, hospital=hospital_a, role=Role.NURSE)
    with django_assert_num_queries(1):
        members = member_list(hospital_id=hospital_a.pk)
    assert [(m.email, m.roles) for m in members] == [
        (admin_a.email, ("admin",)),
        (doctor_a.email, ("doctor", "nurse")),
    ]


# --- API -------------------------------------------------------------------------------------


@pytest.fixture
def as_admin(api: Any, admin_a: User) -> Any:
    api.force_login(admin_a)
    return api


def test_the_api_lists_adds_sets_roles_and_removes(as_admin: Any, hospital_a: Hospital) -> None:
    created = as_admin.post(
        "/api/members/",
        {"email": "rec@alpha.example.test", "roles": ["receptionist"], "password": NEW_PASSWORD},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert created.status_code == 201, created.content
    member = created.json()
    assert member["roles"] == ["receptionist"]
    assert "password" not in member
    url = f"/api/members/{member['id']}/"
    patched = as_admin.patch(url, {"roles": ["nurse", "billing"]}, format="json", HTTP_HOST=ALPHA)
    assert patched.status_code == 200, patched.content
    assert patched.json()["roles"] == ["billing", "nurse"]
    listing = as_admin.get("/api/members/", HTTP_HOST=ALPHA).json()
    assert {m["email"] for m in listing} == {"admin@alpha.example.test", "rec@alpha.example.test"}
    assert as_admin.delete(url, HTTP_HOST=ALPHA).status_code == 204
    assert as_admin.get(url, HTTP_HOST=ALPHA).status_code == 404
    assert [e.action for e in member_events(hospital_a)] == ["create", "update", "delete"]


def test_the_api_refuses_removing_the_last_admin(as_admin: Any, admin_a: User) -> None:
    response = as_admin.delete(f"/api/members/{admin_a.pk}/", HTTP_HOST=ALPHA)
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "last_admin"


def test_the_api_refuses_unknown_fields_and_roles(as_admin: Any, doctor_a: User) -> None:
    url = f"/api/members/{doctor_a.pk}/"
    for body in ({"roles": ["chief"]}, {"roles": []}, {"roles": ["nurse"], "email": "x@y.z"}):
        response = as_admin.patch(url, body, format="json", HTTP_HOST=ALPHA)
        assert response.status_code == 400, body


def test_other_roles_get_403_and_another_hospitals_member_is_404(
    api: Any, admin_a: User, doctor_a: User, doctor_b: User
) -> None:
    api.force_login(doctor_a)
    assert api.get("/api/members/", HTTP_HOST=ALPHA).status_code == 403
    assert api.delete(f"/api/members/{admin_a.pk}/", HTTP_HOST=ALPHA).status_code == 403
    api.force_login(admin_a)
    assert api.get(f"/api/members/{doctor_b.pk}/", HTTP_HOST=ALPHA).status_code == 404
    assert api.delete(f"/api/members/{doctor_b.pk}/", HTTP_HOST=ALPHA).status_code == 404
    assert api.get("/api/members/", HTTP_HOST=BRAVO).status_code == 404
