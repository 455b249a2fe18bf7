"""A sampling profile of a server process during a run, with py-spy (`pip install py-spy`).

`record` starts `py-spy record` on a pid for a fixed time (collapsed stacks); `hot_spots` reads
them back: the functions that were on the CPU themselves (self) and those under which the time was
spent (inclusive), as shares of all samples.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def py_spy() -> str | None:
    script = Path(sys.executable).parent / "py-spy"
    return str(script) if script.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path, *, gil: bool = False) -> subprocess.Popen[bytes]:
    """Sample `pid` for `seconds` into `out`; with `gil`, only the samples of a thread holding the
    GIL (Python on the CPU), without, every non-idle thread (waits on the database included)."""
    exe = py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))), "--rate", "250",
         "--format", "raw", "--nonblocking", "--output", str(out), *(["--gil"] if gil else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _name(frame: str) -> str:
    m = FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    file = m.group("file")
    parts = Path(file).parts
    for anchor in ("site-packages", "journeymap", "boards", "workshops", "lib"):
        if anchor in parts:
            i = parts.index(anchor)
            file = "/".join(parts[i + 1:] if anchor in ("site-packages", "lib") else parts[i:])
            break
    return f"{m.group('func')} ({file})"


# Frames every sample passes through (the server's loop, thread pools): left out of "inclusive".
PLUMBING = re.compile(
    r"^(<module>|CommandLineInterface\.|Server\.run |AsyncioSelectorReactor\.run |BaseEventLoop\.|Handle\._run "
    r"|Thread\.|_worker |_WorkItem\.run |SyncToAsync\.|ThreadPoolExecutor)"
)


def _role(frames: list[str]) -> str:
    """Which thread a sample is from: the event loop (websockets, the channel layer, async code)
    or the pool thread that runs Django's synchronous views and database calls."""
    for f in frames:
        if f.startswith("_worker (") or f.startswith("SyncToAsync."):
            return "sync thread (views, ORM)"
    return "event loop"


def hot_spots(path: Path, n: int = 15) -> dict[str, list[tuple[str, float]]]:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    roles: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_name(f) for f in stack.split(";")]
        total += samples
        roles[_role(frames)] += samples
        self_time[frames[-1]] += samples
        for f in set(frames):
            if not PLUMBING.match(f):
                inclusive[f] += samples
    if not total:
        return {"self": [], "inclusive": [], "samples": [], "threads": []}
    return {
        "samples": [("total", total)],
        "threads": [(r, 100 * c / total) for r, c in roles.most_common()],
        "self": [(f, 100 * c / total) for f, c in self_time.most_common(n)],
        "inclusive": [(f, 100 * c / total) for f, c in inclusive.most_common(n)],
    }
