"""The OpenAPI document, generated once per process and then served from memory."""

from __future__ import annotations

import threading
from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SCHEMA_KWARGS, SpectacularAPIView
from rest_framework.request import Request
from rest_framework.response import Response


class SchemaView(SpectacularAPIView):
    """``GET /api/schema/``: drf-spectacular's view, with the document built once.

    drf-spectacular's generator is not thread-safe: its extension classes load lazily on first
    use, and 11 of 32 concurrent first requests of a fresh process failed with 500 while
    another thread was half-way through that loading. Building the document also takes about
    a second. So the first request builds it under a lock and every later one (any thread)
    serves the same dict. The document is the same for every caller (it is public, and the
    code it describes does not change while the process runs); drf-spectacular's ``?lang=``
    and ``?version=`` switches are not offered, which also keeps this cache to one entry.
    """

    _lock = threading.Lock()
    _document: dict[str, Any] | None = None

    @extend_schema(**SCHEMA_KWARGS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        document = SchemaView._document
        if document is None:
            with SchemaView._lock:
                document = SchemaView._document
                if document is None:
                    generator = self.generator_class(urlconf=self.urlconf, patterns=self.patterns)
                    document = generator.get_schema(request=request, public=self.serve_public)
                    SchemaView._document = document
        filename = self._get_filename(request, None)
        return Response(
            data=document, headers={"Content-Disposition": f'inline; filename="{filename}"'}
        )
