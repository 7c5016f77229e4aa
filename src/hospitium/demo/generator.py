"""Fill a hospital with realistic synthetic data, deterministic per seed.

``demo_fill`` plans the hospital (departments, practitioners, wards and beds sized to the number
of patients), writes the patients in chunks, then walks the calendar day by day (see ``care``):
appointments, visits with ICD-10 diagnoses, treatments and follow-ups, admissions, invoices with
payments, and feedback. Rows are written in batches (``writer``), so memory stays bounded: what
is kept in memory is one small record per patient and per bed.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.utils import timezone
from faker import Faker

from hospitium.admissions.models import Ward
from hospitium.audit.models import AuditEvent
from hospitium.billing.selectors import hospital_currency
from hospitium.campaigns.models import Campaign
from hospitium.core.errors import ValidationFailed
from hospitium.demo import catalog
from hospitium.demo.care import CareSimulation, Clinician, PatientBook
from hospitium.demo.tables import Tables
from hospitium.demo.writer import IdSource, Writer
from hospitium.patients.models import Patient
from hospitium.staff.models import Department
from hospitium.tenancy.context import HospitalRef, hospital_context

if TYPE_CHECKING:
    from hospitium.tenancy.models import Hospital

logger = logging.getLogger(__name__)

#: Ages by band (lower, upper, share): roughly a European population pyramid.
AGE_BANDS = (
    (0, 5, 0.05),
    (5, 15, 0.10),
    (15, 25, 0.11),
    (25, 45, 0.26),
    (45, 65, 0.27),
    (65, 80, 0.15),
    (80, 100, 0.06),
)
SEXES = (("female", 0.505), ("male", 0.488), ("other", 0.004), ("unknown", 0.003))
PATIENT_CHUNK = 10_000
DEMO_OBJECT = "demo"


@dataclass
class DemoResult:
    """What one fill wrote: rows per model label, and how long it took."""

    hospital: str
    seed: int
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def validate_size(*, patients: object, years: object, seed: object = 0) -> tuple[int, int, int]:
    """Return (patients, years, seed) as ints; raise ValidationFailed when one is not valid."""
    values = []
    for name, value, low in (("patients", patients, 1), ("years", years, 1), ("seed", seed, 0)):
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValidationFailed(
                f"--{name} must be a whole number, not {value!r}.", fields={name: ["Not a number."]}
            ) from None
        if number < low:
            raise ValidationFailed(
                f"--{name} must be at least {low}; got {number}.",
                fields={name: [f"At least {low}."]},
            )
        values.append(number)
    if values[1] > 50:
        raise ValidationFailed("--years must be at most 50.", fields={"years": ["At most 50."]})
    return values[0], values[1], values[2]


def demo_fill(
    *,
    hospital: Hospital | HospitalRef | str,
    patients: int,
    years: int = 2,
    seed: int = 1,
    user_id: int | None = None,
    today: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Add ``patients`` synthetic patients and ``years`` of their care to a hospital.

    Additive: a hospital that already has data keeps it (departments are reused by name; new
    wards and campaigns get distinct names). Raises ValidationFailed for a bad size,
    InvalidPlatformReference for an unknown ``user_id``, HospitalNotFound for an unknown code.
    """
    patients, years, seed = validate_size(patients=patients, years=years, seed=seed)
    if user_id is not None:
        Patient._meta.get_field("registered_by").ensure_exists(user_id)
    # Filled up to the real today, the care that happened is what happened before the real
    # now (not before noon: a morning's run made visits later than now). A given ``today``
    # ends at its noon, so that a seed gives the same data on every run.
    now: dt.datetime | None = None
    if today is None:
        now = timezone.now()
        today = timezone.localdate(now)
    started = time.perf_counter()
    with hospital_context(hospital) as ref:
        result = DemoResult(hospital=ref.code, seed=seed)
        run = AuditEvent.objects.filter(object_type=DEMO_OBJECT).count() + 1
        _audit(
            run, user_id, {"phase": "started", "patients": patients, "years": years, "seed": seed}
        )
        tables = Tables.build()
        writer = Writer(tables.ordered())
        build = _Build(
            tables=tables,
            writer=writer,
            number=run,
            seed=seed,
            patients=patients,
            years=years,
            today=today,
            now=now,
            user_id=user_id,
            say=progress or (lambda message: None),
        )
        try:
            build.run()
        except BaseException:
            writer.close(discard=True)
            raise
        writer.close()
        result.counts = writer.counts()
        result.counts[AuditEvent._meta.label] = 2
        _audit(run, user_id, {"phase": "finished", "rows": result.rows, "seed": seed})
    result.seconds = time.perf_counter() - started
    logger.info("demo data for %s: %s rows in %.1f s", result.hospital, result.rows, result.seconds)
    return result


def _audit(run: int, user_id: int | None, detail: dict[str, object]) -> None:
    AuditEvent.objects.create(
        at=timezone.now(),
        actor_id=user_id,
        actor_label="demo generator",
        action=AuditEvent.Action.CREATE,
        object_type=DEMO_OBJECT,
        object_id=str(run),
        detail=detail,
    )


def _ascii(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


@dataclass
class _Build:
    tables: Tables
    writer: Writer
    number: int
    seed: int
    patients: int
    years: int
    today: dt.date
    now: dt.datetime | None
    user_id: int | None
    say: Callable[[str], None]

    def run(self) -> None:
        rng = random.Random(self.seed)
        fake = Faker("en_GB")
        fake.seed_instance(self.seed)
        ids = IdSource()
        self.start = dt.date(self.today.year - self.years, self.today.month, 1)
        simulation = CareSimulation(
            rng=rng,
            ids=ids,
            tables=self.tables,
            writer=self.writer,
            run=self.number,
            start=self.start,
            today=self.today,
            patients=self.patients,
            currency=hospital_currency(),
            now=self.now,
        )
        clinicians = self._staff(rng, fake, ids, simulation.staff_needed())
        beds = self._beds(ids, simulation.beds_needed())
        self.writer.flush()
        self.say(f"{len(clinicians)} practitioners, {len(beds)} beds")
        book = self._patients(rng, fake, ids)
        self.say(f"{self.patients} patients")
        self._campaigns(rng, ids, book)
        simulation.simulate(clinicians=clinicians, beds=beds, book=book, say=self.say)

    # -- staff and beds -------------------------------------------------------------------

    def _staff(
        self, rng: random.Random, fake: Faker, ids: IdSource, needed: dict[str, int]
    ) -> list[Clinician]:
        existing = dict(Department.objects.values_list("name", "id"))
        now = self._stamp()
        clinicians: list[Clinician] = []
        plan = [
            (name, kind, specialties, max(1, round(needed["doctor"] * share)))
            for name, kind, specialties, share in catalog.DEPARTMENTS
        ]
        plan.append((*catalog.DENTISTRY, needed["dentist"]))
        plan.append((*catalog.NURSING_DEPT, needed["nurse"]))
        for name, kind, specialties, count in plan:
            if name in existing:
                department = existing[name].int
            else:
                department = ids()
                self.tables.department.rows.append((department, now, now, name))
            for _ in range(count):
                pid = ids()
                title = {"doctor": "Dr ", "dentist": "Dr ", "nurse": ""}[kind]
                display = f"{title}{fake.first_name()} {fake.last_name()}"
                if kind == "nurse":
                    display += ", RN"
                specialty = rng.choice(specialties)
                self.tables.practitioner.rows.append(
                    (pid, now, now, display, kind, specialty, department, None)
                )
                clinicians.append(Clinician(pid, kind, name, name == "Emergency Medicine"))
        return clinicians

    def _beds(self, ids: IdSource, needed: int) -> list[int]:
        taken = set(Ward.objects.values_list("name", flat=True))
        base = sum(rooms * per_room for _name, rooms, per_room in catalog.WARDS)
        scale = max(needed / base, 0.15)
        now = self._stamp()
        beds: list[int] = []
        for name, rooms, per_room in catalog.WARDS:
            ward_name = name
            suffix = 2
            while ward_name in taken:
                ward_name, suffix = f"{name} {suffix}", suffix + 1
            ward = ids()
            self.tables.ward.rows.append((ward, now, now, ward_name))
            room_count = max(1, round(rooms * scale))
            for room_number in range(1, room_count + 1):
                room = ids()
                self.tables.room.rows.append((room, now, now, ward, f"{room_number:02d}"))
                for label in "ABCDEF"[:per_room]:
                    bed = ids()
                    self.tables.bed.rows.append((bed, now, now, room, label, True))
                    beds.append(bed)
        return beds

    # -- patients ---------------------------------------------------------------------------

    def _patients(self, rng: random.Random, fake: Faker, ids: IdSource) -> PatientBook:
        female = [fake.first_name_female() for _ in range(400)]
        male = [fake.first_name_male() for _ in range(400)]
        family = [fake.last_name() for _ in range(1500)]
        streets = [fake.street_address() for _ in range(800)]
        towns = [(fake.city(), fake.postcode()) for _ in range(120)]
        domains = ("example.com", "example.org", "example.net", "mail.example")
        band_weights = [share for _low, _high, share in AGE_BANDS]
        sex_names = [name for name, _ in SEXES]
        sex_weights = [share for _, share in SEXES]
        book = PatientBook(today=self.today.toordinal())
        table = self.tables.patient
        prefix = f"DM{self.number:02d}-"
        for index in range(self.patients):
            low, high, _share = rng.choices(AGE_BANDS, band_weights)[0]
            age_days = rng.randrange(low * 365, high * 365 + 1)
            birth = self.today - dt.timedelta(days=age_days + 1)
            sex = rng.choices(sex_names, sex_weights)[0]
            if sex == "female" or (sex != "male" and rng.random() < 0.5):
                given = rng.choice(female)
            else:
                given = rng.choice(male)
            surname = rng.choice(family)
            phone = f"+44 7{rng.randrange(100, 1000)} {rng.randrange(100000, 1000000)}"
            email = ""
            if rng.random() < 0.72:
                number = rng.randrange(1, 100)
                email = f"{_ascii(given)}.{_ascii(surname)}{number}@{rng.choice(domains)}"
            address = ""
            if rng.random() < 0.93:
                town, postcode = rng.choice(towns)
                address = f"{rng.choice(streets)}\n{town}\n{postcode}"
            old = age_days > 75 * 365
            roll = rng.random()
            status = "active"
            if roll < (0.04 if old else 0.003):
                status = "deceased"
            elif roll < 0.06:
                status = "inactive"
            registered = dt.datetime.combine(
                self.start - dt.timedelta(days=rng.randrange(1, 3650)), dt.time(9)
            ) + dt.timedelta(minutes=rng.randrange(0, 480))
            registered = max(registered, dt.datetime.combine(birth, dt.time(12)))
            pid = ids()
            table.rows.append(
                (
                    pid,
                    registered,
                    registered,
                    f"{prefix}{index + 1:07d}",
                    given,
                    surname,
                    birth,
                    sex,
                    phone,
                    email,
                    address,
                    status,
                    self.user_id,
                )
            )
            book.add(pid, birth, sex, status == "active")
            if len(table.rows) >= PATIENT_CHUNK:
                self.writer.flush()
        self.writer.flush()
        book.freeze()
        return book

    # -- campaigns --------------------------------------------------------------------------

    def _campaigns(self, rng: random.Random, ids: IdSource, book: PatientBook) -> None:
        taken = set(Campaign.objects.values_list("name", flat=True))
        table = self.tables.campaign
        now = dt.datetime.combine(self.today, dt.time(12))
        for year in range(self.start.year, self.today.year + 1):
            for template, kind, begin, end, min_age, max_age, uptake in catalog.CAMPAIGNS:
                starts = dt.date(year, *begin)
                ends = dt.date(year, *end)
                if starts < self.start or starts > self.today:
                    continue
                name = template.format(year=year)
                if name in taken:
                    name = f"{name} (run {self.number})"
                eligible = book.aged_between(starts, min_age, max_age)
                count = round(len(eligible) * uptake * rng.uniform(0.8, 1.1))
                campaign = ids()
                created = dt.datetime.combine(starts - dt.timedelta(days=30), dt.time(10))
                target = max(1, round(len(eligible) * uptake * 1.2))
                table.rows.append((campaign, created, created, name, kind, starts, ends, target))
                last = min(ends, self.today)
                span = max((last - starts).days, 0)
                finished = ends < self.today
                for index in rng.sample(eligible, min(count, len(eligible))):
                    joined = dt.datetime.combine(
                        starts + dt.timedelta(days=rng.randint(0, span)), dt.time(8)
                    ) + dt.timedelta(minutes=rng.randrange(0, 600))
                    joined = min(joined, now)
                    roll = rng.random()
                    if finished:
                        outcome = (
                            "completed"
                            if roll < 0.66
                            else "dropped"
                            if roll < 0.77
                            else "no_response"
                        )
                    else:
                        outcome = "enrolled" if roll < 0.7 else "completed"
                    self.tables.participation.rows.append(
                        (ids(), joined, joined, campaign, book.ids[index], joined, outcome)
                    )
                self.writer.maybe_flush()

    def _stamp(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(8)) - dt.timedelta(days=30)
