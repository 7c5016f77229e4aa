"""The day-by-day simulation of care: clinic appointments on a slot grid per practitioner (so
active bookings never overlap), emergency visits around the clock, diagnoses, treatments,
admissions into beds that are free (so stays never overlap per bed or per patient), invoices with
payments that never exceed the total, and feedback."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
import random
import zoneinfo
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from hospitium.demo import catalog
from hospitium.demo.catalog import Condition
from hospitium.demo.tables import Tables
from hospitium.demo.writer import IdSource, Writer

# Visits per patient and year, by where they happen.
RATES = {"doctor": 2.1, "emergency": 0.32, "dentist": 0.6, "nurse": 0.5}
SLOT_MINUTES = {"doctor": 20, "dentist": 30, "nurse": 15}
#: Clinic sessions (local time): 08:00–12:00 and 13:00–17:00; demand by hour within them.
HOUR_FILL = {8: 0.8, 9: 1.1, 10: 1.2, 11: 1.1, 13: 0.85, 14: 1.0, 15: 1.0, 16: 0.85}
WEEKDAY_FILL = (1.12, 1.02, 1.0, 0.98, 0.88)
#: Emergency arrivals by hour of day (local time).
ER_HOURS = (
    *(0.5, 0.4, 0.3, 0.25, 0.25, 0.3, 0.5, 0.8, 1.1, 1.4, 1.6, 1.6),
    *(1.5, 1.4, 1.4, 1.4, 1.5, 1.6, 1.7, 1.6, 1.4, 1.1, 0.9, 0.7),
)
UTILISATION = ((5, 2.2), (15, 0.9), (45, 0.8), (65, 1.2), (80, 2.0), (200, 2.6))
NO_SHOW, CANCELLED = 0.07, 0.08
FUTURE_DAYS = 28
OPEN = dt.datetime.max


@dataclass
class Clinician:
    id: int
    kind: str
    department: str
    emergency: bool = False


@dataclass
class PatientBook:
    """One compact record per patient: id, birth (ordinal), and who is likely to come."""

    today: int
    ids: list[int] = field(default_factory=list)
    births: array[int] = field(default_factory=lambda: array("l"))
    weights: list[float] = field(default_factory=list)
    cumulative: dict[str, list[float]] = field(default_factory=dict)
    members: dict[str, list[int]] = field(default_factory=dict)

    def add(self, pid: int, birth: dt.date, sex: str, active: bool) -> None:
        self.ids.append(pid)
        self.births.append(birth.toordinal())
        age = (self.today - birth.toordinal()) // 365
        weight = next(w for limit, w in UTILISATION if age < limit) if active else 0.0
        self.weights.append(weight * (1.15 if sex == "female" else 1.0))

    def freeze(self) -> None:
        """Prepare the cumulative weights that ``pick`` draws from."""
        ages = [(self.today - birth) // 365 for birth in self.births]
        everyone = list(range(len(self.ids)))
        groups = {
            "medical": (everyone, self.weights),
            "child": (
                [i for i in everyone if ages[i] < 16],
                [self.weights[i] for i in everyone if ages[i] < 16],
            ),
            "dental": (
                [i for i in everyone if ages[i] >= 2],
                [1.0 if self.weights[i] else 0.0 for i in everyone if ages[i] >= 2],
            ),
        }
        for name, (members, weights) in groups.items():
            if not members or not sum(weights):
                members, weights = groups["medical"]
            self.members[name] = members
            self.cumulative[name] = list(itertools.accumulate(weights))
        self.members["nurse"], self.cumulative["nurse"] = (
            self.members["medical"],
            self.cumulative["medical"],
        )

    def pick(self, rng: random.Random, group: str) -> int:
        cumulative = self.cumulative[group]
        index = bisect.bisect(cumulative, rng.random() * cumulative[-1])
        return self.members[group][min(index, len(cumulative) - 1)]

    def aged_between(self, on: dt.date, low: int, high: int) -> list[int]:
        day = on.toordinal()
        return [
            i
            for i, birth in enumerate(self.births)
            if self.weights[i] and low <= (day - birth) // 365 <= high
        ]


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, count, product = math.exp(-lam), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _money_split(rng: random.Random, cents: int) -> int:
    return max(1, min(cents - 1, round(cents * rng.uniform(0.2, 0.8))))


class CareSimulation:
    """Walks the calendar from ``start`` to a few weeks after ``today`` and writes care rows."""

    def __init__(
        self,
        *,
        rng: random.Random,
        ids: IdSource,
        tables: Tables,
        writer: Writer,
        run: int,
        start: dt.date,
        today: dt.date,
        patients: int,
        currency: str,
        now: dt.datetime | None = None,
    ) -> None:
        self.rng, self.ids, self.t, self.writer = rng, ids, tables, writer
        self.start, self.today, self.patients = start, today, patients
        self.currency = currency
        self.zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        # What has happened by now is done, what comes later is booked: the real time when the
        # demo fills up to the real today, else noon of the given day (the same data each run).
        # (naive UTC, as every time here)
        self.now = (
            now.astimezone(dt.UTC).replace(tzinfo=None)
            if now is not None
            else self._utc(dt.datetime.combine(today, dt.time(12)))
        )
        self.invoice_prefix = f"INV-{run:02d}-"
        self.invoice_count = 0
        self._condition_cache: dict[tuple[str, int, int], tuple[list[Condition], list[float]]] = {}
        self.bed_free: list[dt.datetime] = []
        self.patient_free: dict[int, dt.datetime] = {}

    # -- sizing -------------------------------------------------------------------------------

    def _per_day(self, kind: str) -> float:
        return self.patients * RATES[kind] / 250 / (1 - NO_SHOW - CANCELLED)

    def _slots(self, kind: str) -> int:
        return 8 * 60 // SLOT_MINUTES[kind]

    def staff_needed(self) -> dict[str, int]:
        clinic = {
            kind: max(1, math.ceil(self._per_day(kind) / (self._slots(kind) * 0.75)))
            for kind in ("doctor", "dentist", "nurse")
        }
        emergency_share = next(s for n, *_r, s in catalog.DEPARTMENTS if n == "Emergency Medicine")
        clinic["doctor"] = max(
            len(catalog.DEPARTMENTS), round(clinic["doctor"] / (1 - emergency_share))
        )
        return clinic

    def beds_needed(self) -> int:
        admissions_per_day = self.patients * RATES["emergency"] * 0.2 / 365
        return max(4, math.ceil(admissions_per_day * 4.5 / 0.8))

    # -- the calendar ---------------------------------------------------------------------------

    def simulate(
        self,
        *,
        clinicians: list[Clinician],
        beds: list[int],
        book: PatientBook,
        say: Callable[[str], None],
    ) -> None:
        self.book, self.beds = book, beds
        self.bed_free = [dt.datetime.min] * len(beds)
        by_kind: dict[str, list[Clinician]] = {}
        for clinician in clinicians:
            key = "emergency" if clinician.emergency else clinician.kind
            by_kind.setdefault(key, []).append(clinician)
        fill = {
            kind: self._per_day(kind) / (len(by_kind[kind]) * self._slots(kind))
            for kind in ("doctor", "dentist", "nurse")
        }
        # Future bookings first: the database's overlap check on an active booking scans the
        # practitioner's earlier rows, so active rows written before the history stay cheap.
        future = self._days(self.today + dt.timedelta(days=1), FUTURE_DAYS)
        past = self._days(self.start, (self.today - self.start).days + 1)
        for day in itertools.chain(future, past):
            midnight = self._utc(dt.datetime.combine(day, dt.time(0)))
            weekday = day.weekday()
            volume = catalog.VOLUME[day.month - 1]
            if weekday < 5:
                for kind in ("doctor", "dentist", "nurse"):
                    share = fill[kind] * volume * WEEKDAY_FILL[weekday]
                    for clinician in by_kind[kind]:
                        self._clinic_day(clinician, day, midnight, share)
            if day <= self.today:
                self._emergency_day(by_kind["emergency"], day, midnight, volume)
            self.writer.maybe_flush()
            if day.day == 1:
                say(f"{day:%Y-%m}")
        self.writer.flush()

    @staticmethod
    def _days(first: dt.date, count: int) -> list[dt.date]:
        return [first + dt.timedelta(days=offset) for offset in range(count)]

    def _utc(self, local: dt.datetime) -> dt.datetime:
        """Naive local time to naive UTC (the offset at noon holds for the whole day)."""
        offset = self.zone.utcoffset(local.replace(hour=12, minute=0))
        return local - offset if offset else local

    def _clinic_day(
        self, clinician: Clinician, day: dt.date, midnight: dt.datetime, share: float
    ) -> None:
        rng, minutes = self.rng, SLOT_MINUTES[clinician.kind]
        group = {"dentist": "dental", "nurse": "nurse"}.get(clinician.kind, "medical")
        if clinician.department == "Paediatrics":
            group = "child"
        for hour, factor in HOUR_FILL.items():
            for minute in range(0, 60, minutes):
                if rng.random() >= share * factor:
                    continue
                starts = midnight + dt.timedelta(hours=hour, minutes=minute)
                ends = starts + dt.timedelta(minutes=minutes)
                patient = self.book.pick(rng, group)
                booked = starts - dt.timedelta(days=rng.randint(1, 30), minutes=rng.randrange(600))
                roll = rng.random()
                if starts >= self.now:
                    status = "cancelled" if roll < CANCELLED else "booked"
                elif roll < CANCELLED:
                    status = "cancelled"
                elif roll < CANCELLED + NO_SHOW:
                    status = "noshow"
                elif starts >= self.now - dt.timedelta(minutes=90):
                    status = "arrived"
                else:
                    status = "fulfilled"
                condition = self._condition(clinician, patient, day)
                updated = ends if status not in ("booked", "arrived") else booked
                self.t.appointment.rows.append(
                    (
                        self.ids(),
                        booked,
                        min(updated, self.now),
                        self.book.ids[patient],
                        clinician.id,
                        starts,
                        ends,
                        status,
                        condition.complaints[0],
                    )
                )
                if status == "fulfilled":
                    began = starts + dt.timedelta(minutes=rng.randrange(0, 12))
                    ended = began + dt.timedelta(minutes=rng.randrange(minutes // 2, minutes + 10))
                    self._visit(clinician, patient, condition, began, ended, day, emergency=False)

    def _emergency_day(
        self, doctors: list[Clinician], day: dt.date, midnight: dt.datetime, volume: float
    ) -> None:
        rng = self.rng
        expected = self.patients * RATES["emergency"] / 365 * volume
        for _ in range(_poisson(rng, expected)):
            hour = rng.choices(range(24), ER_HOURS)[0]
            began = midnight + dt.timedelta(hours=hour, minutes=rng.randrange(60))
            ended = began + dt.timedelta(minutes=rng.randrange(30, 300))
            if ended >= self.now:
                continue
            clinician = rng.choice(doctors)
            patient = self.book.pick(rng, "medical")
            condition = self._condition(clinician, patient, day)
            self._visit(clinician, patient, condition, began, ended, day, emergency=True)

    # -- conditions -----------------------------------------------------------------------------

    def _condition(self, clinician: Clinician, patient: int, day: dt.date) -> Condition:
        age = (day.toordinal() - self.book.births[patient]) // 365
        band = 0 if age < 16 else 1 if age < 65 else 2
        key = (clinician.department, band, day.month)
        cached = self._condition_cache.get(key)
        if cached is None:
            cached = self._condition_table(clinician, band, day.month)
            self._condition_cache[key] = cached
        conditions, cumulative = cached
        index = bisect.bisect(cumulative, self.rng.random() * cumulative[-1])
        return conditions[min(index, len(conditions) - 1)]

    @staticmethod
    def _condition_table(
        clinician: Clinician, band: int, month: int
    ) -> tuple[list[Condition], list[float]]:
        source = {"dentist": catalog.DENTAL, "nurse": catalog.NURSING}.get(
            clinician.kind, catalog.MEDICAL
        )
        focus = catalog.DEPARTMENT_FOCUS.get(clinician.department, ())
        conditions, weights = [], []
        for condition in source:
            weight = condition.weights[band] * catalog.SEASON[condition.group][month - 1]
            if focus:
                weight *= 12 if condition.code in focus else 0.3
            if clinician.emergency:
                weight *= (1 + 8 * condition.admit) * (2 if condition.group == "injury" else 1)
                weight *= 0.2 if condition.course == "preventive" else 1
            if weight > 0:
                conditions.append(condition)
                weights.append(weight)
        return conditions, list(itertools.accumulate(weights))

    # -- a visit and what follows it -------------------------------------------------------------

    def _visit(
        self,
        clinician: Clinician,
        patient: int,
        condition: Condition,
        began: dt.datetime,
        ended: dt.datetime,
        day: dt.date,
        *,
        emergency: bool,
    ) -> None:
        rng, ids, t = self.rng, self.ids, self.t
        visit = ids()
        kind = "dental" if clinician.kind == "dentist" else "medical"
        patient_id = self.book.ids[patient]
        complaint = rng.choice(condition.complaints)
        t.visit.rows.append(
            (visit, began, ended, patient_id, clinician.id, kind, began, ended, complaint)
        )
        t.diagnosis.rows.append(
            (ids(), ended, ended, visit, condition.code, condition.description, True)
        )
        if rng.random() < 0.22:
            other = self._condition(clinician, patient, day)
            if other.code != condition.code:
                t.diagnosis.rows.append(
                    (ids(), ended, ended, visit, other.code, other.description, False)
                )
        lines = [
            (
                "Emergency attendance" if emergency else "Consultation",
                1,
                catalog.CONSULTATION_CENTS["emergency" if emergency else clinician.kind],
            )
        ]
        for procedure, price in rng.sample(
            condition.procedures, 2 if len(condition.procedures) > 1 and rng.random() < 0.2 else 1
        ):
            self._treatment(visit, condition, procedure, day, ended)
            if price:
                lines.append((procedure, 1, price))
        self._invoice(
            patient_id, visit, None, ended + dt.timedelta(hours=rng.randrange(1, 72)), lines
        )
        if rng.random() < 0.21:
            self._feedback(visit, ended, emergency)
        chance = condition.admit if emergency else condition.admit * 0.08
        if chance and rng.random() < chance:
            self._admit(patient, ended + dt.timedelta(minutes=rng.randrange(10, 90)), condition)

    def _treatment(
        self, visit: int, condition: Condition, procedure: str, day: dt.date, ended: dt.datetime
    ) -> None:
        rng = self.rng
        roll, outcome = rng.random(), ""
        for name, rate in zip(
            catalog.OUTCOME_NAMES, catalog.OUTCOMES[condition.course], strict=True
        ):
            if roll < rate:
                outcome = name
                break
            roll -= rate
        if (self.today - day).days < 3 and rng.random() < 0.5:
            outcome = ""  # too early to tell
        follow_up, kept = None, None
        required = rng.random() < condition.follow_up
        if required:
            follow_up = day + dt.timedelta(days=rng.randint(7, 42))
            if follow_up < self.today and rng.random() < 0.72:
                kept = min(follow_up + dt.timedelta(days=rng.randint(0, 3)), self.today)
        self.t.treatment.rows.append(
            (self.ids(), ended, ended, visit, procedure, day, outcome, required, follow_up, kept)
        )

    def _invoice(
        self,
        patient_id: int,
        visit: int | None,
        admission: int | None,
        issued: dt.datetime,
        lines: list[tuple[str, int, int]],
    ) -> None:
        rng, ids, t = self.rng, self.ids, self.t
        invoice = ids()
        self.invoice_count += 1
        number = f"{self.invoice_prefix}{self.invoice_count:08d}"
        created = issued - dt.timedelta(hours=1)
        status = "draft" if issued > self.now else "cancelled" if rng.random() < 0.02 else "issued"
        t.invoice.rows.append(
            (
                invoice,
                created,
                min(issued, self.now) if status != "draft" else created,
                number,
                patient_id,
                visit,
                admission,
                status,
                issued if status != "draft" else None,
                self.currency,
            )
        )
        total = 0
        for description, quantity, cents in lines:
            t.line.rows.append((ids(), created, created, invoice, description, quantity, cents))
            total += quantity * cents
        if status != "issued":
            return
        roll = rng.random()
        if roll < 0.6:
            amounts = [total] if rng.random() < 0.8 else [_money_split(rng, total)]
            if len(amounts) == 1 and amounts[0] < total:
                amounts.append(total - amounts[0])
        elif roll < 0.8:
            amounts = [_money_split(rng, total)]
        else:
            return
        paid = issued
        for amount in amounts:
            paid = paid + dt.timedelta(days=rng.randint(0, 30), hours=rng.randrange(1, 24))
            if paid > self.now or amount <= 0:
                return
            method = rng.choices(
                [m for m, _ in catalog.PAYMENT_METHODS], [w for _, w in catalog.PAYMENT_METHODS]
            )[0]
            t.payment.rows.append((ids(), paid, paid, invoice, amount, paid, method))

    def _feedback(self, visit: int, ended: dt.datetime, emergency: bool) -> None:
        rng = self.rng
        submitted = ended + dt.timedelta(minutes=rng.randrange(20, 7 * 24 * 60))
        if submitted > self.now:
            return
        weights = catalog.RATING_WEIGHTS
        if emergency:
            weights = (0.07, 0.09, 0.17, 0.33, 0.34)
        rating = rng.choices((1, 2, 3, 4, 5), weights)[0]
        comment = rng.choice(catalog.COMMENTS[rating])
        response, responded = "", None
        if rng.random() < {1: 0.8, 2: 0.7, 3: 0.45}.get(rating, 0.2):
            hours = min(rng.lognormvariate(math.log(20), 0.9), 24 * 30)
            candidate = submitted + dt.timedelta(hours=hours)
            if candidate <= self.now:
                responded = candidate
                response = (
                    catalog.RESPONSES[2] if rating >= 4 else rng.choice(catalog.RESPONSES[:2])
                )
        self.t.feedback.rows.append(
            (
                self.ids(),
                submitted,
                responded or submitted,
                visit,
                rating,
                comment,
                submitted,
                response,
                responded,
            )
        )

    def _admit(self, patient: int, admitted: dt.datetime, condition: Condition) -> None:
        rng = self.rng
        if admitted >= self.now or self.patient_free.get(patient, dt.datetime.min) > admitted:
            return
        count = len(self.beds)
        first = rng.randrange(count)
        for step in range(count):
            slot = (first + step) % count
            if self.bed_free[slot] <= admitted:
                break
        else:
            return  # the hospital is full: the patient is sent elsewhere
        days = min(max(rng.lognormvariate(math.log(3.5), 0.6), 0.3), 30.0)
        discharged: dt.datetime | None = admitted + dt.timedelta(days=days)
        if discharged is not None and discharged >= self.now:
            discharged = None
        free = discharged or OPEN
        self.bed_free[slot] = free
        self.patient_free[patient] = free
        admission = self.ids()
        patient_id = self.book.ids[patient]
        self.t.admission.rows.append(
            (
                admission,
                admitted,
                discharged or admitted,
                patient_id,
                self.beds[slot],
                admitted,
                discharged,
                condition.description[:300],
            )
        )
        if discharged is not None:
            nights = max(1, (discharged.date() - admitted.date()).days)
            lines = [("Bed day", nights, catalog.BED_DAY_CENTS), ("Nursing care", nights, 9500)]
            lines += [(name, 1, price) for name, price in condition.procedures if price]
            issued = discharged + dt.timedelta(hours=rng.randrange(2, 48))
            self._invoice(patient_id, None, admission, issued, lines)
