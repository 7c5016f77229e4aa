"""WSGI entry point for gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

from hospitium.core.limits import raise_open_file_limit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hospitium.settings")
raise_open_file_limit()

application = get_wsgi_application()
