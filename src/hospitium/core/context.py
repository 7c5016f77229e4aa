"""Per-request (per-task) values that log lines and error envelopes carry."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("hospitium_request_id", default="-")
user_id_var: ContextVar[str] = ContextVar("hospitium_user_id", default="-")


def current_request_id() -> str:
    return request_id_var.get()
