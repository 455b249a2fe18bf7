"""Run the real Journeymap app in a subprocess, the way `make run` serves it.

    server = LiveServer()                # its own SQLite file in a fresh temporary folder
    server.start()                       # migrate + load_demo once (or copy a database so prepared), then serve
    page.goto(server.url + "/accounts/login/")
    server.restart()                     # same port, same database
    server.close()                       # stop the server and remove its folder

`with LiveServer() as server:` does start() and close() for you. Two servers can share PostgreSQL
and Redis by passing the same `env={"DATABASE_URL": ..., "REDIS_URL": ...}`; prepare the database
with the first one only (`LiveServer(env=..., prepare=False)` for the second).

The server runs with DEBUG off, a SECRET_KEY, plain HTTP on 127.0.0.1 and its output in a log file
whose tail is shown when it fails to start. Every server still running when the test process exits
is killed, and on Linux the kernel kills it too if the test process dies without cleaning up.
"""

from __future__ import annotations

import atexit
import http.client
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import IO

BASE_DIR = Path(__file__).resolve().parent.parent
READY_PATH = "/accounts/login/"
WS_MAX_MESSAGE = 16 * 1024 * 1024  # daphne limits messages both ways: a whole board is sent in one

# Variables of the test process that must not leak into the server: it gets only what it is given.
_SCRUBBED = frozenset({
    "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "DATABASE_URL", "REDIS_URL",
    "SQLITE_PATH", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE", "BEHIND_TLS_PROXY",
    "SECURE_SSL_REDIRECT", "SECURE_COOKIES", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
})

_running: set[LiveServer] = set()  # started and not yet reaped
_prepared_sqlite: dict[tuple[bool, str], Path] = {}  # (demo, secret key) -> a prepared database to copy


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (its WAL included), by SQLite's backup API."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


class ServerError(RuntimeError):
    """The server or one of its management commands did not do what was asked."""


def base_environment() -> dict[str, str]:
    """This process's environment without the variables that configure the app."""
    return {k: v for k, v in os.environ.items() if k not in _SCRUBBED}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGKILL it when the test process goes away."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


WS_PROTOCOL = "journeymap.wsprotocol:WebSocketProtocol"  # as `make run` serves it


class LiveServer:
    """One server process serving journeymap.asgi:application on 127.0.0.1:<port>: uvicorn, as
    `make run` serves it, or daphne (the benchmark compares them)."""

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        prepare: bool = True,
        demo: bool = True,
        server: str = "uvicorn",
        compression: bool = True,
        ws: str = WS_PROTOCOL,
        start_timeout: float = 30.0,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="journeymap-live-"))
        self.log_path = self.workdir / "server.log"
        self.sqlite_path = self.workdir / "db.sqlite3"
        self.start_timeout = start_timeout
        self._prepare = prepare
        self._demo = demo
        self.server = server
        self.compression = compression  # uvicorn's websocket compression (its default: on)
        self.ws = ws  # uvicorn's websocket protocol: the app's (compressing each push once), or "auto"
        self._prepared = False
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.env = self._environment(env or {})

    # -- environment and commands ------------------------------------------------------------

    def _environment(self, extra: Mapping[str, str]) -> dict[str, str]:
        env = base_environment()
        env.update(
            DJANGO_SETTINGS_MODULE="journeymap.settings",
            SECRET_KEY="live-server-" + "k" * 50,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="0",
            SECURE_COOKIES="0",
            SQLITE_PATH=str(self.sqlite_path),
            PYTHONUNBUFFERED="1",
            LOG_LEVEL=os.environ.get("LIVE_SERVER_LOG_LEVEL", "INFO"),
            # Browser tests sign in many times from one address; the limits have their own tests.
            RATELIMIT_ENABLE="0",
        )
        env.update(extra)
        return env

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _command(self) -> list[str]:
        if self.server == "uvicorn":
            off = [] if self.compression else ["--ws-per-message-deflate", "false"]
            return [sys.executable, "-m", "uvicorn", "--host", self.host, "--port", str(self.port),
                    "--no-proxy-headers", "--lifespan", "off", "--ws", self.ws, *off, "--log-level", "warning",
                    "journeymap.asgi:application"]
        return [*self._daphne(), "-b", self.host, "-p", str(self.port),
                "--websocket-max-message-size", str(WS_MAX_MESSAGE), "journeymap.asgi:application"]

    def _daphne(self) -> list[str]:
        script = Path(sys.executable).parent / "daphne"
        return [str(script)] if script.exists() else [sys.executable, "-m", "daphne"]

    def manage(self, *args: str, timeout: float = 180.0) -> str:
        """Run `manage.py <args>` against this server's database; return its output."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            output = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
            raise ServerError(f"manage.py {' '.join(args)} exited with {result.returncode}:\n{output}")
        return result.stdout

    def prepare(self) -> None:
        """Migrate the database and load the demo (runs once, before the first start).

        A SQLite database is prepared once per test process and copied for every later server
        with the same demo and secret key: a copy takes milliseconds, `migrate` and `load_demo`
        several seconds."""
        if self._prepared:
            return
        key = (self._demo, self.env["SECRET_KEY"])
        if "DATABASE_URL" not in self.env and key in _prepared_sqlite:
            _copy_sqlite(_prepared_sqlite[key], self.sqlite_path)
        else:
            self.manage("migrate", "--noinput")
            if self._demo:
                self.manage("load_demo", "--force")
            if "DATABASE_URL" not in self.env:
                kept = Path(tempfile.mkdtemp(prefix="journeymap-prepared-")) / "db.sqlite3"
                _copy_sqlite(self.sqlite_path, kept)
                _prepared_sqlite[key] = kept
        self._prepared = True

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float | None = None) -> LiveServer:
        if self.is_running():
            return self
        if self._prepare:
            self.prepare()
        self._log = open(self.log_path, "ab")
        self._process = subprocess.Popen(
            self._command(),
            cwd=BASE_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        _running.add(self)
        try:
            self._wait_until_ready(timeout or self.start_timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = "no attempt yet"
        while True:
            assert self._process is not None
            code = self._process.poll()
            if code is not None:
                raise ServerError(f"server exited with {code} while starting{self._tail()}")
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
                try:
                    conn.request("GET", READY_PATH)
                    status = conn.getresponse().status
                finally:
                    conn.close()
            except OSError as exc:  # not listening yet
                last_error = repr(exc)
            else:
                if status == 200:
                    return
                raise ServerError(f"GET {READY_PATH} answered {status}{self._tail()}")
            if time.monotonic() >= deadline:
                raise ServerError(
                    f"server not ready on {self.url} after {timeout:.0f}s ({last_error}){self._tail()}"
                )
            time.sleep(0.05)

    def _signal(self, sig: signal.Signals) -> None:
        if self.is_running():
            assert self._process is not None
            try:
                os.killpg(self._process.pid, sig)
            except ProcessLookupError:
                pass

    def _reap(self, timeout: float) -> None:
        assert self._process is not None
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self._process.wait(timeout=10)
        if self._log:
            self._log.close()
            self._log = None
        _running.discard(self)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to stop (SIGTERM) and wait for it; SIGKILL if it takes longer."""
        if self._process is None:
            return
        self._signal(signal.SIGTERM)
        self._reap(timeout)

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        if self._process is None:
            return
        self._signal(signal.SIGKILL)
        self._reap(10.0)

    def restart(self, *, hard: bool = False) -> LiveServer:
        """Stop (or kill, when hard) and start again on the same port with the same database."""
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the server and delete its folder (database and log)."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LiveServer:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- diagnostics -------------------------------------------------------------------------

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _tail(self) -> str:
        tail = self.log_tail()
        return f"\n--- last lines of {self.log_path} ---\n{tail}" if tail else " (the log is empty)"

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.is_running() else "stopped"
        return f"<LiveServer {self.url} {state}>"


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_running):
        server.kill()
    for kept in _prepared_sqlite.values():
        shutil.rmtree(kept.parent, ignore_errors=True)
