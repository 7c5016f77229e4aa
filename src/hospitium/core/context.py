"""Per-request (per-task) values that log lines and error envelopes carry."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("hospitium_request_id", default="-")
user_id_var: ContextVar[str] = ContextVar("hospitium_user_id", default="-")


def current_request_id() -> str:
    return request_id_var.get()


#: The signed-in user acting in this request or task: (id, email), or None.
actor_var: ContextVar[tuple[int, str] | None] = ContextVar("hospitium_actor", default=None)
#: The client's address, as the request arrived.
client_ip_var: ContextVar[str | None] = ContextVar("hospitium_client_ip", default=None)
#: The roles the actor holds in the current hospital ("*" for a platform superuser).
roles_var: ContextVar[frozenset[str]] = ContextVar("hospitium_roles", default=frozenset())
