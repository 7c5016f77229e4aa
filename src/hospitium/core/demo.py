"""Demo hospitals for `hospitium run`: two hospitals with a user for each of the six roles, a
platform superuser, and two years of synthetic care (hospitium.demo), so a newcomer can sign in
as a receptionist, a doctor or a billing clerk and see real-looking data and tenancy at work."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings

from hospitium.accounts.models import Role, User
from hospitium.accounts.services import membership_grant, user_create
from hospitium.demo.generator import demo_fill
from hospitium.tenancy.provisioning import hospital_create

DEMO_HOSPITALS = [
    ("NORTHGATE", "Northgate General Hospital"),
    ("RIVERSIDE", "Riverside Dental & Medical Centre"),
]


@dataclass
class Login:
    where: str
    code: str
    email: str
    password: str
    #: The role in the hospital ("" for the platform superuser).
    role: str = ""


def credentials_path() -> Path:
    return Path(settings.HOSPITIUM_HOME) / "demo-credentials.json"


def read_credentials() -> list[Login]:
    try:
        return [Login(**row) for row in json.loads(credentials_path().read_text())]
    except FileNotFoundError:
        return []


def _write_credentials(logins: list[Login]) -> None:
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump([asdict(login) for login in logins], handle, indent=2)


def setup_demo(*, patients: int = 300, years: int = 2, seed: int = 7) -> list[Login]:
    """Create the demo hospitals and logins; return the logins (also saved, mode 0600)."""
    logins: list[Login] = []
    superuser_password = secrets.token_urlsafe(12)
    User.objects.create_superuser(
        "admin@hospitium.example", superuser_password, full_name="Platform admin"
    )
    logins.append(Login("platform", "", "admin@hospitium.example", superuser_password))
    for index, (code, name) in enumerate(DEMO_HOSPITALS):
        email = f"admin@{code.lower()}.example"
        result = hospital_create(
            code=code,
            name=name,
            domains=[f"{code.lower()}.localhost"],
            admin_email=email,
        )
        assert result.generated_password is not None
        logins.append(Login("hospital", code, email, result.generated_password, Role.ADMIN))
        for role in Role.values:
            if role == Role.ADMIN:
                continue
            password = secrets.token_urlsafe(12)
            user = user_create(
                email=f"{role}@{code.lower()}.example",
                password=password,
                full_name=f"{Role(role).label} of {name}",
            )
            membership_grant(user=user, hospital=result.hospital, role=role)
            logins.append(Login("hospital", code, user.email, password, role))
        demo_fill(
            hospital=result.hospital,
            patients=patients,
            years=years,
            seed=seed + index,
            user_id=result.admin.pk if result.admin else None,
        )
    _write_credentials(logins)
    return logins
