"""Request → hospital: by host (a Domain row, or ``<code>.localhost`` for local use) or by the
``X-Hospital: CODE`` header, then a membership check, then the hospital context for the view."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.request import split_domain_port

from hospitium.core.api import token_identity
from hospitium.core.errors import HospitiumError
from hospitium.core.middleware import log_error_response
from hospitium.core.views import render_hospitium_error
from hospitium.tenancy.context import HospitalRef, hospital_context
from hospitium.tenancy.errors import HospitalNotActive, HospitalNotFound
from hospitium.tenancy.selectors import bind_actor, hospital_ref_by_code, hospital_ref_by_host

LOCAL_SUFFIX = ".localhost"
_SERVING = {"active", "archived"}


def _host_without_port(request: HttpRequest) -> str:
    # request.get_host() would consult ALLOWED_HOSTS; host validation is ours (domains are data).
    raw = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")
    domain, _port = split_domain_port(raw)
    return domain


def resolve_hospital(request: HttpRequest, *, authenticated: bool = True) -> HospitalRef | None:
    """The hospital a request addresses, or None for the platform itself.

    The ``X-Hospital`` header is looked up only for an authenticated request: an anonymous one
    is answered as a platform request (a hospital endpoint then asks it to authenticate), so
    that nobody learns which codes exist by trying them. A hospital's domains are public (DNS),
    so a host is resolved for everyone: the hospital's sign-in page is served there. The
    ``<code>.localhost`` names are a code in disguise; production does not serve them
    (HOSPITIUM_LOCALHOST_NAMES).

    Raises Http404 for a host that is neither a platform host nor a hospital's, and for an
    unknown code in ``X-Hospital``.
    """
    host = _host_without_port(request)
    # From META, not request.headers: that builds a mapping of every header on first use.
    header = request.META.get("HTTP_X_HOSPITAL", "").strip()
    if host in settings.HOSPITIUM_PLATFORM_HOSTS:
        if not header or not authenticated:
            return None
        try:
            return hospital_ref_by_code(header, cached=True)
        except HospitalNotFound:
            raise Http404("unknown hospital") from None
    ref = hospital_ref_by_host(host)
    if (
        ref is None
        and settings.HOSPITIUM_LOCALHOST_NAMES
        and host.endswith(LOCAL_SUFFIX)
        and host.count(".") == 1
    ):
        try:
            ref = hospital_ref_by_code(host.removesuffix(LOCAL_SUFFIX), cached=True)
        except HospitalNotFound:
            ref = None
    if ref is None:
        raise Http404("unknown host")
    if header and header.upper() != ref.code:
        raise Http404("host and X-Hospital name different hospitals")
    return ref


def request_user(request: HttpRequest) -> Any:
    """Who the request is: its session's user, else the user of a valid API token, else None.

    DRF authenticates tokens only when the view runs; the hospital has to be decided before.
    """
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    if "HTTP_AUTHORIZATION" not in request.META:
        return None
    identity = token_identity(request)
    return identity[0] if identity else None


def _in_context(ref: HospitalRef, chunks: Iterable[bytes]) -> Iterator[bytes]:
    # A streamed body is produced after the middleware has returned; produce it in the context.
    with hospital_context(ref):
        yield from chunks


class HospitalMiddleware:
    """Binds the addressed hospital for the rest of the request.

    A user who is not a member gets 404, not 403, whatever state the hospital is in, so that a
    hospital's existence is not revealed; the user is known here for sessions and API tokens
    alike. An anonymous request that names a hospital by code is treated as a platform request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request_user(request)
        try:
            ref = resolve_hospital(request, authenticated=user is not None)
        except HospitiumError as exc:
            return render_hospitium_error(request, exc)
        request.hospital = ref  # type: ignore[attr-defined]
        roles = bind_actor(user=user, hospital_id=ref.id if ref else None)
        if ref is None:
            return self.get_response(request)
        # Membership before status: a hospital that is not serving is still nobody else's
        # business (503 would tell an outsider that the code exists).
        if user is not None and not roles:
            raise Http404("not a member")
        if ref.status not in _SERVING:
            return render_hospitium_error(request, HospitalNotActive())
        with hospital_context(ref):
            response = self.get_response(request)
            log_error_response(request, response)
        if isinstance(response, StreamingHttpResponse):
            response.streaming_content = _in_context(ref, response.streaming_content)
        return response
