"""The scenarios, run per configuration against the app and, alternately, the bare relay."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import load, profile
from bench.httpclient import Session
from bench.load import Board, Crowd, Participant, Writers
from bench.servers import WS_PROTOCOL, App, Bare
from bench.stats import median, ratio

POOL = 60  # notes a fan-out board's writers cycle through: edits in flight never share a note


@dataclass
class Options:
    configs: list[str] = field(default_factory=lambda: ["embedded", "scaleout"])
    scenarios: list[str] = field(default_factory=lambda: ["fanout", "capacity", "manyboards", "page", "catchup"])
    sizes: list[int] = field(default_factory=lambda: [5, 50, 200])
    rates: list[float] = field(default_factory=lambda: [10.0, 20.0])
    reps: int = 5
    changes: int = 60
    # Up to where the bare relay is bound by the benchmark's own client (one process).
    # Steps of a fifth to a third from 50 up, for the app and the bare relay alike.
    ramp: list[float] = field(default_factory=lambda: [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 80.0, 100.0, 120.0,
                                                       160.0, 200.0, 240.0, 320.0, 400.0, 480.0, 640.0])
    ramp_seconds: float = 3.0
    capacity_size: int = 200
    capacity_p99_ms: float = 100.0
    many_boards: int = 20
    many_people: int = 10
    many_rate: float = 1.0
    many_changes: int = 15
    many_reps: int = 3
    page_notes: list[int] = field(default_factory=lambda: [100, 2000])
    page_repeat: int = 7
    catchup_behind: int = 500
    catchup_repeat: int = 5
    mode: str = "edit"
    server: str = "uvicorn"
    compression: bool = True  # websocket compression, granted by the app's server and the relay
    ws: str = WS_PROTOCOL  # the app's websocket protocol under uvicorn ("auto": uvicorn's own)
    writers: int = 2
    pg_url: str = "postgres://postgres@127.0.0.1:5432/postgres"
    redis_url: str = "redis://127.0.0.1:6379/1"
    profile_dir: Path | None = None
    profile_gil: bool = False
    deadline: float = math.inf  # perf_counter() after which no new block starts
    log: Any = print


def seed_spec(o: Options) -> dict[str, Any]:
    boards: dict[str, Any] = {}
    want = set(o.scenarios)
    if want & {"fanout", "capacity"}:
        sizes = sorted(set(o.sizes) | ({o.capacity_size} if "capacity" in want else set()))
        for n in sizes:
            boards[f"fanout-{n}"] = {"notes": POOL}
    if "manyboards" in want:
        for b in range(o.many_boards):
            boards[f"many-{b}"] = {"notes": 6}
    if "catchup" in want:
        boards["catchup"] = {"notes": 1, "edits": o.catchup_behind + 10}
    if "page" in want:
        for n in o.page_notes:
            boards[f"page-{n}"] = {"bulk_notes": n, "keep_notes": 0}
    people = max([*o.sizes, o.capacity_size if "capacity" in want else 0,
                  o.many_boards * o.many_people if "manyboards" in want else 0, 1])
    return {"participants": people, "writers": o.writers, "boards": boards}


def crowd_for(target, boards: list[Board], people: list[dict], per_board: int) -> Crowd:
    """`per_board` participants on each board; the first of each board is its reference."""
    participants = []
    i = 0
    for board in boards:
        for j in range(per_board):
            person = people[i]
            host, port = target.host_port(i)
            cookie = f"sessionid={person['session']}" if target.kind == "app" else None
            participants.append(Participant(
                i, board, target.ws_url(i, board.id, board.last_seq), f"http://{host}:{port}", cookie, reference=j == 0,
            ))
            i += 1
    return Crowd(participants)


async def open_crowd(target, crowd: Crowd) -> dict[str, float]:
    stats = target.stats()
    rss0 = stats.rss()
    await crowd.open(presence=target.kind == "app")
    rss1 = stats.rss()
    n = len(crowd.participants)
    return {"connect_s": crowd.connect_s, "settle_s": crowd.settle_s, "rss_before": rss0, "rss_after": rss1,
            "retries": sum(p.retries for p in crowd.participants),
            "rss_per_conn": (rss1 - rss0) / n if n else math.nan}


async def quiet(*crowds: Crowd, log=print, timeout: float = 120) -> None:
    """Let the previous run's backlog drain before the next run starts (at most `timeout`)."""
    for c in crowds:
        if not await c.wait_quiet(0.3, timeout, strict=False):
            log(f"still receiving after {timeout:.0f}s; going on")


class ConfigRun:
    def __init__(self, config: str, o: Options, bare: Bare) -> None:
        self.config, self.o, self.bare = config, o, bare
        self.result: dict[str, Any] = {"config": config}

    def log(self, msg: str) -> None:
        self.o.log(f"[{self.config}] {msg}")

    def time_left(self) -> bool:
        return time.perf_counter() < self.o.deadline

    async def __call__(self) -> dict[str, Any]:
        o = self.o
        self.log("starting the app")
        self.app = App(self.config, pg_url=o.pg_url, redis_url=o.redis_url, server=o.server,
                       compression=o.compression, ws=o.ws)
        try:
            self.app.start()
            t0 = time.perf_counter()
            self.seeded = self.app.manage_json("seed", seed_spec(o))
            self.result["seed_s"] = time.perf_counter() - t0
            self.log(f"seeded in {self.result['seed_s']:.1f}s")
            names = [w["username"] for w in self.seeded["writers"]]
            self.app_writers = await Writers.sign_in(self.app, names, self.seeded["password"], mode=o.mode)
            self.bare_writers = await Writers.sign_in(self.bare, names, "", mode=o.mode)
            try:
                await self.scenarios()
            finally:
                await self.app_writers.close()
                await self.bare_writers.close()
        finally:
            self.app.close()
        return self.result

    async def scenarios(self) -> None:
        o = self.o
        want = set(o.scenarios)
        if want & {"fanout", "capacity"}:
            sizes = list(o.sizes) if "fanout" in want else []
            if "capacity" in want and o.capacity_size not in sizes:
                sizes.append(o.capacity_size)
            self.result["fanout"] = []
            for n in sizes:
                if not self.time_left():
                    self.result.setdefault("skipped", []).append(f"fan-out N={n}")
                    continue
                await self.guarded(f"fan-out N={n}", self.fanout(
                    n, rates=o.rates if "fanout" in want and n in o.sizes else [],
                    capacity="capacity" in want and n == o.capacity_size))
        for name, method in (("manyboards", self.many_boards), ("page", self.page), ("catchup", self.catch_up)):
            if name in want:
                if self.time_left():
                    await self.guarded(name, method())
                else:
                    self.result.setdefault("skipped", []).append(name)

    async def guarded(self, name: str, block) -> None:
        """Run one block; if it fails, say so in the results and go on with the next."""
        try:
            await block
        except Exception as exc:  # noqa: BLE001 - reported in the table
            self.log(f"{name} failed: {exc!r}")
            self.result.setdefault("failed", []).append(f"{name}: {exc}")

    # -- fan-out and capacity ---------------------------------------------------------------

    async def fanout(self, n: int, *, rates: list[float], capacity: bool) -> None:
        o = self.o
        people = self.seeded["participants"]
        app_board = Board.seeded(f"fanout-{n}", self.seeded["boards"][f"fanout-{n}"])
        bare_board = Board(f"bare-{self.config}-fanout-{n}", f"{self.config}-fanout-{n}")
        app_crowd = crowd_for(self.app, [app_board], people, n)
        bare_crowd = crowd_for(self.bare, [bare_board], people, n)
        block: dict[str, Any] = {"n": n}
        self.result["fanout"].append(block)
        try:
            self.log(f"N={n}: connecting {n} participants to the app")
            block["app_connect"] = await open_crowd(self.app, app_crowd)
            compressed = sorted({p.extensions for p in app_crowd.participants if p.extensions})
            self.log(f"N={n}: app connected in {block['app_connect']['connect_s']:.1f}s, "
                     f"settled in {block['app_connect']['settle_s']:.1f}s; "
                     f"websocket compression: {', '.join(compressed) or 'none'}")
            block["bare_connect"] = await open_crowd(self.bare, bare_crowd)
            block["runs"] = []
            for rate in rates:
                pairs = []
                for rep in range(o.reps):
                    if not self.time_left():
                        break
                    prof = self.start_profile(n, rate, rep)
                    await quiet(app_crowd, bare_crowd, log=self.log)
                    a = await load.run(self.app, app_crowd, self.app_writers, [app_board], rate=rate, changes=o.changes)
                    self.finish_profile(prof, block)
                    self.bare_writers.pad_to = int(a["push_bytes"]) if not math.isnan(a["push_bytes"]) else 0
                    await quiet(app_crowd, bare_crowd, log=self.log)
                    b = await load.run(self.bare, bare_crowd, self.bare_writers, [bare_board], rate=rate, changes=o.changes)
                    pairs.append((a, b))
                    if len(pairs) == 1:
                        block["runs"].append(pair_summary(n, rate, pairs))
                    else:
                        block["runs"][-1] = pair_summary(n, rate, pairs)
                    self.log(f"N={n} @{rate:g}/s rep {rep + 1}: app p50 {a['fanout']['p50']:.1f} p99 {a['fanout']['p99']:.1f} ms "
                             f"({a['delivered']}/{a['expected']}), bare p50 {b['fanout']['p50']:.1f} p99 {b['fanout']['p99']:.1f} ms")
            if capacity and self.time_left():
                block["capacity"] = await self.capacity(n, app_crowd, bare_crowd, app_board, bare_board)
        finally:
            await app_crowd.close()
            await bare_crowd.close()

    def start_profile(self, n: int, rate: float, rep: int):
        o = self.o
        if o.profile_dir is None or rep != 0 or n != max(o.sizes) or rate != max(o.rates):
            return None
        path = o.profile_dir / f"{self.config}-n{n}-r{rate:g}.txt"
        seconds = o.changes / rate + 10  # the posts, and the deliveries that lag behind them
        self.log(f"profiling pid {self.app.pids[0]} for {seconds:.0f}s into {path}")
        return profile.record(self.app.pids[0], seconds, path, gil=o.profile_gil), path

    def finish_profile(self, prof, block: dict[str, Any]) -> None:
        if prof is None:
            return
        proc, path = prof
        try:
            _, err = proc.communicate(timeout=60)
        except Exception:  # noqa: BLE001
            proc.kill()
            proc.communicate()
            err = b"py-spy did not finish"
        if path.exists():
            block["profile"] = {"path": str(path), **profile.hot_spots(path)}
        else:
            block["profile"] = {"path": str(path), "error": err.decode(errors="replace")[-500:]}

    async def capacity(self, n: int, app_crowd: Crowd, bare_crowd: Crowd, app_board: Board, bare_board: Board) -> dict[str, Any]:
        """Raise the rate until a step loses something or its p99 fan-out-complete reaches the limit."""
        o = self.o
        steps = []
        best = {"app": 0.0, "bare": 0.0}
        failed = {"app": False, "bare": False}
        # A step of 3 s has a p99 of its few slowest changes: warm both up first, unmeasured (fresh
        # processes compile templates and open connections on their first requests).
        for target, crowd, writers, board in ((self.app, app_crowd, self.app_writers, app_board),
                                              (self.bare, bare_crowd, self.bare_writers, bare_board)):
            await quiet(app_crowd, bare_crowd, log=self.log)
            await load.run(target, crowd, writers, [board], rate=o.ramp[0], changes=30, drain_timeout=20)
        for rate in o.ramp:
            if all(failed.values()) or not self.time_left():
                break
            changes = max(30, int(rate * o.ramp_seconds))
            step: dict[str, Any] = {"rate": rate}
            for kind, target, crowd, writers, board in (
                ("app", self.app, app_crowd, self.app_writers, app_board),
                ("bare", self.bare, bare_crowd, self.bare_writers, bare_board),
            ):
                if failed[kind]:
                    continue
                await quiet(app_crowd, bare_crowd, log=self.log)
                r = await load.run(target, crowd, writers, [board], rate=rate, changes=changes, drain_timeout=20)
                ok = (load.clean(r) and r["fanout"]["p99"] < o.capacity_p99_ms
                      and r["achieved_rate"] >= 0.9 * rate)
                step[kind] = {"p50": r["fanout"]["p50"], "p99": r["fanout"]["p99"], "ok": ok,
                              "delivered_ratio": r["delivered_ratio"], "achieved_rate": r["achieved_rate"],
                              "server_cpu_pct": r["server_cpu_pct"], "client_cpu_pct": r["client_cpu_pct"],
                              "pushes_per_message": r["pushes_per_message"],
                              "errors": r["errors"]}
                if ok:
                    best[kind] = rate
                else:
                    failed[kind] = True
                self.log(f"capacity @{rate:g}/s {kind}: p99 {r['fanout']['p99']:.1f} ms, "
                         f"delivered {r['delivered_ratio']:.4f}, achieved {r['achieved_rate']:.1f}/s -> {'ok' if ok else 'FAIL'}")
            steps.append(step)
        return {
            "n": n, "steps": steps,
            "app_rate": best["app"], "bare_rate": best["bare"],
            "app_deliveries": best["app"] * n, "bare_deliveries": best["bare"] * n,
            "bare_capped": not failed["bare"],  # the bare relay passed every step: its capacity is higher
            "app_capped": not failed["app"],
        }

    # -- many boards ------------------------------------------------------------------------

    async def many_boards(self) -> None:
        o = self.o
        people = self.seeded["participants"]
        app_boards = [Board.seeded(f"many-{b}", self.seeded["boards"][f"many-{b}"]) for b in range(o.many_boards)]
        bare_boards = [Board(f"bare-{self.config}-many-{b}", f"{self.config}-many-{b}") for b in range(o.many_boards)]
        app_crowd = crowd_for(self.app, app_boards, people, o.many_people)
        bare_crowd = crowd_for(self.bare, bare_boards, people, o.many_people)
        block: dict[str, Any] = {"boards": o.many_boards, "people": o.many_people, "rate": o.many_rate}
        self.result["manyboards"] = block
        try:
            self.log(f"many boards: connecting {o.many_boards} x {o.many_people}")
            block["app_connect"] = await open_crowd(self.app, app_crowd)
            block["bare_connect"] = await open_crowd(self.bare, bare_crowd)
            pairs = []
            for rep in range(o.many_reps):
                if not self.time_left():
                    break
                await quiet(app_crowd, bare_crowd, log=self.log)
                a = await load.run(self.app, app_crowd, self.app_writers, app_boards, rate=o.many_rate, changes=o.many_changes)
                self.bare_writers.pad_to = int(a["push_bytes"]) if not math.isnan(a["push_bytes"]) else 0
                await quiet(app_crowd, bare_crowd, log=self.log)
                b = await load.run(self.bare, bare_crowd, self.bare_writers, bare_boards, rate=o.many_rate, changes=o.many_changes)
                pairs.append((a, b))
                block["summary"] = pair_summary(o.many_boards * o.many_people, o.many_rate, pairs)
                self.log(f"many boards rep {rep + 1}: app p50 {a['fanout']['p50']:.1f} p99 {a['fanout']['p99']:.1f} ms, "
                         f"bare p50 {b['fanout']['p50']:.1f} p99 {b['fanout']['p99']:.1f} ms")
        finally:
            await app_crowd.close()
            await bare_crowd.close()

    # -- the board page and catch-up ------------------------------------------------------------

    async def page(self) -> None:
        o = self.o
        person = self.seeded["participants"][0]
        boards = {str(n): self.seeded["boards"][f"page-{n}"]["id"] for n in o.page_notes}
        self.log("board pages: server-side")
        server_side = self.app.manage_json("page", {"username": person["username"], "boards": boards,
                                                    "repeat": o.page_repeat})
        out = []
        session = Session(*self.app.host_port(0), cookies={"sessionid": person["session"]})
        try:
            for n in o.page_notes:
                path = f"/boards/{boards[str(n)]}/"
                times = []
                for i in range(o.page_repeat + 2):
                    t0 = time.perf_counter()
                    r = await session.request("GET", path)
                    if r.status != 200:
                        raise load.BenchError(f"GET {path} answered {r.status}")
                    if i >= 2:
                        times.append(time.perf_counter() - t0)
                out.append({"notes": n, **server_side[str(n)], "loopback_ms": median(times) * 1000,
                            "note_count": self.seeded["boards"][f"page-{n}"]["note_count"]})
        finally:
            await session.close()
        self.result["page"] = out

    async def catch_up(self) -> None:
        o = self.o
        board = self.seeded["boards"]["catchup"]
        person = self.seeded["participants"][0]
        host, port = self.app.host_port(0)
        since = board["last_seq"] - o.catchup_behind
        runs = []
        for i in range(o.catchup_repeat):
            url = self.app.ws_url(i, board["id"], since)
            host, port = self.app.host_port(i)
            runs.append(await load.catch_up(url, f"http://{host}:{port}", f"sessionid={person['session']}",
                                            behind=o.catchup_behind, last_seq=board["last_seq"]))
        secs = [r["seconds"] for r in runs]
        self.result["catchup"] = {
            "behind": o.catchup_behind, "median_s": median(secs), "min_s": min(secs), "max_s": max(secs),
            "in_order": all(r["in_order"] for r in runs), "resets": sum(r["resets"] for r in runs),
        }
        self.log(f"catch-up of {o.catchup_behind}: median {median(secs) * 1000:.0f} ms")


def pair_summary(n: int, rate: float, pairs: list[tuple[dict, dict]]) -> dict[str, Any]:
    """ABAB pairs: per side, the median over the reps of each rep's p50, p95 and p99 (and the
    largest max); and the median of the per-pair app/bare ratios."""
    def pooled(side: int, key: str) -> dict[str, float]:
        runs = [p[side] for p in pairs]
        if not runs:
            return {}
        out = {q: median([r[key][q] for r in runs]) for q in ("p50", "p95", "p99")}
        out["max"] = max((r[key]["max"] for r in runs if not math.isnan(r[key]["max"])), default=math.nan)
        return out

    def total(side: int, key: str) -> float:
        return sum(p[side][key] for p in pairs)

    def med(side: int, key: str) -> float:
        return median([p[side][key] for p in pairs])

    return {
        "n": n,
        "rate": rate,
        "reps": len(pairs),
        "app": {
            "fanout": pooled(0, "fanout"), "recipient": pooled(0, "recipient"), "post": pooled(0, "post"),
            "expected": total(0, "expected"), "delivered": total(0, "delivered"),
            "duplicates": total(0, "duplicates"), "gaps": total(0, "gaps"), "reorders": total(0, "reorders"),
            "errors": total(0, "errors"), "stale": total(0, "stale"), "server_cpu_pct": med(0, "server_cpu_pct"),
            "client_cpu_pct": med(0, "client_cpu_pct"), "push_bytes": med(0, "push_bytes"),
            "pushes_per_message": med(0, "pushes_per_message"),
            "achieved_rate": med(0, "achieved_rate"), "server_rss": med(0, "server_rss"),
            "first_error": next((p[0]["first_error"] for p in pairs if p[0]["first_error"]), ""),
        },
        "bare": {
            "fanout": pooled(1, "fanout"), "recipient": pooled(1, "recipient"), "post": pooled(1, "post"),
            "expected": total(1, "expected"), "delivered": total(1, "delivered"),
            "duplicates": total(1, "duplicates"), "gaps": total(1, "gaps"), "reorders": total(1, "reorders"),
            "errors": total(1, "errors"), "stale": total(1, "stale"), "server_cpu_pct": med(1, "server_cpu_pct"),
            "client_cpu_pct": med(1, "client_cpu_pct"), "push_bytes": med(1, "push_bytes"),
            "achieved_rate": med(1, "achieved_rate"), "server_rss": med(1, "server_rss"),
            "first_error": next((p[1]["first_error"] for p in pairs if p[1]["first_error"]), ""),
        },
        "ratio_p50": median([ratio(a["fanout"]["p50"], b["fanout"]["p50"]) for a, b in pairs]),
        "ratio_p99": median([ratio(a["fanout"]["p99"], b["fanout"]["p99"]) for a, b in pairs]),
        "ratio_p50_range": _range([ratio(a["fanout"]["p50"], b["fanout"]["p50"]) for a, b in pairs]),
        "ratio_p99_range": _range([ratio(a["fanout"]["p99"], b["fanout"]["p99"]) for a, b in pairs]),
    }


def _range(values: list[float]) -> list[float]:
    clean = [v for v in values if not math.isnan(v)]
    return [min(clean), max(clean)] if clean else [math.nan, math.nan]


async def run_all(o: Options) -> dict[str, Any]:
    from bench.servers import reachable

    results: dict[str, Any] = {"configs": []}
    bare = Bare(compression=o.compression).start()
    try:
        for config in o.configs:
            if time.perf_counter() >= o.deadline:
                results["configs"].append({"config": config, "skipped_reason": "time budget spent"})
                continue
            if config == "scaleout":
                why = reachable(o.pg_url, o.redis_url)
                if why:
                    o.log(f"[scaleout] skipped: {why}")
                    results["configs"].append({"config": config, "skipped_reason": why})
                    continue
            results["configs"].append(await ConfigRun(config, o, bare)())
    finally:
        bare.close()
    return results


def run(o: Options) -> dict[str, Any]:
    return asyncio.run(run_all(o))
