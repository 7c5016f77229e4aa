"""Log lines are logfmt and carry the request id, the hospital code and the user id."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest
from rest_framework.authtoken.models import Token

from hospitium.core.logging import ContextFilter, LogfmtFormatter
from hospitium.tenancy.context import hospital_context

ALPHA = "alpha.example.test"


class Lines(logging.Handler):
    """Keeps every record as the production handler would write it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(ContextFilter())
        self.setFormatter(LogfmtFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def matching(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def pairs(line: str) -> dict[str, str]:
    """The key=value pairs of a logfmt line whose values before ``msg`` are unquoted."""
    head, _, msg = line.partition(" msg=")
    out = dict(item.split("=", 1) for item in head.split(" "))
    out["msg"] = msg
    return out


@pytest.fixture
def logging_urls(settings) -> None:
    settings.ROOT_URLCONF = "tests.core.urls_for_errors"


# --- context on every line -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["session", "token"])
def test_a_line_logged_in_a_request_carries_request_id_hospital_and_user(
    api, doctor_a, lines, logging_urls, how
):
    if how == "session":
        api.force_login(doctor_a)
    else:
        token = Token.objects.create(user=doctor_a)
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = api.get("/api/log-line/", HTTP_HOST=ALPHA, HTTP_X_REQUEST_ID="trace-0001")

    assert response.status_code == 200
    [line] = lines.matching("view says hello")
    fields = pairs(line)
    assert fields["request_id"] == "trace-0001"
    assert fields["hospital"] == "ALPHA"
    assert fields["user_id"] == str(doctor_a.pk)
    assert fields["level"] == "info"
    assert fields["logger"] == "tests.core.views"


@pytest.mark.django_db
def test_the_generated_request_id_in_a_line_is_the_one_in_the_response(
    api, doctor_a, lines, logging_urls
):
    api.force_login(doctor_a)
    response = api.get("/api/log-line/", HTTP_HOST=ALPHA)
    [line] = lines.matching("view says hello")
    assert pairs(line)["request_id"] == response["X-Request-ID"]


@pytest.mark.django_db
def test_djangos_line_about_an_error_response_carries_the_request_context(api, doctor_a, lines):
    api.force_login(doctor_a)
    response = api.get(
        "/api/patients/01900000-0000-7000-8000-000000000000/",
        HTTP_HOST=ALPHA,
        HTTP_X_REQUEST_ID="trace-0404",
    )
    assert response.status_code == 404

    [line] = lines.matching("Not Found: /api/patients/")
    fields = pairs(line)
    assert fields["request_id"] == "trace-0404"
    assert fields["hospital"] == "ALPHA"
    assert fields["user_id"] == str(doctor_a.pk)
    assert fields["level"] == "warning"


@pytest.mark.django_db
def test_djangos_line_about_an_unknown_host_carries_the_request_id(api, lines):
    response = api.get(
        "/api/hospital/", HTTP_HOST="nowhere.example.test", HTTP_X_REQUEST_ID="trace-nohost"
    )
    assert response.status_code == 404
    [line] = lines.matching("Not Found: /api/hospital/")
    fields = pairs(line)
    assert fields["request_id"] == "trace-nohost"
    assert fields["hospital"] == "-"


def test_a_line_logged_outside_a_request_has_dashes(lines):
    logging.getLogger("tests.outside").warning("no request here")
    [line] = lines.matching("no request here")
    fields = pairs(line)
    assert (fields["request_id"], fields["hospital"], fields["user_id"]) == ("-", "-", "-")


@pytest.mark.django_db
def test_a_line_logged_in_a_hospital_context_outside_a_request_names_the_hospital(
    hospital_a, lines
):
    with hospital_context(hospital_a):
        logging.getLogger("tests.outside").info("background work")
    [line] = lines.matching("background work")
    fields = pairs(line)
    assert (fields["request_id"], fields["hospital"], fields["user_id"]) == ("-", "ALPHA", "-")


@pytest.mark.django_db
def test_the_request_context_does_not_outlive_the_request(api, doctor_a, lines, logging_urls):
    api.force_login(doctor_a)
    assert api.get("/api/log-line/", HTTP_HOST=ALPHA).status_code == 200

    logging.getLogger("tests.outside").info("after the request")

    [line] = lines.matching("after the request")
    fields = pairs(line)
    assert (fields["request_id"], fields["hospital"], fields["user_id"]) == ("-", "-", "-")


# --- the formatter ---------------------------------------------------------------------------


def _format(msg: str, **extra: object) -> str:
    record = logging.LogRecord("tests.fmt", logging.INFO, __file__, 1, msg, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return LogfmtFormatter().format(record)


def test_the_formatter_writes_the_fields_in_a_fixed_order():
    line = _format("hello", request_id="r-12345678", hospital="ALPHA", user_id="7")
    keys = [item.split("=", 1)[0] for item in line.split(" ")]
    assert keys == ["ts", "level", "logger", "request_id", "hospital", "user_id", "msg"]
    assert line.endswith(
        " level=info logger=tests.fmt request_id=r-12345678 hospital=ALPHA user_id=7 msg=hello"
    )


def test_the_formatter_writes_dashes_for_a_record_without_context():
    assert " request_id=- hospital=- user_id=- " in _format("hello")


@pytest.mark.parametrize(
    ("message", "written"),
    [
        ("plain", "msg=plain"),
        ("two words", 'msg="two words"'),
        ("a=b", 'msg="a=b"'),
        ('say "hi"', 'msg="say \\"hi\\""'),
        ("", 'msg=""'),
        ("back\\slash", "msg=back\\slash"),
        ('back\\slash "q"', 'msg="back\\\\slash \\"q\\""'),
        ("line\nforged=1", 'msg="line\\nforged=1"'),
        ("cr\rreturn", 'msg="cr\\rreturn"'),
        ("tab\there", 'msg="tab\\there"'),
        ("esc\x1b[31mred", 'msg="esc\\u001b[31mred"'),
        ("sep\u2028line", 'msg="sep\\u2028line"'),
        ("café", "msg=café"),
    ],
)
def test_the_formatter_quotes_and_escapes_values(message, written):
    line = _format(message)
    assert line.endswith(" " + written)
    assert "\n" not in line
    assert "\r" not in line


def test_the_formatter_quotes_context_values_too():
    line = _format("x", hospital="has space", user_id="")
    assert ' hospital="has space" user_id="" ' in line


def test_the_formatter_puts_a_traceback_on_the_lines_after_the_record():
    try:
        raise ValueError("kaput")
    except ValueError:
        record = logging.LogRecord(
            "tests.fmt", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    first, *rest = LogfmtFormatter().format(record).split("\n")
    assert first.endswith(" msg=failed")
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: kaput"
