"""Demo hospitals: provision DEMO_01, DEMO_02, … (each with an admin) and fill each."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from hospitium.accounts.models import Membership, Role
from hospitium.core.errors import ValidationFailed
from hospitium.demo.generator import DemoResult, demo_fill, validate_size
from hospitium.tenancy.errors import HospitalNotFound
from hospitium.tenancy.models import Domain, Hospital
from hospitium.tenancy.provisioning import hospital_create

_DEMO_CODE = re.compile(r"DEMO_(\d+)")


@dataclass
class DemoHospital:
    code: str
    host: str
    admin_email: str
    #: Shown once; None when the admin account already existed.
    admin_password: str | None
    result: DemoResult


def next_demo_codes(count: int) -> list[tuple[str, str]]:
    """The next ``count`` free (code, host) pairs: DEMO_01 / demo-01.localhost, …"""
    used = {
        int(m.group(1))
        for c in Hospital.objects.values_list("code", flat=True)
        if (m := _DEMO_CODE.fullmatch(c))
    }
    hosts = set(Domain.objects.filter(host__startswith="demo-").values_list("host", flat=True))
    pairs: list[tuple[str, str]] = []
    number = 0
    while len(pairs) < count:
        number += 1
        code, host = f"DEMO_{number:02d}", f"demo-{number:02d}.localhost"
        if number not in used and host not in hosts:
            pairs.append((code, host))
    return pairs


def demo_hospitals_create(
    *,
    hospitals: int,
    patients: int,
    years: int = 2,
    seed: int = 1,
    today: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[DemoHospital]:
    """Provision ``hospitals`` demo hospitals, each with an admin, and fill each one.

    Raises ValidationFailed (nothing created) for a bad count or size.
    """
    patients, years, seed = validate_size(patients=patients, years=years, seed=seed)
    if not isinstance(hospitals, int) or hospitals < 1:
        raise ValidationFailed(
            f"--hospitals must be at least 1; got {hospitals}.",
            fields={"hospitals": ["At least 1."]},
        )
    made: list[DemoHospital] = []
    for index, (code, host) in enumerate(next_demo_codes(hospitals)):
        email = f"admin@{host.split('.')[0]}.example"
        created = hospital_create(
            code=code, name=f"Demo Hospital {code[5:]}", domains=[host], admin_email=email
        )
        admin_id = created.admin.pk if created.admin else None
        result = demo_fill(
            hospital=created.hospital,
            patients=patients,
            years=years,
            seed=seed + index,
            user_id=admin_id,
            today=today,
            progress=progress,
        )
        made.append(DemoHospital(code, host, email, created.generated_password, result))
    return made


def hospital_admin_id(code: str) -> int | None:
    """The id of one admin of the hospital (the first by id), for PlatformRef fields; or None.

    Raises HospitalNotFound for an unknown code.
    """
    hospital = Hospital.objects.filter(code=code).first()
    if hospital is None:
        raise HospitalNotFound(f"There is no hospital {code}.")
    return (
        Membership.objects.filter(hospital=hospital, role=Role.ADMIN)
        .order_by("user_id")
        .values_list("user_id", flat=True)
        .first()
    )
