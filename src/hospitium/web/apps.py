from __future__ import annotations

from django.apps import AppConfig


class WebConfig(AppConfig):
    """Hospitium's web interface for hospital staff: server-rendered pages over the services."""

    name = "hospitium.web"
    label = "web"
    verbose_name = "Web interface"
