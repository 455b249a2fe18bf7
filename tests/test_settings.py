"""Settings come from the environment: production checks, the database and channel layer picked by
DATABASE_URL and REDIS_URL, and the SQLite connection tuned for concurrent writers.

Settings are read once per process, so each environment is tried in a fresh `manage.py`."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import sys

import pytest
from django.db import connection, transaction

from tests.live_server import BASE_DIR, base_environment

PRODUCTION = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "journeymap.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://journeymap.example.com",
}
TEST_DATABASE_URL = os.environ.get("JOURNEYMAP_TEST_DATABASE_URL", "")
PRINT_SETTINGS = (
    "import json; from django.conf import settings; "
    "db = settings.DATABASES['default']; layer = settings.CHANNEL_LAYERS['default']; "
    "print(json.dumps({'engine': db['ENGINE'], 'name': db['NAME'], 'host': db.get('HOST'), "
    "'port': db.get('PORT'), 'user': db.get('USER'), 'atomic_requests': db['ATOMIC_REQUESTS'], "
    "'layer': layer['BACKEND'], 'hosts': layer.get('CONFIG', {}).get('hosts'), "
    "'board_layer': settings.CHANNEL_LAYERS.get('board', {}).get('BACKEND'), "
    "'cache': settings.CACHES['default']['BACKEND'], "
    "'cache_options': settings.CACHES['default'].get('OPTIONS', {}), "
    "'ratelimit_fail_open': settings.RATELIMIT_FAIL_OPEN, "
    "'db_options': {k: v for k, v in db.get('OPTIONS', {}).items() if k != 'pool'}}))"
)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**base_environment(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_under(**env: str) -> dict:
    result = manage("shell", "-c", PRINT_SETTINGS, **{"DEBUG": "1", **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_passes_the_deploy_checks_in_production() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_it_renders_static_urls_in_production_before_collectstatic() -> None:
    result = manage(
        "shell", "-c", "from django.templatetags.static import static; print(static('css/app.css'))",
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stderr
    assert "/static/css/app" in result.stdout


@pytest.mark.parametrize(
    "env", [{}, {"DEBUG": "0"}, {"DEBUG": "false", "SECRET_KEY": ""}], ids=["unset", "0", "empty"]
)
def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off(env: dict[str, str]) -> None:
    result = manage("check", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is required when DEBUG is off" in result.stderr


def test_it_runs_without_a_secret_key_in_development() -> None:
    result = manage("check", DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_it_uses_sqlite_and_the_in_memory_layer_by_default(tmp_path) -> None:
    found = settings_under(SQLITE_PATH=str(tmp_path / "journeymap.sqlite3"))
    assert found["engine"] == "journeymap.sqlite"
    assert found["name"] == str(tmp_path / "journeymap.sqlite3")
    assert found["layer"] == "channels.layers.InMemoryChannelLayer" and found["board_layer"] is None
    assert found["atomic_requests"] is False


def test_it_uses_postgresql_with_database_url() -> None:
    found = settings_under(DATABASE_URL="postgres://journeymap:s3cret@db.internal:5433/journeymap")
    assert found["engine"] == "django.db.backends.postgresql"
    assert (found["name"], found["host"], found["port"], found["user"]) == (
        "journeymap", "db.internal", 5433, "journeymap"
    )
    assert found["atomic_requests"] is False
    assert found["db_options"] == {"server_side_binding": True, "prepare_threshold": 5}


def test_it_sends_postgresql_statements_unprepared_when_asked() -> None:
    found = settings_under(DATABASE_URL="postgres://journeymap@db.internal/journeymap", DB_PREPARED_STATEMENTS="0")
    assert found["db_options"] == {}


@pytest.mark.scaleout
@pytest.mark.skipif(not TEST_DATABASE_URL, reason="set JOURNEYMAP_TEST_DATABASE_URL to run the PostgreSQL tests")
def test_it_prepares_a_statement_on_postgresql_after_five_runs() -> None:
    """A prepared statement is planned once, not at each run. A statement is prepared on its
    connection when it runs for the sixth time: the server's own list of the connection's
    prepared statements shows it from then on, not before."""
    script = (
        "from django.db import connection\n"
        "def prepared():\n"
        "    with connection.cursor() as c:\n"
        "        c.execute('SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s', ['%pg_class%relname%'])\n"
        "        return c.fetchone()[0]\n"
        "counts = []\n"
        "for run in range(7):\n"
        "    with connection.cursor() as c:\n"
        "        c.execute('SELECT oid FROM pg_class WHERE relname = %s', ['pg_class'])\n"
        "    counts.append(prepared())\n"
        "print(counts)\n"
    )
    result = manage("shell", "-c", script, DEBUG="1", DATABASE_URL=TEST_DATABASE_URL)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[0, 0, 0, 0, 0, 1, 1]"


def test_it_uses_redis_for_the_channel_layer_with_redis_url() -> None:
    found = settings_under(REDIS_URL="redis://cache.internal:6379/2")
    assert found["layer"] == "channels_redis.core.RedisChannelLayer"
    assert found["hosts"] == [{"address": "redis://cache.internal:6379/2", "socket_timeout": 15}]
    assert found["board_layer"] == "channels_redis.pubsub.RedisPubSubChannelLayer"


def test_it_shares_the_cache_through_redis_with_redis_url_and_lets_requests_through_when_it_fails() -> None:
    found = settings_under(REDIS_URL="redis://cache.internal:6379/2")
    assert found["cache"] == "django_redis.cache.RedisCache"  # one pool a process (tests/test_shared_cache.py)
    assert found["cache_options"]["IGNORE_EXCEPTIONS"] is True
    assert found["ratelimit_fail_open"] is True
    assert settings_under()["cache"] == "django.core.cache.backends.locmem.LocMemCache"


def test_it_passes_the_deploy_checks_in_production_with_redis() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", REDIS_URL="redis://cache.internal:6379/2", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def pragma(name: str) -> object:
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")
def test_it_runs_sqlite_in_wal_mode_with_a_busy_timeout(db) -> None:
    assert pragma("journal_mode") == "wal"
    assert pragma("busy_timeout") >= 5000
    assert pragma("foreign_keys") == 1
    assert connection.settings_dict["ATOMIC_REQUESTS"] is False


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")
def test_it_takes_the_write_lock_when_a_transaction_begins(transactional_db) -> None:
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    other = sqlite3.connect(connection.settings_dict["NAME"], timeout=0, isolation_level=None)
    try:
        with transaction.atomic():
            # Nothing written yet, but BEGIN IMMEDIATE already holds the lock: a second writer
            # waits its turn (here, with no timeout, it is told at once) instead of deadlocking later.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
