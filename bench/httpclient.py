"""A small asyncio HTTP/1.1 client with keep-alive and a cookie jar.

The writers of the app and of the bare relay use the same client, so the baseline pays the same
client-side costs. It speaks only what the benchmark needs: one request at a time per connection,
bodies by Content-Length or chunked, cookies by name.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class HTTPError(RuntimeError):
    pass


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Connection:
    """One keep-alive connection to host:port."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.timeout
        )

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await asyncio.wait_for(self._writer.wait_closed(), 2)
            except (TimeoutError, OSError):
                pass
        self._reader = self._writer = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Response:
        return await asyncio.wait_for(self._request(method, path, headers, body), self.timeout)

    async def _request(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        for attempt in (1, 2):
            fresh = self._writer is None
            if fresh:
                await self._open()
            assert self._reader is not None and self._writer is not None
            head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Connection: keep-alive"]
            head += [f"{k}: {v}" for k, v in headers.items()]
            if body or method == "POST":
                head.append(f"Content-Length: {len(body)}")
            try:
                self._writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
                await self._writer.drain()
                response = await self._read(method)
            except (ConnectionError, asyncio.IncompleteReadError):
                # A keep-alive connection the server had closed: retry once on a new one.
                await self.close()
                if fresh or attempt == 2:
                    raise
                continue
            if (response.header("connection") or "").lower() == "close":
                await self.close()
            return response
        raise HTTPError("unreachable")

    async def _read(self, method: str) -> Response:
        assert self._reader is not None
        status_line = await self._reader.readuntil(b"\r\n")
        parts = status_line.decode("latin-1").split(" ", 2)
        status = int(parts[1])
        headers: list[tuple[str, str]] = []
        while True:
            line = await self._reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers.append((k.strip().lower(), v.strip()))
        h = dict(headers)
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in h.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self._reader.readuntil(b"\r\n")
                    break
                chunks.append(await self._reader.readexactly(size))
                await self._reader.readexactly(2)
            body = b"".join(chunks)
        elif "content-length" in h:
            body = await self._reader.readexactly(int(h["content-length"]))
        else:
            body = await self._reader.read()
            await self.close()
        return Response(status, headers, body)


@dataclass
class Session:
    """A browser-like session on one site: cookies, CSRF, a pool of keep-alive connections."""

    host: str
    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    _idle: list[Connection] = field(default_factory=list)
    _all: list[Connection] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _take(self) -> Connection:
        if self._idle:
            return self._idle.pop()
        conn = Connection(self.host, self.port, self.timeout)
        self._all.append(conn)
        return conn

    async def request(self, method: str, path: str, *, data: dict[str, str] | None = None,
                      body: bytes = b"", headers: dict[str, str] | None = None) -> Response:
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = self.cookie_header()
        if data is not None:
            body = urlencode(data).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if method == "POST":
            h.setdefault("Origin", self.origin)
            if "csrftoken" in self.cookies:
                h.setdefault("X-CSRFToken", self.cookies["csrftoken"])
        conn = self._take()
        try:
            response = await conn.request(method, path, h, body)
        except BaseException:
            await conn.close()
            raise
        self._idle.append(conn)
        for k, v in response.headers:
            if k == "set-cookie":
                jar: SimpleCookie = SimpleCookie()
                jar.load(v)
                for name, morsel in jar.items():
                    if morsel.value:
                        self.cookies[name] = morsel.value
                    else:
                        self.cookies.pop(name, None)
        return response

    async def login(self, username: str, password: str) -> None:
        """Sign in through the real login form; raise if it does not end with a session."""
        page = await self.request("GET", "/accounts/login/")
        match = CSRF_INPUT.search(page.text)
        if page.status != 200 or not match:
            raise HTTPError(f"login page answered {page.status}")
        done = await self.request(
            "POST", "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": match.group(1)},
        )
        if done.status != 302 or "sessionid" not in self.cookies:
            raise HTTPError(f"signing in as {username} answered {done.status}")

    async def close(self) -> None:
        for conn in self._all:
            await conn.close()
        self._all.clear()
        self._idle.clear()
