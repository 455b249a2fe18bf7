"""The load: participants on websockets, writers posting changes on a schedule, and the reckoning.

Everything runs in one asyncio loop in the benchmark's process, so one clock (perf_counter) times
both the POST's start and each participant's receipt. Every wait has a deadline.

A change carries a unique marker `bench-<run>-<k>` in its note text. The first participant of each
board (its reference) maps each marker to the seq of the push that first shows it; every
participant records the seq and arrival time of every push. A change's fan-out-complete is the
time from its POST's start until the last participant of its board has that seq.
"""

from __future__ import annotations

import asyncio
import gc
import math
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.typing import Origin

from bench.httpclient import Session
from bench.stats import percentile, summary

SEQ = re.compile(r'^<span id="board-seq" data-seq="(\d+)"( data-reset)?')
SEQ_HEAD = '<span id="board-seq" '
ANY_SEQ = re.compile(r'<span id="board-seq" data-seq="(\d+)"')
MARKER = re.compile(r"bench-\d+-\d+")
MAX_MESSAGE = 16 * 1024 * 1024
HEARTBEAT_S = 25.0  # as static/js/board.js
PONG = "pong"  # the server's answer to a heartbeat
NOTE_TEXT = "{marker} The client waits at the counter while the advisor checks the stock in the back."


class BenchError(RuntimeError):
    pass


@dataclass
class Board:
    """One board (app) or room (bare) and what the writers need to change it."""

    key: str
    id: int | str
    last_seq: int = 0
    notes: deque[int] = field(default_factory=deque)  # edit pool, least recently edited first
    versions: dict[int, int] = field(default_factory=dict)
    containers: list[tuple[int, int | None]] = field(default_factory=list)
    added: int = 0
    markers: dict[str, int] = field(default_factory=dict)  # marker -> seq, seen by the reference

    @classmethod
    def seeded(cls, key: str, data: dict[str, Any]) -> Board:
        return cls(
            key=key, id=data["id"], last_seq=data["last_seq"],
            notes=deque(n["id"] for n in data["notes"]),
            versions={n["id"]: n["version"] for n in data["notes"]},
            containers=[tuple(c) for c in data["containers"]],
        )


class Participant:
    """One signed-in person's websocket on one board."""

    def __init__(self, index: int, board: Board, url: str, origin: str, cookie: str | None, reference: bool) -> None:
        self.index, self.board, self.url, self.origin, self.cookie = index, board, url, origin, cookie
        self.reference = reference
        self.ws: ClientConnection | None = None
        self.seqs: list[int] = []
        self.times: list[float] = []
        self.heads: list[bool] = []  # per seq: whether it began a message (else it shared one)
        self.sizes: list[int] = []
        self.resets = 0
        self.unsequenced = 0
        self.present = 0  # people in the last presence list received
        self.last_message_at = 0.0
        self.closed: str | None = None
        self.retries = 0  # handshakes tried again
        self.extensions = ""  # what the server agreed to: the clients offer compression as Chromium does
        self._task: asyncio.Task | None = None

    async def open(self, timeout: float, attempts: int = 3) -> None:
        headers = Headers()
        if self.cookie:
            headers["Cookie"] = self.cookie
        for attempt in range(1, attempts + 1):
            try:
                self.ws = await connect(
                    self.url, origin=Origin(self.origin), additional_headers=headers, compression=None,
                    extensions=[ClientPerMessageDeflateFactory(client_max_window_bits=True)],
                    max_size=MAX_MESSAGE, max_queue=None, ping_interval=None, open_timeout=timeout,
                    close_timeout=2, proxy=None, user_agent_header="journeymap-bench",
                )
                self.extensions = self.ws.response.headers.get("Sec-WebSocket-Extensions", "")
                break
            except InvalidStatus as exc:
                raise BenchError(f"{self.url} refused the websocket: {exc}") from exc
            except (InvalidMessage, OSError, TimeoutError) as exc:
                # A handshake the busy server dropped: a page would retry too. Counted.
                if attempt == attempts:
                    raise BenchError(f"{self.url}: no websocket after {attempts} attempts: {exc!r}") from exc
                self.retries += 1
                await asyncio.sleep(0.2 * attempt)
        self._task = asyncio.create_task(self._receive())

    async def _receive(self) -> None:
        assert self.ws is not None
        seqs, times, heads, board = self.seqs, self.times, self.heads, self.board
        try:
            async for message in self.ws:
                t = time.perf_counter()
                if message == PONG:  # the answer to our heartbeat
                    continue
                self.last_message_at = t
                m = SEQ.match(message)
                if m is None:
                    self.unsequenced += 1
                    if 'id="presence"' in message[:80]:
                        self.present = message.count('class="presence-person')
                    continue
                if m.group(2):
                    self.resets += 1
                if message.find(SEQ_HEAD, 1) < 0:  # one push: the common case, kept cheap
                    seq = int(m.group(1))
                    seqs.append(seq)
                    times.append(t)
                    heads.append(True)
                    if self.reference:
                        self.sizes.append(len(message))
                        for marker in MARKER.findall(message):
                            board.markers.setdefault(marker, seq)
                    continue
                # A busy board's message holds several consecutive pushes, each with its marker.
                starts = [(mm.start(), int(mm.group(1))) for mm in ANY_SEQ.finditer(message)]
                for i, (_, seq) in enumerate(starts):
                    seqs.append(seq)
                    times.append(t)
                    heads.append(i == 0)
                if self.reference:
                    self.sizes.append(len(message) // len(starts))
                    ends = [start for start, _ in starts[1:]] + [len(message)]
                    for (start, seq), end in zip(starts, ends):
                        for marker in MARKER.findall(message, start, end):
                            board.markers.setdefault(marker, seq)
        except ConnectionClosed as exc:
            self.closed = f"{exc.rcvd.code if exc.rcvd else 'no close frame'}"
        else:
            code = self.ws.close_code
            if code not in (1000, 1001):
                self.closed = str(code)

    @property
    def current(self) -> int:
        return self.seqs[-1] if self.seqs else 0

    async def heartbeat(self) -> None:
        if self.ws is not None and self.closed is None:
            try:
                await self.ws.send("ping")
            except ConnectionClosed:
                pass

    async def close(self) -> None:
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 5)
            except (TimeoutError, ConnectionClosed, OSError):
                pass
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass


class Crowd:
    """Participants connected to one target, with their heartbeats."""

    def __init__(self, participants: list[Participant]) -> None:
        self.participants = participants
        self._beat: asyncio.Task | None = None
        self.connect_s = math.nan
        self.settle_s = math.nan

    @property
    def by_board(self) -> dict[str, list[Participant]]:
        out: dict[str, list[Participant]] = {}
        for p in self.participants:
            out.setdefault(p.board.key, []).append(p)
        return out

    async def open(self, *, batch: int = 25, timeout: float = 30, quiet: float = 0.5, settle_timeout: float = 300,
                   presence: bool = True) -> None:
        """Connect everyone (`batch` at a time), then settle: wait until every participant has a
        presence list with everyone on its board (when `presence`) and no message has arrived
        for `quiet` seconds, at most `settle_timeout`."""
        t0 = time.perf_counter()
        for i in range(0, len(self.participants), batch):
            await asyncio.gather(*(p.open(timeout) for p in self.participants[i:i + batch]))
        t1 = time.perf_counter()
        self.connect_s = t1 - t0
        if presence:
            deadline = t1 + settle_timeout
            sizes = {k: len(v) for k, v in self.by_board.items()}
            while not all(p.present >= sizes[p.board.key] for p in self.participants):
                if time.perf_counter() > deadline:
                    behind = sum(1 for p in self.participants if p.present < sizes[p.board.key])
                    raise BenchError(f"{behind} participants still lack the full presence list after {settle_timeout:.0f}s")
                self.check_open()
                await asyncio.sleep(0.05)
        await self.wait_quiet(quiet, settle_timeout)
        self.settle_s = time.perf_counter() - t1
        self._beat = asyncio.create_task(self._heartbeats())

    async def wait_quiet(self, quiet: float, timeout: float, *, strict: bool = True) -> bool:
        """Wait until no participant has received anything for `quiet` seconds. After `timeout`:
        raise when `strict`, else return False."""
        deadline = time.perf_counter() + timeout
        while True:
            now = time.perf_counter()
            last = max((p.last_message_at for p in self.participants), default=0.0)
            if now - last >= quiet:
                return True
            if now > deadline:
                if strict:
                    raise BenchError(f"still receiving after {timeout:.0f}s of settling")
                return False
            await asyncio.sleep(0.05)

    async def _heartbeats(self) -> None:
        n = max(len(self.participants), 1)
        while True:
            for p in self.participants:
                await asyncio.sleep(HEARTBEAT_S / n)
                await p.heartbeat()

    def check_open(self) -> None:
        closed = [p for p in self.participants if p.closed is not None]
        if closed:
            raise BenchError(f"{len(closed)} websockets were closed, e.g. #{closed[0].index}: {closed[0].closed}")

    async def close(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
        for i in range(0, len(self.participants), 50):
            await asyncio.gather(*(p.close() for p in self.participants[i:i + 50]))


@dataclass
class Change:
    board: Board
    k: int
    marker: str
    scheduled: float
    start: float = math.nan
    end: float = math.nan
    status: int = 0
    error: str = ""


class Writers:
    """Writer sessions for a target: change k goes to server k % servers, by writer (k // servers) % writers."""

    def __init__(self, target, sessions: list[list[Session]], *, mode: str, pad_to: int = 0) -> None:
        self.target, self.sessions, self.mode, self.pad_to = target, sessions, mode, pad_to
        self._free: dict[str, asyncio.Condition] = {}

    @classmethod
    async def sign_in(cls, target, usernames: list[str], password: str, *, mode: str) -> Writers:
        """Sign each writer in through the real login form once; share the cookies with every server."""
        servers = len(getattr(target, "servers", [None]))
        sessions = []
        for name in usernames:
            per_server = [Session(*target.host_port(s)) for s in range(servers)]
            if target.kind == "app":
                await per_server[0].login(name, password)
                for s in per_server[1:]:
                    s.cookies = dict(per_server[0].cookies)
            sessions.append(per_server)
        return cls(target, sessions, mode=mode)

    def session_for(self, k: int) -> Session:
        servers = len(self.sessions[0])
        return self.sessions[(k // servers) % len(self.sessions)][k % servers]

    async def post(self, change: Change) -> None:
        session = self.session_for(change.k)
        board = change.board
        text = NOTE_TEXT.format(marker=change.marker)
        if self.target.kind == "bare":
            body = f'<li id="note-{change.k % 60}" class="note kind-observation"><p class="note-text">{text}</p></li>'
            body += " " * max(0, self.pad_to - len(body))
            change.start = time.perf_counter()
            r = await session.request("POST", f"/rooms/{board.id}/", body=body.encode())
            ok = r.status == 204
        elif self.mode == "edit":
            note = await self._take_note(board)
            try:
                change.start = time.perf_counter()
                r = await session.request(
                    "POST", f"/notes/{note}/edit/", headers={"HX-Request": "true"},
                    data={"text": text, "kind": "observation", "version": str(board.versions[note]),
                          "request_id": str(uuid.uuid4())},
                )
                ok = r.status == 204
                if ok:
                    board.versions[note] += 1
            finally:
                await self._give_back(board, note)
        else:
            phase, mi = board.containers[board.added % len(board.containers)]
            board.added += 1
            change.start = time.perf_counter()
            r = await session.request(
                "POST", f"/boards/{board.id}/notes/", headers={"HX-Request": "true"},
                data={"phase": str(phase), "interaction": str(mi or ""), "kind": "observation", "text": text,
                      "request_id": str(uuid.uuid4())},
            )
            ok = r.status == 200 and "form" in r.text
        change.end = time.perf_counter()
        change.status = r.status
        if not ok:
            change.error = f"{r.status}: {r.text[:200]}"

    def _condition(self, board: Board) -> asyncio.Condition:
        return self._free.setdefault(board.key, asyncio.Condition())

    async def _take_note(self, board: Board) -> int:
        """The least recently edited note that no edit in flight holds (versions stay in step)."""
        cond = self._condition(board)
        async with cond:
            await asyncio.wait_for(cond.wait_for(lambda: bool(board.notes)), 30)
            return board.notes.popleft()

    async def _give_back(self, board: Board, note: int) -> None:
        cond = self._condition(board)
        async with cond:
            board.notes.append(note)
            cond.notify()

    async def close(self) -> None:
        for per_server in self.sessions:
            for s in per_server:
                await s.close()


_run_counter = 0


def _next_run() -> int:
    global _run_counter
    _run_counter += 1
    return _run_counter


async def run(
    target,
    crowd: Crowd,
    writers: Writers,
    boards: list[Board],
    *,
    rate: float,
    changes: int,
    max_inflight: int = 64,
    drain_timeout: float = 60.0,
    stall_timeout: float = 5.0,
    post_timeout: float = 60.0,
) -> dict[str, Any]:
    """`changes` changes to each board at `rate` per second per board (boards offset evenly), then
    wait until every participant has every change or `drain_timeout` passes; return the figures."""
    run_id = _next_run()
    crowd.check_open()
    by_board = crowd.by_board
    start_seq = {b.key: b.last_seq for b in boards}
    marks = {p.index: len(p.seqs) for p in crowd.participants}
    server = target.stats()
    me = psutil.Process()
    gc.collect()
    gc.disable()
    sem = asyncio.Semaphore(max_inflight)
    all_changes: list[Change] = []
    try:
        cpu0, me0, t0 = server.cpu_seconds(), _cpu(me), time.perf_counter()
        begin = t0 + 0.05

        async def one(change: Change) -> None:
            async with sem:
                try:
                    await writers.post(change)
                except Exception as exc:  # noqa: BLE001 - counted, reported
                    change.error = repr(exc)

        tasks = []
        order = sorted(
            (begin + bi / (rate * len(boards)) + k / rate, bi, k) for bi in range(len(boards)) for k in range(changes)
        )
        for at, bi, k in order:
            board = boards[bi]
            change = Change(board, k, f"bench-{run_id}-{k}", at)
            all_changes.append(change)
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(change)))
        _, pending = await asyncio.wait(tasks, timeout=post_timeout)
        for t in pending:
            t.cancel()
        posted_at = time.perf_counter()
        for b in boards:
            ok = sum(1 for c in all_changes if c.board is b and c.status and not c.error)
            b.last_seq = start_seq[b.key] + ok
        # Drain: every participant current, or the deadline.
        deadline = time.perf_counter() + drain_timeout
        while time.perf_counter() < deadline:
            if all(p.current >= p.board.last_seq for p in crowd.participants):
                break
            last = max((p.last_message_at for p in crowd.participants), default=0.0)
            if time.perf_counter() - max(last, posted_at) > stall_timeout:
                break  # nothing is arriving any more: what is missing is lost
            await asyncio.sleep(0.01)
        t1 = time.perf_counter()
        cpu1, me1 = server.cpu_seconds(), _cpu(me)
    finally:
        gc.enable()
    return _reckon(
        crowd, by_board, boards, all_changes, start_seq, marks,
        rate=rate, wall=t1 - t0, post_wall=posted_at - begin, server_cpu=cpu1 - cpu0, client_cpu=me1 - me0,
        rss=server.rss(),
    )


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


def _reckon(crowd, by_board, boards, changes, start_seq, marks, *, rate, wall, post_wall, server_cpu, client_cpu, rss):
    fanout: list[float] = []
    recipient: list[float] = []
    post_ms: list[float] = []
    lag: list[float] = []
    expected_total = delivered = duplicates = gaps = reorders = extra = stale = messages = 0
    errors = [c.error for c in changes if c.error]
    sizes: list[int] = []
    for b in boards:
        expected = set(range(start_seq[b.key] + 1, b.last_seq + 1))
        people = by_board.get(b.key, [])
        arrival: list[dict[int, float]] = []
        for p in people:
            window = p.seqs[marks[p.index]:]
            messages += sum(p.heads[marks[p.index]:])
            times = p.times[marks[p.index]:]
            seen: dict[int, float] = {}
            top = start_seq[b.key]
            for s, t in zip(window, times, strict=True):
                if s <= start_seq[b.key]:
                    stale += 1  # a late push of an earlier run
                    continue
                if s in seen:
                    duplicates += 1
                    continue
                if s < top:
                    reorders += 1
                top = max(top, s)
                seen[s] = t
            extra += len(set(seen) - expected)
            got = expected & set(seen)
            delivered += len(got)
            gaps += len(expected - got)
            expected_total += len(expected)
            arrival.append(seen)
            if p.reference:
                sizes.extend(p.sizes[marks[p.index]:])
        for c in changes:
            if c.board is not b or c.error or math.isnan(c.start):
                continue
            post_ms.append(c.end - c.start)
            lag.append(c.start - c.scheduled)
            seq = b.markers.get(c.marker)
            if seq is None:
                continue
            times = [a[seq] - c.start for a in arrival if seq in a]
            recipient.extend(times)
            if len(times) == len(people) and times:
                fanout.append(max(times))
    ok_changes = [c for c in changes if not c.error and not math.isnan(c.start)]
    starts = sorted(c.start for c in ok_changes)
    # Changes per second per board, as the writers managed to start them.
    achieved = ((len(starts) - 1) / (starts[-1] - starts[0]) / len(boards)
                if len(starts) > 1 and starts[-1] > starts[0] else math.nan)
    recipients = sum(len(by_board.get(b.key, [])) for b in boards)
    return {
        "boards": len(boards),
        "participants": recipients,
        "rate": rate,
        "changes": len(changes),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "achieved_rate": achieved,
        "fanout": summary(fanout),
        "complete": len(fanout),
        "recipient": summary(recipient),
        "post": summary(post_ms),
        "lag_p99_ms": percentile(lag, 99) * 1000 if lag else math.nan,
        "expected": expected_total,
        "delivered": delivered,
        "delivered_ratio": delivered / expected_total if expected_total else math.nan,
        "duplicates": duplicates,
        "gaps": gaps,
        "reorders": reorders,
        "unexpected": extra,
        "stale": stale,
        "push_bytes": percentile(sizes, 50) if sizes else math.nan,
        # Pushes per websocket message received: 1 unless a busy board's pushes went out together.
        "pushes_per_message": (delivered + duplicates + stale) / messages if messages else math.nan,
        "wall_s": wall,
        "server_cpu_pct": 100 * server_cpu / wall if wall else math.nan,
        "client_cpu_pct": 100 * client_cpu / wall if wall else math.nan,
        "server_rss": rss,
    }


def clean(result: dict[str, Any]) -> bool:
    """Nothing lost, nothing twice, nothing out of order, no failed post."""
    return (
        result["errors"] == 0
        and result["expected"] > 0
        and result["delivered"] == result["expected"]
        and result["duplicates"] == 0
        and result["reorders"] == 0
        and result["complete"] == result["changes"]
    )


async def catch_up(url: str, origin: str, cookie: str, *, behind: int, last_seq: int, timeout: float = 30) -> dict[str, Any]:
    """Connect `behind` events late; time until the last seq has arrived, and check the replay."""
    board = Board("catch-up", 0)
    p = Participant(0, board, url, origin, cookie, reference=False)
    t0 = time.perf_counter()
    await p.open(timeout)
    try:
        deadline = t0 + timeout
        while p.current < last_seq:
            if time.perf_counter() > deadline or p.closed is not None:
                raise BenchError(f"catch-up: at seq {p.current} of {last_seq} after {timeout}s ({p.closed})")
            await asyncio.sleep(0.001)
        elapsed = p.times[-1] - t0
    finally:
        await p.close()
    expected = list(range(last_seq - behind + 1, last_seq + 1))
    return {"seconds": elapsed, "in_order": p.seqs == expected, "received": len(p.seqs), "resets": p.resets}
