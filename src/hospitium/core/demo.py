"""Demo hospitals for `hospitium run`: two hospitals with an admin each, a platform superuser,
and a few synthetic patients, so a newcomer can log in and see tenancy at work."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from faker import Faker

from hospitium.accounts.models import User
from hospitium.patients.models import Patient
from hospitium.tenancy.context import hospital_context
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


def setup_demo(*, patients: int = 40, seed: int = 7) -> list[Login]:
    """Create the demo hospitals and logins; return the logins (also saved, mode 0600)."""
    logins: list[Login] = []
    superuser_password = secrets.token_urlsafe(12)
    User.objects.create_superuser(
        "admin@hospitium.example", superuser_password, full_name="Platform admin"
    )
    logins.append(Login("platform", "", "admin@hospitium.example", superuser_password))
    fake = Faker()
    fake.seed_instance(seed)
    rng = random.Random(seed)
    for code, name in DEMO_HOSPITALS:
        email = f"admin@{code.lower()}.example"
        result = hospital_create(
            code=code,
            name=name,
            domains=[f"{code.lower()}.localhost"],
            admin_email=email,
        )
        assert result.generated_password is not None
        logins.append(Login("hospital", code, email, result.generated_password))
        with hospital_context(result.hospital):
            Patient.objects.bulk_create(
                Patient(
                    mrn=f"{code[:2]}{index:06d}",
                    given_name=fake.first_name(),
                    family_name=fake.last_name(),
                    birth_date=fake.date_between(dt.date(1935, 1, 1), dt.date(2024, 12, 31)),
                    sex=rng.choice(["female", "male"]),
                    registered_by_id=result.admin.pk if result.admin else None,
                )
                for index in range(1, patients + 1)
            )
    _write_credentials(logins)
    return logins
