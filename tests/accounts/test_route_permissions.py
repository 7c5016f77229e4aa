"""Every route of the API, every method it accepts, for every role, against the permission table.

The routes come from Django's URL resolver, not from a list kept here, so nested reads and custom
actions are included and a new route is walked as soon as it exists. Each route must declare the
rule it is decided by (accounts.roles): a view's ``resource``, a custom action's
``@action(..., resource=...)``, or ``FOREIGN_ROUTES`` for views this project does not write. A
route without one fails the test. Then each role gets 403 ``role_forbidden`` exactly where the
table forbids, and anything but 403 where it allows.

One hospital and one set of ids that exist nowhere: the role check comes before any lookup, so an
allowed request answers 404 or 400 and a forbidden one 403, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from rest_framework.views import APIView

from hospitium.accounts.roles import (
    ADMIN,
    ANALYST,
    AUDIENCES,
    BILLING,
    DOCTOR,
    FOREIGN_ROUTES,
    MATRIX,
    NURSE,
    READ,
    RECEPTION,
    SUPERUSERS,
    WRITE,
    permits,
)
from hospitium.core.resources import HospitalResource
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

HOST = "alpha.example.test"
ROLES = [ADMIN, DOCTOR, NURSE, RECEPTION, BILLING, ANALYST]
NOWHERE = "00000000-0000-4000-8000-000000000000"
#: Values tried for a route's URL arguments, in order, until one fits the pattern.
ARGUMENTS = {"pk": [NOWHERE, "no_such_key", "999999999"], "line_id": [NOWHERE], "format": ["json"]}
#: The actions a viewset's own resource covers; any other action must name its resource.
STANDARD_ACTIONS = {"list", "create", "retrieve", "update", "partial_update", "destroy"}
SAFE = {"get", "head", "options"}


@dataclass
class Route:
    pattern: str
    name: str
    callback: Callable[..., Any]


def _walk(
    patterns: list[URLPattern | URLResolver], prefix: str = "", namespace: str = ""
) -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        else:
            name = f"{namespace}{entry.name}" if entry.name else ""
            yield Route(prefix + str(entry.pattern), name, entry.callback)


def api_routes() -> tuple[list[Route], list[Route]]:
    """The /api/ routes, and apart the format-suffix twins (``….json``) of routes already
    listed: a twin is served by the very same view function, so it answers the same."""
    routes: list[Route] = []
    twins: list[Route] = []
    seen: set[int] = set()
    for route in _walk(get_resolver().url_patterns):
        if not route.pattern.startswith("api/"):
            continue
        if id(route.callback) in seen:
            assert "(?P<format>" in route.pattern or "<drf_format_suffix:format>" in route.pattern
            twins.append(route)
            continue
        seen.add(id(route.callback))
        routes.append(route)
    return routes, twins


def view_class(callback: Callable[..., Any]) -> type | None:
    return getattr(callback, "cls", None) or getattr(callback, "view_class", None)


def methods_of(callback: Callable[..., Any]) -> list[str]:
    """The methods the route answers with a handler (not 405)."""
    cls = view_class(callback)
    assert cls is not None, callback
    actions: dict[str, str] | None = getattr(callback, "actions", None)
    if actions is not None:
        offered = set(actions) | {"options"} | ({"head"} if "get" in actions else set())
    else:
        offered = {m for m in cls.http_method_names if hasattr(cls, m)}
        if "get" in offered:
            offered.add("head")
    return sorted(m for m in offered if m in cls.http_method_names)


def rule_of(route: Route, method: str) -> str | None:
    """The rule the route declares for ``method``, or None when it declares none."""
    if route.name in FOREIGN_ROUTES:
        return FOREIGN_ROUTES[route.name]
    cls = view_class(route.callback)
    if cls is None or not issubclass(cls, APIView):
        return None
    initkwargs = getattr(route.callback, "initkwargs", None) or {}
    if "resource" in initkwargs:
        return str(initkwargs["resource"])
    actions: dict[str, str] | None = getattr(route.callback, "actions", None)
    if actions is not None and method != "options":
        action = actions["get" if method == "head" else method]
        generic = getattr(HospitalResource, action, None)
        if action not in STANDARD_ACTIONS and (
            generic is None or generic is not getattr(cls, action)
        ):
            return None  # a custom action of its own must say what it reads or writes
    return getattr(cls, "resource", None)


def url_of(route: Route) -> str:
    groups = [g for g in ARGUMENTS if f"<{g}>" in route.pattern or f":{g}>" in route.pattern]
    candidates: list[dict[str, str]] = [{}]
    for group in groups:
        candidates = [{**c, group: value} for c in candidates for value in ARGUMENTS[group]]
    for kwargs in candidates:
        try:
            return reverse(route.name, kwargs=kwargs)
        except NoReverseMatch:
            continue
    raise AssertionError(f"no URL for {route.name} ({route.pattern}) from {ARGUMENTS}")


def test_every_route_answers_each_role_as_the_permission_table_says(api, hospital_a, settings):
    routes, twins = api_routes()
    undeclared: list[str] = []
    unknown: list[str] = []
    plan: list[tuple[Route, str, str, str]] = []
    for route in routes:
        for method in methods_of(route.callback):
            rule = rule_of(route, method)
            label = f"{method.upper()} {route.pattern} ({route.name or 'unnamed'})"
            if not route.name or rule is None:
                undeclared.append(label)
            elif rule not in MATRIX and rule not in AUDIENCES:
                unknown.append(f"{label}: {rule!r}")
            else:
                plan.append((route, url_of(route), method, rule))
    assert not undeclared, "routes without a rule in accounts.roles:\n" + "\n".join(undeclared)
    assert not unknown, "routes with a rule that is not in accounts.roles:\n" + "\n".join(unknown)
    # The walk reaches the nested and custom routes, not only the plain ones.
    names = {route.name for route, *_ in plan}
    assert {"patient-visits", "patient-invoices", "visit-add-diagnosis", "invoice-line"} <= names
    assert twins, "the format-suffix twins were recognised as such"

    # Cheap requests, the role check untouched: the hospital's lookup by host is cached, the
    # user is given to DRF directly (no token or session lookup), answers are JSON, not YAML.
    settings.HOSPITIUM_TENANT_CACHE_SECONDS = 300
    users = {
        role: make_user(f"{role}@alpha.example.test", hospital=hospital_a, role=role)
        for role in ROLES
    }
    wrong: list[str] = []
    for role in ROLES:
        api.force_authenticate(users[role])
        headers = {"HTTP_HOST": HOST, "HTTP_ACCEPT": "application/json"}
        for _route, url, method, rule in plan:
            action = READ if method in SAFE else WRITE
            body = {} if method in SAFE else {"data": "{}", "content_type": "application/json"}
            response = api.generic(method.upper(), url, **body, **headers)
            code = _error_code(response) if response.status_code == 403 else None
            if rule == SUPERUSERS:
                ok = response.status_code == 403 and code in (None, "superuser_required")
            elif permits(rule, action, {role}):
                ok = response.status_code != 403
            else:
                ok = response.status_code == 403 and (method == "head" or code == "role_forbidden")
            if not ok:
                wrong.append(
                    f"{role} {method.upper()} {url} [{rule} {action}]: "
                    f"{response.status_code} {code or ''}"
                )
    assert not wrong, f"{len(wrong)} answers differ from the table:\n" + "\n".join(wrong)


def _error_code(response: Any) -> str | None:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None
