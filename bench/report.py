"""The results as markdown tables, and the performance targets met or missed."""

from __future__ import annotations

import math
import os
import platform
from typing import Any

import psutil


def f(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def source() -> str:
    """The commit measured, and the files changed on top of it, if any."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        changed = subprocess.run(["git", "status", "--short", "--untracked-files=no"], cwd=root,
                                 capture_output=True, text=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    changed = [line[3:] for line in changed if line.strip()]
    return commit + (f" with local changes to {', '.join(changed)}" if changed else "")


def machine() -> dict[str, str]:
    os_name = platform.platform()
    try:
        with open("/etc/os-release") as fh:
            for line in fh:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"') + f" (Linux {platform.release()})"
    except OSError:
        pass
    return {
        "cores": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "ram": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "python": platform.python_version(),
        "os": os_name,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def delivered(side: dict[str, Any]) -> str:
    exp = side.get("expected", 0)
    if not exp:
        return "–"
    text = f"{side['delivered'] / exp:.4f}"
    extras = [f"{side[k]} {k}" for k in ("duplicates", "gaps", "reorders", "errors") if side.get(k)]
    if side.get("stale"):
        extras.append(f"{side['stale']} late from the previous run")
    return text + (f" ({', '.join(extras)})" if extras else "")


def targets(cfg: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, figure, met) for one configuration; met is None when not measured or undecided."""
    out: list[tuple[str, str, bool | None]] = []
    runs = {(r["n"], r["rate"]): r for b in cfg.get("fanout", []) for r in b.get("runs", [])}
    for n, rate in ((200, 10.0), (50, 20.0)):
        r = runs.get((n, rate))
        name = f"fan-out N={n} @{rate:g}/s: p50 ≤ 5× bare, p99 ≤ 10× bare, nothing lost"
        if r is None:
            out.append((name, "not measured", None))
            continue
        lossless = r["app"]["delivered"] == r["app"]["expected"] and not r["app"]["duplicates"] and not r["app"]["reorders"]
        met = r["ratio_p50"] <= 5 and r["ratio_p99"] <= 10 and lossless
        out.append((name, f"p50 {f(r['ratio_p50'])}×, p99 {f(r['ratio_p99'])}×, delivered {delivered(r['app'])}", met))
    cap = next((b["capacity"] for b in cfg.get("fanout", []) if "capacity" in b), None)
    name = "capacity ≥ 30% of bare deliveries/s"
    if cap is None:
        out.append((name, "not measured", None))
    else:
        share = cap["app_deliveries"] / cap["bare_deliveries"] if cap["bare_deliveries"] else math.nan
        bound = "≤ " if cap["bare_capped"] else ""
        out.append((name, f"{f(cap['app_deliveries'], 0)} vs {'≥ ' if cap['bare_capped'] else ''}"
                          f"{f(cap['bare_deliveries'], 0)} deliveries/s: {bound}{f(100 * share, 0)}%"
                          + (" (the bare relay passed every step: raise --ramp)" if cap["bare_capped"] and share >= 0.3 else ""),
                    # Against a bare relay that passed every step, only a share under 30% decides.
                    None if cap["bare_capped"] and share >= 0.3 else (share >= 0.3 if not math.isnan(share) else False)))
    pages = {p["notes"]: p for p in cfg.get("page", [])}
    name = "2,000-note page: same queries as 100-note page, render ≤ 3×"
    if 100 in pages and 2000 in pages:
        small, big = pages[100], pages[2000]
        r = big["median_ms"] / small["median_ms"]
        first = f"; with no fragment kept {f(big['first_ms'] / small['first_ms'], 2)}×" if "first_ms" in big else ""
        out.append((name, f"{small['queries']} → {big['queries']} queries, render {f(r, 2)}×{first}",
                    big["queries"] == small["queries"] and r <= 3))
    else:
        out.append((name, "not measured", None))
    c = cfg.get("catchup")
    name = "catch-up of 500 events < 1 s"
    if c:
        out.append((name, f"{f(c['median_s'] * 1000, 0)} ms (median of runs), in order: {'yes' if c['in_order'] else 'NO'}",
                    c["median_s"] < 1 and c["in_order"] and c["behind"] >= 500))
    else:
        out.append((name, "not measured", None))
    return out


def markdown(results: dict[str, Any], *, command: str, date: str, options: dict[str, Any]) -> str:
    m = machine()
    lines = [
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['ram']} RAM, Python {m['python']}, {m['os']}  ",
        f"Date: {date}; load average at the end {m['load']}  ",
        f"Code: {source()}  ",
        f"Command: `{command}`  ",
        "Options: " + ", ".join(f"{k}={v}" for k, v in options.items()),
        "",
    ]
    for cfg in results["configs"]:
        name = cfg["config"]
        lines.append(f"### {name}")
        lines.append("")
        if "skipped_reason" in cfg:
            lines += [f"Skipped: {cfg['skipped_reason']}", ""]
            continue
        lines += _fanout(cfg) + _capacity(cfg) + _many(cfg) + _page(cfg) + _catchup(cfg)
        lines += ["Targets:", "", "| target | figure | met |", "|---|---|---|"]
        for target, figure, met in targets(cfg):
            lines.append(f"| {target} | {figure} | {'–' if met is None else ('yes' if met else 'no')} |")
        if cfg.get("skipped"):
            lines += ["", "Not run (time budget): " + ", ".join(cfg["skipped"])]
        for failure in cfg.get("failed", []):
            lines += ["", f"Failed: {failure}"]
        lines.append("")
    return "\n".join(lines)


def _fanout(cfg: dict[str, Any]) -> list[str]:
    blocks = [b for b in cfg.get("fanout", []) if b.get("runs")]
    if not blocks:
        return []
    out = [
        "Fan-out-complete (ms, POST start → last participant has the push; median over the reps of each "
        "rep's percentile, max over all reps) and per-recipient latency; app/bare = median of the ABAB pairs' ratios:",
        "",
        "| N | changes/s | reps | app p50 | p95 | p99 | max | per-recipient p50 / p99 | bare p50 | p95 | p99 | max "
        "| app/bare p50 | app/bare p99 | POST p50 / p99 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for b in blocks:
        for r in b["runs"]:
            a, z = r["app"], r["bare"]
            out.append(
                f"| {r['n']} | {r['rate']:g} | {r['reps']} | {f(a['fanout']['p50'])} | {f(a['fanout']['p95'])} "
                f"| {f(a['fanout']['p99'])} | {f(a['fanout']['max'])} | {f(a['recipient']['p50'])} / {f(a['recipient']['p99'])} "
                f"| {f(z['fanout']['p50'])} | {f(z['fanout']['p95'])} | {f(z['fanout']['p99'])} | {f(z['fanout']['max'])} "
                f"| {f(r['ratio_p50'], 2)} ({f(r['ratio_p50_range'][0], 1)}–{f(r['ratio_p50_range'][1], 1)}) "
                f"| {f(r['ratio_p99'], 2)} ({f(r['ratio_p99_range'][0], 1)}–{f(r['ratio_p99_range'][1], 1)}) "
                f"| {f(a['post']['p50'])} / {f(a['post']['p99'])} |"
            )
    out += [
        "",
        "Delivery (every participant, every change, once, in seq order) and resources (server CPU in % of one "
        "core during the runs, summed over server processes; RSS growth per connected participant; "
        "the benchmark client's own CPU; pushes per websocket message the app sent, above 1 when a busy "
        "board's waiting pushes went out together):",
        "",
        "| N | changes/s | app delivered | bare delivered | push bytes | pushes/message | app CPU % | bare CPU % | client CPU % (app run) "
        "| app RSS | app KiB/conn | bare KiB/conn | app connect + settle s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for b in blocks:
        ac, bc = b["app_connect"], b["bare_connect"]
        for r in b["runs"]:
            a, z = r["app"], r["bare"]
            out.append(
                f"| {r['n']} | {r['rate']:g} | {delivered(a)} | {delivered(z)} | {f(a['push_bytes'], 0)} "
                f"| {f(a.get('pushes_per_message', math.nan), 2)} | {f(a['server_cpu_pct'], 0)} | {f(z['server_cpu_pct'], 0)} | {f(a['client_cpu_pct'], 0)} "
                f"| {f(a['server_rss'] / 2**20, 0)} MiB | {f(ac['rss_per_conn'] / 1024, 0)} | {f(bc['rss_per_conn'] / 1024, 0)} "
                f"| {f(ac['connect_s'], 1)} + {f(ac['settle_s'], 1)}"
                f"{' (' + str(ac['retries']) + ' handshakes retried)' if ac.get('retries') else ''} |"
            )
    errors = [r["app"]["first_error"] for b in blocks for r in b["runs"] if r["app"]["first_error"]]
    if errors:
        out += ["", f"First failed app post: `{errors[0][:160]}`"]
    return out + [""]


def _capacity(cfg: dict[str, Any]) -> list[str]:
    cap = next((b["capacity"] for b in cfg.get("fanout", []) if "capacity" in b), None)
    if cap is None:
        return []
    out = [
        f"Capacity on one {cap['n']}-person board (a step passes with p99 fan-out-complete < 100 ms, nothing lost, "
        "and ≥ 90% of the rate achieved):",
        "",
        "| changes/s | app p50 / p99 ms | app | bare p50 / p99 ms | bare |",
        "|---|---|---|---|---|",
    ]
    def cell(s: dict[str, Any], side: str) -> tuple[str, str]:
        r = s.get(side)
        if r is None:
            return "–", "not run"
        verdict = "pass" if r["ok"] else "FAIL"
        return (f"{f(r['p50'])} / {f(r['p99'])}",
                f"{verdict} (delivered {f(r['delivered_ratio'], 4)}, {f(r['achieved_rate'])}/s, "
                f"CPU {f(r['server_cpu_pct'], 0)}%, client {f(r['client_cpu_pct'], 0)}%"
                + (f", {f(r['pushes_per_message'], 2)} pushes/message" if side == "app" else "") + ")")

    for s in cap["steps"]:
        a, av = cell(s, "app")
        b, bv = cell(s, "bare")
        out.append(f"| {s['rate']:g} | {a} | {av} | {b} | {bv} |")
    share = cap["app_deliveries"] / cap["bare_deliveries"] if cap["bare_deliveries"] else math.nan
    out += [
        "",
        f"Capacity: app {f(cap['app_deliveries'], 0)} deliveries/s ({cap['app_rate']:g} changes/s × {cap['n']}), "
        f"bare {'≥ ' if cap['bare_capped'] else ''}{f(cap['bare_deliveries'], 0)} deliveries/s "
        f"({cap['bare_rate']:g} changes/s{', the top of the ramp' if cap['bare_capped'] else ''}): "
        f"app/bare {'≤ ' if cap['bare_capped'] else ''}{f(100 * share, 0)}%.",
        "",
    ]
    return out


def _many(cfg: dict[str, Any]) -> list[str]:
    m = cfg.get("manyboards")
    if not m or "summary" not in m:
        return []
    r = m["summary"]
    a, z = r["app"], r["bare"]
    return [
        f"Many boards: {m['boards']} boards × {m['people']} participants, {m['rate']:g} change/s per board "
        f"({m['boards'] * m['rate']:g}/s in all), {r['reps']} ABAB reps:",
        "",
        "| | fan-out p50 | p95 | p99 | max | delivered | server CPU % | KiB/conn |",
        "|---|---|---|---|---|---|---|---|",
        f"| app | {f(a['fanout']['p50'])} | {f(a['fanout']['p95'])} | {f(a['fanout']['p99'])} | {f(a['fanout']['max'])} "
        f"| {delivered(a)} | {f(a['server_cpu_pct'], 0)} | {f(m['app_connect']['rss_per_conn'] / 1024, 0)} |",
        f"| bare | {f(z['fanout']['p50'])} | {f(z['fanout']['p95'])} | {f(z['fanout']['p99'])} | {f(z['fanout']['max'])} "
        f"| {delivered(z)} | {f(z['server_cpu_pct'], 0)} | {f(m['bare_connect']['rss_per_conn'] / 1024, 0)} |",
        f"| app/bare | {f(r['ratio_p50'], 2)} | | {f(r['ratio_p99'], 2)} | | | | |",
        "",
    ]


def _page(cfg: dict[str, Any]) -> list[str]:
    pages = cfg.get("page")
    if not pages:
        return []
    out = [
        "Board page (GET /boards/<id>/): server-side median through Django's test client in the server's "
        "environment, the same with no note fragment kept (as after a restart), and over loopback from the benchmark:",
        "",
        "| notes | server median ms | no fragment kept ms | loopback median ms | SQL queries | HTML KiB |",
        "|---|---|---|---|---|---|",
    ]
    for p in pages:
        out.append(f"| {p['note_count']:,} | {f(p['median_ms'])} | {f(p.get('first_ms', math.nan))} | "
                   f"{f(p['loopback_ms'])} | {p['queries']} | {f(p['bytes'] / 1024, 0)} |")
    return out + [""]


def _catchup(cfg: dict[str, Any]) -> list[str]:
    c = cfg.get("catchup")
    if not c:
        return []
    return [
        f"Catch-up: a participant {c['behind']} events behind connects with ?since=last−{c['behind']}: "
        f"{f(c['median_s'] * 1000, 0)} ms median until it has the last seq "
        f"(min {f(c['min_s'] * 1000, 0)}, max {f(c['max_s'] * 1000, 0)}); replayed in order: {'yes' if c['in_order'] else 'NO'}.",
        "",
    ]


def profile_text(results: dict[str, Any]) -> str:
    out = []
    for cfg in results["configs"]:
        for b in cfg.get("fanout", []):
            p = b.get("profile")
            if not p:
                continue
            out.append(f"Profile ({cfg['config']}, N={b['n']}): {p.get('path')}")
            if "error" in p:
                out.append("  py-spy failed: " + p["error"])
                continue
            out.append(f"  samples: {p['samples'][0][1] if p['samples'] else 0}; by thread: "
                       + ", ".join(f"{name} {share:.0f}%" for name, share in p.get("threads", [])))
            out.append("  self time:")
            out += [f"    {share:5.1f}%  {name}" for name, share in p["self"]]
            out.append("  inclusive:")
            out += [f"    {share:5.1f}%  {name}" for name, share in p["inclusive"]]
    return "\n".join(out)
