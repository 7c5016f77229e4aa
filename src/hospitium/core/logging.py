"""Log lines as logfmt, each with request id, hospital code and user id."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from hospitium.core.context import request_id_var, user_id_var


class ContextFilter(logging.Filter):
    """Adds request_id, hospital and user_id from the current context to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Imported lazily: the logging config is loaded before the apps are ready.
        from hospitium.tenancy.context import current_hospital_or_none

        hospital = current_hospital_or_none()
        record.request_id = request_id_var.get()
        record.hospital = hospital.code if hospital else "-"
        record.user_id = user_id_var.get()
        return True


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    # Other control and separator characters (ESC, U+2028, ...) could break or forge a line.
    return ch if ch.isprintable() else f"\\u{ord(ch):04x}"


def _quote(value: object) -> str:
    text = str(value)
    if text == "" or any(ch in ' ="' or not ch.isprintable() for ch in text):
        return '"' + "".join(_escape(ch) for ch in text) + '"'
    return text


class LogfmtFormatter(logging.Formatter):
    """Formats a record as one logfmt line; the traceback, if any, follows on its own lines."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        pairs = [
            ("ts", stamp),
            ("level", record.levelname.lower()),
            ("logger", record.name),
            ("request_id", getattr(record, "request_id", "-")),
            ("hospital", getattr(record, "hospital", "-")),
            ("user_id", getattr(record, "user_id", "-")),
            ("msg", record.getMessage()),
        ]
        line = " ".join(f"{key}={_quote(value)}" for key, value in pairs)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line
