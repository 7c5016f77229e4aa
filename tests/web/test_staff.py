"""/staff/: a hospital's admins list the staff, add a person, set roles and remove; errors are
shown beside the fields; other roles get the 403 page; another hospital's member is 404."""

from __future__ import annotations

from typing import Any

import pytest

from hospitium.accounts.models import Role, User
from hospitium.accounts.selectors import roles_of
from hospitium.tenancy.models import Hospital
from tests.web.helpers import client_for, max_queries, member

pytestmark = pytest.mark.django_db

PASSPHRASE = "a long first passphrase 42"


def roles(user: User, hospital: Hospital) -> set[str]:
    return set(roles_of(user_id=user.pk, hospital_id=hospital.pk))


def test_an_admin_adds_a_receptionist_who_then_signs_in(
    hospital_a: Hospital, admin_a: User
) -> None:
    client = client_for(hospital_a, admin_a)
    page = client.get("/staff/")
    assert page.status_code == 200
    assert admin_a.email in page.content.decode()
    added = client.post(
        "/staff/",
        {"email": "rita@alpha.example.test", "roles": ["receptionist"], "password": PASSPHRASE},
        follow=True,
    )
    assert added.status_code == 200
    assert "Account created for rita@alpha.example.test." in added.content.decode()
    rita = User.objects.get(email="rita@alpha.example.test")
    assert roles(rita, hospital_a) == {"receptionist"}
    fresh = client_for(hospital_a)
    signed_in = fresh.post("/login/", {"username": rita.email, "password": PASSPHRASE}, follow=True)
    assert signed_in.status_code == 200
    assert 'href="/staff/"' not in signed_in.content.decode()
    assert fresh.get("/staff/").status_code == 403


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"email": "new@alpha.example.test", "roles": ["nurse"]}, "Give the new account a first"),
        ({"email": "not an email", "roles": ["nurse"]}, "Enter a valid email address."),
        ({"email": "new@alpha.example.test", "password": PASSPHRASE}, "This field is required."),
    ],
)
def test_errors_are_shown_beside_the_field(
    hospital_a: Hospital, admin_a: User, body: dict[str, Any], message: str
) -> None:
    response = client_for(hospital_a, admin_a).post("/staff/", body)
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert 'class="error-summary"' in page
    assert not User.objects.filter(email="new@alpha.example.test").exists()


def test_an_admin_sets_roles_and_removes_a_member(
    hospital_a: Hospital, admin_a: User, doctor_a: User
) -> None:
    client = client_for(hospital_a, admin_a)
    assert client.get(f"/staff/{doctor_a.pk}/").status_code == 200
    saved = client.post(f"/staff/{doctor_a.pk}/", {"roles": ["doctor", "nurse"]}, follow=True)
    assert "Roles of doctor@alpha.example.test saved." in saved.content.decode()
    assert roles(doctor_a, hospital_a) == {"doctor", "nurse"}
    none = client.post(f"/staff/{doctor_a.pk}/", {"roles": []})
    assert none.status_code == 200
    assert "error-summary" in none.content.decode()
    assert roles(doctor_a, hospital_a) == {"doctor", "nurse"}
    removed = client.post(f"/staff/{doctor_a.pk}/remove/", follow=True)
    assert "removed from the staff" in removed.content.decode()
    assert roles(doctor_a, hospital_a) == set()
    assert client.get(f"/staff/{doctor_a.pk}/").status_code == 404


def test_the_last_admin_is_told_why_they_cannot_leave(hospital_a: Hospital, admin_a: User) -> None:
    client = client_for(hospital_a, admin_a)
    for response in (
        client.post(f"/staff/{admin_a.pk}/remove/"),
        client.post(f"/staff/{admin_a.pk}/", {"roles": ["doctor"]}),
    ):
        assert response.status_code == 200
        assert "A hospital keeps at least one administrator." in response.content.decode()
    assert roles(admin_a, hospital_a) == {"admin"}


@pytest.mark.parametrize(
    "role", [Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST, Role.BILLING, Role.ANALYST]
)
def test_other_roles_get_the_403_page(hospital_a: Hospital, admin_a: User, role: str) -> None:
    client = client_for(hospital_a, member(hospital_a, role))
    assert 'href="/staff/"' not in client.get("/").content.decode()
    assert client.get("/staff/").status_code == 403
    assert client.get(f"/staff/{admin_a.pk}/").status_code == 403
    assert client.post(f"/staff/{admin_a.pk}/remove/").status_code == 403
    assert roles(admin_a, hospital_a) == {"admin"}


def test_another_hospitals_member_is_the_404_page(
    hospital_a: Hospital, admin_a: User, doctor_b: User
) -> None:
    client = client_for(hospital_a, admin_a)
    assert client.get(f"/staff/{doctor_b.pk}/").status_code == 404
    assert client.post(f"/staff/{doctor_b.pk}/remove/").status_code == 404


def test_the_staff_page_costs_the_same_queries_with_more_members(
    hospital_a: Hospital, admin_a: User, django_assert_max_num_queries: Any
) -> None:
    client = client_for(hospital_a, admin_a)
    for i in range(2):
        member(hospital_a, Role.NURSE, f"n{i}@alpha.example.test")
    with max_queries(django_assert_max_num_queries, hospital_a, 8):
        assert client.get("/staff/").status_code == 200
    for i in range(2, 20):
        member(hospital_a, Role.NURSE, f"n{i}@alpha.example.test")
    with max_queries(django_assert_max_num_queries, hospital_a, 8):
        assert "n19@alpha.example.test" in client.get("/staff/").content.decode()
