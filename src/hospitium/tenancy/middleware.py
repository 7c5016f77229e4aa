"""Request → hospital: by host (a Domain row, or ``<code>.localhost`` for local use) or by the
``X-Hospital: CODE`` header, then a membership check, then the hospital context for the view."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.request import split_domain_port

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


def resolve_hospital(request: HttpRequest) -> HospitalRef | None:
    """The hospital a request addresses, or None for the platform itself.

    Raises Http404 for a host that is neither a platform host nor a hospital's.
    """
    host = _host_without_port(request)
    # From META, not request.headers: that builds a mapping of every header on first use.
    header = request.META.get("HTTP_X_HOSPITAL", "").strip()
    if host in settings.HOSPITIUM_PLATFORM_HOSTS:
        if not header:
            return None
        try:
            return hospital_ref_by_code(header, cached=True)
        except HospitalNotFound:
            raise Http404("unknown hospital") from None
    ref = hospital_ref_by_host(host)
    if ref is None and host.endswith(LOCAL_SUFFIX) and host.count(".") == 1:
        try:
            ref = hospital_ref_by_code(host.removesuffix(LOCAL_SUFFIX), cached=True)
        except HospitalNotFound:
            ref = None
    if ref is None:
        raise Http404("unknown host")
    if header and header.upper() != ref.code:
        raise Http404("host and X-Hospital name different hospitals")
    return ref


def _in_context(ref: HospitalRef, chunks: Iterable[bytes]) -> Iterator[bytes]:
    # A streamed body is produced after the middleware has returned; produce it in the context.
    with hospital_context(ref):
        yield from chunks


class HospitalMiddleware:
    """Binds the addressed hospital for the rest of the request.

    An authenticated user who is not a member (and not a platform superuser) gets 404, not 403,
    so that a hospital's existence is not revealed. Token-authenticated API clients are checked
    by the API's permission class, after DRF has authenticated them.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            ref = resolve_hospital(request)
        except HospitiumError as exc:
            return render_hospitium_error(request, exc)
        request.hospital = ref  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        roles = bind_actor(user=user, hospital_id=ref.id if ref else None)
        if ref is None:
            return self.get_response(request)
        if ref.status not in _SERVING:
            return render_hospitium_error(request, HospitalNotActive())
        if user is not None and user.is_authenticated and not roles:
            raise Http404("not a member")
        with hospital_context(ref):
            response = self.get_response(request)
            log_error_response(request, response)
        if isinstance(response, StreamingHttpResponse):
            response.streaming_content = _in_context(ref, response.streaming_content)
        return response
