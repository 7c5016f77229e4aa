"""Django settings, split by concern; every value that varies comes from the environment.

Defaults serve the embedded single machine (SQLite files under HOSPITIUM_HOME). With
HOSPITIUM_ENV=production the settings refuse to load when something unsafe is left at its default.
"""

import django_stubs_ext

from hospitium.settings.api import *  # noqa: F403
from hospitium.settings.core import *  # noqa: F403
from hospitium.settings.logs import *  # noqa: F403
from hospitium.settings.security import *  # noqa: F403
from hospitium.settings.storage import *  # noqa: F403
from hospitium.settings.stores import *  # noqa: F403
from hospitium.settings.tasks import *  # noqa: F403

# Lets the generic admin and DRF classes be subscripted at run time, as the type stubs expect.
django_stubs_ext.monkeypatch()
