from __future__ import annotations

from pathlib import Path

import pytest

from hospitium.accounts.roles import MATRIX, READ, WRITE, allowed, as_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"


def test_the_documented_matrix_is_the_one_the_code_enforces():
    text = DOC.read_text()
    start = text.index("-->\n", text.index("<!-- matrix:start")) + len("-->\n")
    end = text.index("<!-- matrix:end -->")
    assert text[start:end].strip() == as_markdown().strip()


def test_whoever_may_write_a_resource_may_also_read_it():
    for resource, rule in MATRIX.items():
        assert rule[WRITE] <= rule[READ], resource


def test_analysts_never_read_patient_records():
    for resource in (
        "patients",
        "visits",
        "diagnoses",
        "treatments",
        "admissions",
        "invoices",
        "feedback",
        "report-rows",
    ):
        assert not allowed(resource, READ, {"analyst"})


def test_an_unknown_resource_is_a_programming_error():
    with pytest.raises(KeyError):
        allowed("nonsense", READ, {"admin"})
