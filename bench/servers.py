"""The servers under test, started and stopped by the benchmark itself, all on 127.0.0.1.

- `App`: the real app under uvicorn (or daphne: --server) (tests/live_server.py), one process (embedded: SQLite and the
  in-memory channel layer) or two (scale-out: a fresh PostgreSQL database and Redis).
- `Bare`: the bare relay of bench/relay.py in its own process.

Both expose the same things to the load: where client i connects, where change k is posted, and
the server pids for CPU and memory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil

from tests.live_server import BASE_DIR, WS_PROTOCOL, LiveServer, base_environment, free_port

BENCH_DB = "journeymap_bench"


class ProcStats:
    """CPU seconds and RSS of a set of processes."""

    def __init__(self, pids: list[int]) -> None:
        self.procs = [psutil.Process(p) for p in pids]

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.procs:
            t = p.cpu_times()
            total += t.user + t.system
        return total

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in self.procs)


def fresh_database(admin_url: str, name: str = BENCH_DB) -> str:
    """Drop and create database `name` on the server of `admin_url`; return its URL."""
    import psycopg

    parts = urlsplit(admin_url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_database(admin_url: str, name: str = BENCH_DB) -> None:
    import psycopg

    parts = urlsplit(admin_url)
    try:
        with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception:  # noqa: BLE001 - best effort at the end of a run
        pass


def reachable(pg_url: str, redis_url: str) -> str | None:
    """None if PostgreSQL and Redis answer, else why not."""
    try:
        import psycopg

        parts = urlsplit(pg_url)
        with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), connect_timeout=3):
            pass
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL at {pg_url}: {exc}"
    try:
        import redis

        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        return f"Redis at {redis_url}: {exc}"
    return None


class App:
    kind = "app"

    def __init__(self, config: str, *, pg_url: str = "", redis_url: str = "", server: str = "uvicorn",
                 compression: bool = True, ws: str = WS_PROTOCOL) -> None:
        self.config = config
        self.pg_url = pg_url
        if config == "embedded":
            self.servers = [LiveServer(demo=False, server=server, compression=compression, ws=ws)]
        elif config == "scaleout":
            env = {"DATABASE_URL": fresh_database(pg_url), "REDIS_URL": redis_url}
            self.servers = [LiveServer(env=env, demo=False, server=server, compression=compression, ws=ws),
                            LiveServer(env=env, demo=False, prepare=False, server=server, compression=compression, ws=ws)]
        else:
            raise ValueError(config)

    @classmethod
    def around(cls, servers: list[LiveServer], config: str = "embedded") -> App:
        """An App for servers started elsewhere (the smoke test's LiveServer); closing is theirs."""
        app = cls.__new__(cls)
        app.config, app.pg_url, app.servers = config, "", list(servers)
        return app

    def start(self) -> App:
        for s in self.servers:
            s.start(timeout=60)
        return self

    def close(self) -> None:
        for s in reversed(self.servers):
            s.close()
        if self.config == "scaleout":
            drop_database(self.pg_url)

    @property
    def pids(self) -> list[int]:
        return [s.pid for s in self.servers if s.pid]

    def stats(self) -> ProcStats:
        return ProcStats(self.pids)

    def manage_json(self, module: str, spec: dict, timeout: float = 600) -> dict:
        """Run bench.<module>.main(spec) in the first server's environment; return its JSON."""
        out = self.servers[0].manage("shell", "-c", f"from bench import {module}; {module}.main({json.loads(json.dumps(spec))!r})",
                                     timeout=timeout)
        for line in out.splitlines():
            if line.startswith("BENCH-JSON "):
                return json.loads(line[len("BENCH-JSON "):])
        raise RuntimeError(f"bench.{module} printed no result:\n{out[-2000:]}")

    def host_port(self, i: int) -> tuple[str, int]:
        s = self.servers[i % len(self.servers)]
        return s.host, s.port

    def ws_url(self, i: int, board_id: int | str, since: int | None) -> str:
        host, port = self.host_port(i)
        query = f"?since={since}" if since is not None else ""
        return f"ws://{host}:{port}/ws/boards/{board_id}/{query}"


class Bare:
    kind = "bare"

    def __init__(self, *, compression: bool = True) -> None:
        self.compression = compression
        self.ws_port = free_port()
        self.http_port = free_port()
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"journeymap-bench-relay-{os.getpid()}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20) -> Bare:
        self._log = open(self.log_path, "wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.relay", "--ws-port", str(self.ws_port), "--http-port", str(self.http_port),
             *([] if self.compression else ["--no-compression"])],
            cwd=BASE_DIR, env=base_environment(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self._log, start_new_session=True, preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        assert self._process.stdout is not None
        os.set_blocking(self._process.stdout.fileno(), False)
        buffered = b""
        while b"ready" not in buffered:
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"the bare relay did not start: {self.log_path.read_text(errors='replace')[-2000:]}")
            chunk = self._process.stdout.read()
            buffered += chunk or b""
            time.sleep(0.05)
        return self

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(10)
        if self._process is not None:
            self._log.close()
            if self._process.stdout:
                self._process.stdout.close()
        self._process = None
        self.log_path.unlink(missing_ok=True)

    @property
    def pids(self) -> list[int]:
        return [self._process.pid] if self._process else []

    def stats(self) -> ProcStats:
        return ProcStats(self.pids)

    def host_port(self, i: int) -> tuple[str, int]:
        return "127.0.0.1", self.http_port

    def ws_url(self, i: int, board_id: int | str, since: int | None) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/ws/rooms/{board_id}/"


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
