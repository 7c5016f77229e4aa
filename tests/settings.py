"""Settings for the test run: Hospitium's own, with a scratch HOSPITIUM_HOME and tasks run
immediately. The environment is set here because settings read it at import, which pytest-django
does before any conftest is loaded."""

import os
import tempfile

os.environ["HOSPITIUM_HOME"] = tempfile.mkdtemp(prefix="hospitium-tests-")
os.environ["HOSPITIUM_TASKS_IMMEDIATE"] = "1"

from hospitium.settings import *  # noqa: F403

# Hashing passwords slowly is a production virtue and a test-suite vice.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
