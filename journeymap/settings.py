"""Journeymap settings: one module, configured from the environment.

See README.md, "Configuration", for every variable.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
TESTING = "pytest" in sys.modules

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = "insecure-development-key-do-not-use-in-production"
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off. "
            "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG or TESTING else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "template_partials",
    "csp",
    "workshops",
    "boards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "journeymap.views.htmx_not_found",
]

ROOT_URLCONF = "journeymap.urls"
ASGI_APPLICATION = "journeymap.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "journeymap.context_processors.csp_nonce",
                "journeymap.context_processors.new_actions",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

# Databases: SQLite by default (embedded, one process), PostgreSQL with DATABASE_URL.
# Connections are kept between requests (a new one per request costs more than the request).
# Under ASGI that takes a pool for PostgreSQL: Django runs each request's sync code in a thread
# of its own (asgiref's ThreadSensitiveContext), and connections belong to a thread, so
# CONN_MAX_AGE alone never reuses one: every request would open (and start a backend for) its own.
DB_CONN_MAX_AGE = int(os.environ.get("DB_CONN_MAX_AGE", "60"))
DB_POOL_SIZE = int(os.environ.get("DB_POOL_SIZE", "10"))  # per process; 0: no pool
SQLITE_PATH = os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3"))
if os.environ.get("DATABASE_URL"):
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ["DATABASE_URL"], conn_max_age=DB_CONN_MAX_AGE, conn_health_checks=True
        )
    }
    if DB_POOL_SIZE > 0 and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # A connection goes back to the pool at the end of each request (CONN_MAX_AGE 0 is what
        # pooling asks for); with CONN_HEALTH_CHECKS the pool checks it before handing it out
        # again (a restarted server).
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(2, DB_POOL_SIZE), "max_size": DB_POOL_SIZE, "timeout": 10,
        }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DB_PREPARED_STATEMENTS", True):
        # Statements sent with their parameters apart (server-side binding), and prepared on a
        # connection once they have run there five times: PostgreSQL then stops planning them
        # again. A board's note read, a join of seven tables, took 1.0 ms to plan and 0.1 ms to
        # run. Django sends the values inside the SQL text and prepares nothing unless asked.
        # DB_PREPARED_STATEMENTS=0 turns it off, for a pooler in transaction mode that cannot
        # keep prepared statements (PgBouncer before 1.21, or without max_prepared_statements).
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
else:
    DATABASES = {
        "default": {
            "ENGINE": "journeymap.sqlite",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                # Writers take the lock when their transaction begins, so they queue
                # instead of failing with "database is locked": this process's writers on a
                # lock of its own (journeymap/sqlite), other processes' on the busy timeout.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA foreign_keys=ON;"
                    "PRAGMA busy_timeout=20000;"
                ),
            },
            # Tests use a file (one per test run), so threads share it as in production.
            "TEST": {"NAME": os.path.join(tempfile.gettempdir(), f"journeymap-test-{os.getpid()}.sqlite3")},
            "CONN_MAX_AGE": DB_CONN_MAX_AGE,
            "CONN_HEALTH_CHECKS": True,
        }
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer: in-memory by default (one process), Redis with REDIS_URL.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        # Everything but board pushes: a person's private pushes, revocations, who came or went.
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # The socket timeout must outlast channels-redis's 5-second blocking read, or every
            # idle socket is dropped after 5 s.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}], "capacity": 5000, "expiry": 60},
        },
        # Board pushes between processes, the hot path: Redis pub/sub, one PUBLISH a push, read
        # by each process that has sockets on the board. (The core layer queues every message
        # in a sorted set per process: several round trips and a Lua script a push, about a
        # tenth of a server's CPU on a busy board.) Pub/sub keeps nothing for a process that is
        # not connected at that moment: each process's hub checks its boards' seqs in the
        # database every few seconds and sends what never came. And when Redis fails, the core
        # layer's read fails with it, and the process's board sockets reconnect (docs/sync.md).
        "board": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}]},
        },
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 5000, "expiry": 60},
        }
    }

# Cache: it holds the rate limits' counts. Per process by default; shared through Redis with
# REDIS_URL, by django-redis, which keeps one connection pool per process (Django's own Redis
# cache makes a client per request under ASGI, and so a new connection to Redis). Redis failing
# must not fail a request: the cache then answers as if it were empty and logs why, and the rate
# limits let requests through (RATELIMIT_FAIL_OPEN) until it is back.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "journeymap",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    # Sessions stay in the database: a sign-out must not be undone by a cache that missed it.
    # Django's database engine, each read by a statement built once (journeymap/sessions.py).
    SESSION_ENGINE = "journeymap.sessions"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "journeymap",
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    }
    # Sessions read from the process's cache, written to both: one query less per request. (With
    # Redis a session read would be a round trip to Redis instead of one to the database.)
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# Sign-in as Django's ModelBackend, with the signed-in user read by a statement built once
# (journeymap/auth.py). ModelBackend stays listed for the sessions it signed in.
AUTHENTICATION_BACKENDS = ["journeymap.auth.Backend", "django.contrib.auth.backends.ModelBackend"]

# Rate limits (journeymap/ratelimits.py): sign-in, joining with a link, posting notes. Off in the
# test suite, whose tests share one cache; the rate-limit tests turn them on.
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", not TESTING)
RATELIMIT_USE_CACHE = "default"
RATELIMIT_FAIL_OPEN = True
# Overrides of journeymap.ratelimits.RATES, e.g. {"login_ip": "10/m", "note_user": "60/m"}.
RATE_LIMITS: dict[str, str] = {}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if TESTING:
    # Sign-ins are made by the hundred in the test suite; the slow default hasher would dominate it.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Zurich")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "journeymap.storage.StaticStorage"
        )
    },
}
# Files not collected yet are served straight from the app folders (see journeymap/storage.py).
warnings.filterwarnings("ignore", message="No directory at")
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Security: safe defaults, relaxed only by DEBUG. Behind a TLS proxy set SECURE_PROXY_SSL_HEADER.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Rate limits count each client, not the proxy: the address the proxy adds to X-Forwarded-For.
    RATELIMIT_IP_META_KEY = "journeymap.ratelimits.forwarded_ip"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG and not TESTING)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG and not TESTING)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG or TESTING else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HSTS_SECONDS > 0)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"forbidden_without_traceback": {"()": "journeymap.logging.ForbiddenWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "django.request": {"filters": ["forbidden_without_traceback"]},
    },
}

# Board sync: the page's heartbeat; a socket silent for two of them is taken as dead and replaced.
BOARD_HEARTBEAT_SECONDS = float(os.environ.get("BOARD_HEARTBEAT_SECONDS", "20"))
# Presence (who is on a board): the first change is pushed at once, the next ones together at
# the end of this window, so a room joining at once is not sent the list of people per person.
PRESENCE_WINDOW_SECONDS = float(os.environ.get("PRESENCE_WINDOW_SECONDS", "0.5"))
# What one socket may send: the only client message is a heartbeat, so a flood or a big message
# closes that socket (4429) and nobody else's.
WEBSOCKET_MAX_CLIENT_MESSAGE = 1024
WEBSOCKET_RATE = (20, 10.0)  # at most 20 messages per 10 seconds
# Board sync: how many events a reconnecting client may be replayed before it gets a fresh board.
BOARD_REPLAY_LIMIT = int(os.environ.get("BOARD_REPLAY_LIMIT", "1000"))
# Scale-out: how often each process compares its boards' seqs with the database, to send a push
# that the `board` layer lost (Redis pub/sub keeps nothing through a dropped connection). A push
# is sent from the database when it has not come within one to two of these.
HUB_SWEEP_SECONDS = float(os.environ.get("HUB_SWEEP_SECONDS", "2"))
