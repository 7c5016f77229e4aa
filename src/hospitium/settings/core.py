"""Applications, middleware, templates, static files."""

from __future__ import annotations

from pathlib import Path

from hospitium.settings.env import env_bool, env_int, env_list, env_path, env_str

#: Everything the installation writes (stores, media, queue, secrets) lives below this folder.
HOSPITIUM_HOME: Path = env_path("HOSPITIUM_HOME", Path.cwd() / "var")
#: Where migrated hospital-store templates are kept; defaults to HOSPITIUM_HOME/templates.
HOSPITIUM_TEMPLATE_DIR: Path | None = None

HOSPITIUM_ENV = env_str("HOSPITIUM_ENV", "embedded")
DEBUG = env_bool("HOSPITIUM_DEBUG", False)

#: Hosts that serve the platform itself (admin, API docs) rather than one hospital.
HOSPITIUM_PLATFORM_HOSTS = env_list(
    "HOSPITIUM_PLATFORM_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
#: Whether ``<code>.localhost`` addresses hospital CODE (for trying it out on one machine). Off in
#: production: anyone can send any Host header, and the answer would tell which codes exist.
HOSPITIUM_LOCALHOST_NAMES = env_bool("HOSPITIUM_LOCALHOST_NAMES", HOSPITIUM_ENV == "embedded")
#: How long a process trusts what it cached about a hospital (status, domains), in seconds.
HOSPITIUM_TENANT_CACHE_SECONDS = env_int("HOSPITIUM_TENANT_CACHE_SECONDS", 5, minimum=0)
#: Open hospital connections one thread keeps before closing the least recently used one.
#: (Each open SQLite store holds 3 files; processes raise their open-file limit to fit, see
#: hospitium.core.limits.)
HOSPITIUM_MAX_OPEN_STORES = env_int("HOSPITIUM_MAX_OPEN_STORES", 128, minimum=1)

# Hospital routing validates the host itself (unknown hosts get a 404), because hospital domains
# are data, not configuration; see hospitium.tenancy.middleware.
ALLOWED_HOSTS = ["*"]

PLATFORM_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "axes",
    "huey.contrib.djhuey",
    "hospitium.core",
    "hospitium.tenancy",
    "hospitium.accounts",
    "hospitium.fleetreports",
]

#: Apps whose models live in each hospital's own store. The router, the migration runner and the
#: system checks all read this list: it is the one place the split is declared.
HOSPITAL_APPS = [
    "hospitium.staff",
    "hospitium.patients",
    "hospitium.scheduling",
    "hospitium.encounters",
    "hospitium.admissions",
    "hospitium.billing",
    "hospitium.feedback",
    "hospitium.campaigns",
    "hospitium.audit",
    "hospitium.reports",
]

#: The top layer: the web interface for hospital staff (no models; it imports the apps below).
WEB_APPS = ["hospitium.web"]

INSTALLED_APPS = PLATFORM_APPS + HOSPITAL_APPS + WEB_APPS

MIDDLEWARE = [
    "hospitium.core.middleware.RequestIdMiddleware",
    "hospitium.core.middleware.RefuseNulMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "hospitium.core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "hospitium.tenancy.middleware.HospitalMiddleware",
    "hospitium.core.throttling.SignInThrottleMiddleware",
]

ROOT_URLCONF = "hospitium.urls"
WSGI_APPLICATION = "hospitium.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

#: The currency a new hospital bills in unless `hospitals create --currency` says otherwise.
HOSPITIUM_DEFAULT_CURRENCY = env_str("HOSPITIUM_DEFAULT_CURRENCY", "EUR").strip().upper()

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("HOSPITIUM_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Static files are served straight from the installed packages (whitenoise's finders), so
# `make run` needs no collectstatic step; a deployment that wants collected files names a folder.
_static_root = env_str("HOSPITIUM_STATIC_ROOT")
STATIC_ROOT: Path | None = Path(_static_root) if _static_root else None
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = HOSPITIUM_HOME / "media"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CSRF_FAILURE_VIEW = "hospitium.core.views.csrf_failure"
LOGIN_URL = "/login/"

AXES_FAILURE_LIMIT = env_int("HOSPITIUM_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_RESET_ON_SUCCESS = True
# Failures count per account *and* address: a burst of wrong passwords locks that account out
# from that address, never a colleague behind the same address (a hospital's staff often share
# one). The email is normalised as sign-in does, so changing its case buys no more guesses.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Both sign-in paths call authenticate(request, username=email, …). django-axes would default to
# the user model's USERNAME_FIELD ("email") here, find no such credential when a failure is
# recorded, and count every failure against the address alone.
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "hospitium.accounts.auth.lockout_username"
AXES_LOCKOUT_CALLABLE = "hospitium.web.views.auth.locked_out"
AXES_VERBOSE = False
