"""`python -m bench [options]`: run the benchmark and print a markdown table. See --help."""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

from bench import report, suite

QUICK = {
    "sizes": [5, 50, 200], "rates": [10.0, 20.0], "reps": 2, "changes": 30, "ramp": [5.0, 10.0, 20.0, 40.0, 80.0],
    "ramp_seconds": 2.0, "many_changes": 6, "many_reps": 1, "page_repeat": 3, "catchup_repeat": 3,
}


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def words(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def parser() -> argparse.ArgumentParser:
    d = suite.Options()
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a short run: 2 reps of 30 changes, a short ramp, embedded only "
                   "unless --configs is given")
    p.add_argument("--configs", type=words, default=None, help="embedded, scaleout (default: both; --quick: embedded)")
    p.add_argument("--scenarios", type=words, default=d.scenarios, help="fanout, capacity, manyboards, page, catchup")
    p.add_argument("--sizes", type=ints, default=None, help=f"participants per fan-out board (default {d.sizes})")
    p.add_argument("--rates", type=floats, default=None, help=f"changes/s for fan-out (default {d.rates})")
    p.add_argument("--reps", type=int, default=None, help=f"ABAB repetitions, app then bare (default {d.reps})")
    p.add_argument("--changes", type=int, default=None, help=f"changes per fan-out rep (default {d.changes})")
    p.add_argument("--ramp", type=floats, default=None, help=f"capacity ramp, changes/s (default {d.ramp})")
    p.add_argument("--ramp-seconds", type=float, default=None, help=f"seconds per ramp step (default {d.ramp_seconds})")
    p.add_argument("--capacity-size", type=int, default=d.capacity_size)
    p.add_argument("--many-boards", type=int, default=d.many_boards)
    p.add_argument("--many-people", type=int, default=d.many_people)
    p.add_argument("--many-changes", type=int, default=None, help=f"changes per board per rep (default {d.many_changes})")
    p.add_argument("--many-reps", type=int, default=None, help=f"(default {d.many_reps})")
    p.add_argument("--page-notes", type=ints, default=d.page_notes)
    p.add_argument("--catchup-behind", type=int, default=d.catchup_behind)
    p.add_argument("--mode", choices=["edit", "add"], default=d.mode,
                   help="edit: writers edit notes (pushes of constant size); add: the capture form adds notes")
    p.add_argument("--server", choices=["daphne", "uvicorn"], default=d.server,
                   help="the ASGI server the app runs under")
    p.add_argument("--no-compression", action="store_true",
                   help="websocket compression off: uvicorn --ws-per-message-deflate false, and the relay's too "
                        "(the clients always ask for it, as browsers do)")
    p.add_argument("--per-socket-compression", action="store_true",
                   help="the app under uvicorn's own websocket protocol, which compresses every push for "
                        "every socket, instead of the app's (journeymap.wsprotocol: once for all)")
    p.add_argument("--pg-url", default=d.pg_url, help="PostgreSQL server for scale-out (a fresh journeymap_bench "
                   "database is made there and dropped at the end)")
    p.add_argument("--redis-url", default=d.redis_url)
    p.add_argument("--profile", type=Path, default=None, metavar="DIR",
                   help="py-spy record the first app server during the first rep at the largest N and rate")
    p.add_argument("--profile-gil", action="store_true",
                   help="profile only the samples holding the GIL (CPU), not the waits on the database")
    p.add_argument("--json", type=Path, default=None, help="write every figure here")
    p.add_argument("--markdown", type=Path, default=None, help="write the tables here too")
    p.add_argument("--max-minutes", type=float, default=60, help="start no new block after this")
    return p


def options(args: argparse.Namespace) -> suite.Options:
    o = suite.Options()
    if args.quick:
        for k, v in QUICK.items():
            setattr(o, k, v)
        o.configs = ["embedded"]
    for name in ("configs", "sizes", "rates", "reps", "changes", "ramp", "ramp_seconds", "many_changes", "many_reps"):
        value = getattr(args, name)
        if value is not None:
            setattr(o, name, value)
    o.scenarios = args.scenarios
    o.capacity_size = args.capacity_size
    o.many_boards, o.many_people = args.many_boards, args.many_people
    o.page_notes = args.page_notes
    o.catchup_behind = args.catchup_behind
    o.mode = args.mode
    o.server = args.server
    o.compression = not args.no_compression
    o.ws = "auto" if args.per_socket_compression else o.ws
    o.pg_url, o.redis_url = args.pg_url, args.redis_url
    o.profile_dir = args.profile
    o.profile_gil = args.profile_gil
    o.deadline = time.perf_counter() + args.max_minutes * 60 if args.max_minutes else math.inf
    o.log = lambda msg: print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)
    unknown = set(o.configs) - {"embedded", "scaleout"}
    unknown |= set(o.scenarios) - {"fanout", "capacity", "manyboards", "page", "catchup"}
    if unknown:
        raise SystemExit(f"unknown: {', '.join(sorted(unknown))}")
    return o


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    o = options(args)
    started = datetime.datetime.now().astimezone()
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    t0 = time.perf_counter()
    results = suite.run(o)
    results["seconds"] = time.perf_counter() - t0
    command = "python -m bench" + ("" if not sys.argv[1:] else " " + shlex.join(sys.argv[1:]))
    shown = {k: getattr(o, k) for k in ("server", "compression", "ws", "mode", "reps", "changes", "sizes", "rates", "ramp", "ramp_seconds",
                                        "many_changes", "many_reps", "writers")}
    shown["load_average_at_start"] = load_start
    text = report.markdown(results, command=command, date=started.strftime("%Y-%m-%d %H:%M %Z"), options=shown)
    text += f"\nTotal time: {results['seconds'] / 60:.1f} min\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        args.json.write_text(json.dumps({"options": {k: str(v) for k, v in vars(args).items()}, **results}, indent=1,
                                        default=str))
    prof = report.profile_text(results)
    if prof:
        print(prof, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
