"""Render a benchmark's results (the dict written to ``results.json``) as a text report or Markdown tables.

``python bench/render.py RESULTS.json [--markdown]`` re-renders a saved run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

WIDTH = 62
UNCLEAN_BATCH = "UNEXPECTED outcomes: not a normal batch (see the table)"
NAN = float("nan")


def _seconds(value: float) -> str:
    """Two decimals; one from 100 s on (a batch row), so the columns keep their width."""
    return "-" if math.isnan(value) else f"{value:.1f}" if value >= 100 else f"{value:.2f}"


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 1000:.0f} ms"


def _outcomes(row: dict[str, Any]) -> str:
    seen = list(dict.fromkeys(row["outcomes"]))
    text = " | ".join(seen[:2]) + (f" (+{len(seen) - 2} other)" if len(seen) > 2 else "")
    if row["failures"]:
        text += f"  FAILED {len(row['failures'])}x: {row['failures'][0]}"
    return text


def _skipped(data: dict[str, Any]) -> list[dict[str, str]]:
    """Rows this run could not time, and why (``todo`` in results of older runs)."""
    return list(data.get("skipped", data.get("todo", [])))


def _groups(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The groups that have a row (timed or skipped) in this run."""
    present = {row["group"] for row in data["variants"].values()} | {row["group"] for row in _skipped(data)}
    return [(group, title) for group, title in data["groups"].items() if group in present]


def _target_text(target: float | str | None) -> str:
    """A ratio's target as shown: "<= 1.5" (results of older runs hold the bare number of a "<=" target)."""
    if not target:
        return ""
    return target if isinstance(target, str) else f"<= {target}"


def _rate(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def _part(data: dict[str, Any], name: str) -> dict[str, Any] | None:
    part = data["breakdown"].get(name)
    return None if part is None or "error" in part else part


# --- text ----------------------------------------------------------------------------------------


def text(data: dict[str, Any]) -> str:
    """The whole report as plain text, for the terminal."""
    lines = [_header(data), *_busy(data)]
    lines += _timings_table(data)
    lines += _throughput(data)
    lines += _ratios_and_targets(data)
    lines += _breakdown(data)
    return "\n".join(lines)


def _header(data: dict[str, Any]) -> str:
    m = data["machine"]
    header = (
        f"{m['date']} · {m['cpus']} CPUs · {m['memory']} · Python {m['python']} · {m['redis_server']} · "
        f"commit {m['commit']} · repeat {data['repeat']}"
    )
    if data.get("throughput"):
        header += f" (batch rows: {data['batch_rounds']})"
    if data.get("quick"):
        header += " · --quick"
    if data.get("only"):
        header += f" · --only {' '.join(data['only'])}"
    return header


def _busy(data: dict[str, Any]) -> list[str]:
    m = data["machine"]
    load = max(m["load_before"][0], m["load_after"][0])
    notes = []
    if load > (m["cpus"] or 1):
        notes.append(
            f"WARNING: load average {load:.1f} on {m['cpus']} CPUs: other work competed with these runs; "
            "timings are inflated (compare ratios, or rerun on a quiet machine)"
        )
    if m.get("sandbox_user_tasks", 0) > 0:
        notes.append(
            f"WARNING: {m['sandbox_user_tasks']} threads of sandboxed workers left over by another run were "
            "running before the benchmark: they compete for the CPU"
        )
    return notes


def _timings_table(data: dict[str, Any]) -> list[str]:
    lines = ["", f"  {'what (wall clock of the whole command, s)':{WIDTH}} {'median':>7} {'IQR':>11} {'min-max':>11} n"]
    for group, title in _groups(data):
        lines += ["", title]
        for row in (r for r in data["variants"].values() if r["group"] == group):
            s = row["summary"]
            iqr = f"{_seconds(s['q1'])}-{_seconds(s['q3'])}"
            span = f"{_seconds(s['min'])}-{_seconds(s['max'])}"
            line = f"  {row['label']:{WIDTH}} {_seconds(s['median']):>7} {iqr:>11} {span:>11} {s['n']}"
            lines.append(f"{line}   {_outcomes(row)}")
        lines += [f"  {t['label']:{WIDTH}} SKIPPED: {t['status']}" for t in _skipped(data) if t["group"] == group]
    return lines


def _throughput(data: dict[str, Any]) -> list[str]:
    rows = data.get("throughput") or []
    if not rows:
        return []
    title = "batch throughput: submissions per minute (class / wall clock)"
    lines = ["", f"  {title:{WIDTH}} {'median':>7} {'IQR':>11} {'min-max':>11} n   s per class"]
    for row in rows:
        r, seconds = row["per_minute"], _seconds(row["seconds"]["median"])
        iqr, span = f"{_rate(r['q1'])}-{_rate(r['q3'])}", f"{_rate(r['min'])}-{_rate(r['max'])}"
        line = f"  {row['label']:{WIDTH}} {_rate(r['median']):>7} {iqr:>11} {span:>11} {r['n']}   {seconds}"
        lines.append(line + ("" if row.get("clean", True) else f"   {UNCLEAN_BATCH}"))
    return lines


def _ratios_and_targets(data: dict[str, Any]) -> list[str]:
    lines = ["", "ratios (median of round-by-round ratios, min-max)"] if data["ratios"] else []
    for row in data["ratios"]:
        goal = f"   target {_target_text(row['target'])}" if row["target"] else ""
        lines.append(f"  {row['name']:{WIDTH}} {row['median']:6.2f}x  {row['min']:.2f}-{row['max']:.2f}{goal}")
    lines += ["", "targets (issues 3 and 7)"] if data["targets"] else []
    for row in data["targets"]:
        lines.append(f"  {row['name']:{WIDTH}} {_measured(row):>10}  {row['status']}")
    return lines


def _measured(target: dict[str, Any]) -> str:
    if "unit" not in target:
        return ""
    unit = target["unit"]
    return f"{target['value']:.1f}{unit}" if unit == "/min" else f"{target['value']:.2f} {unit}"


def grading_rows(data: dict[str, Any]) -> list[tuple[str, float]]:
    """(label, median seconds) of one sandboxed grading, own server: the pieces, the total, the difference.

    Empty when this run left out the rows it needs (``--only``).
    """
    variants = data["variants"]
    if not {"cli_startup", "probe_full", "grade_own"} <= variants.keys():
        return []
    wrapper = _part(data, "wrapper") or {}
    rows = [
        ("grader CLI start-up: python, imports, argument parsing", variants["cli_startup"]["summary"]["median"]),
        ("grader process otherwise: provisioning, copy, report (1 profiled run)", wrapper.get("other_s", NAN)),
        ("  of which Redis provisioning: start, PING, INFO, stop (timed alone)", _median(data, "provisioning")),
        ("the grader's pytest process, sandboxed (phases below)", variants["probe_full"]["summary"]["median"]),
    ]
    total = variants["grade_own"]["summary"]["median"]
    parts = rows[0][1] + rows[1][1] + rows[3][1]
    return [
        *rows,
        ("total: grader grade solutions --sandbox full (own server)", total),
        ("  total less the parts: run-to-run variation of separately timed runs", total - parts),
    ]


def _median(data: dict[str, Any], name: str) -> float:
    part = _part(data, name)
    return float(part["median"]) if part is not None else NAN


def phase_rows(data: dict[str, Any]) -> list[tuple[str, float, float]]:
    """(label, sandboxed, in-process) median seconds of each phase of the grader's pytest process."""
    full, off = _part(data, "phases"), _part(data, "phases_in_process")
    if full is None:
        return []
    rows = []
    for key, label in full["labels"].items():
        rows.append((label, full["phases"][key]["median"], off["phases"][key]["median"] if off else NAN))
    rows.append(("whole process, launch to exit", full["total"]["median"], off["total"]["median"] if off else NAN))
    return rows


def _breakdown(data: dict[str, Any]) -> list[str]:
    if not data["breakdown"]:
        return []  # --only without the parts
    lines = ["", "where the time goes: one sandboxed grading (grader grade, own server), medians"]
    lines += [f"  {label:{WIDTH + 8}} {_ms(seconds):>8}" for label, seconds in grading_rows(data)]
    rows = phase_rows(data)
    if rows:
        lines += [
            "",
            f"  {'inside the grader pytest process, by phase (medians)':{WIDTH + 8}} {'sandbox':>8} {'in-proc':>8}",
        ]
        lines += [f"  {label:{WIDTH + 8}} {_ms(full):>8} {_ms(off):>8}" for label, full, off in rows]
    phases = _part(data, "phases")
    if phases is not None:
        lines.append(f"  workers started per sandboxed run: {phases['workers_started_per_run']}")
        lines.append(f"  slowest test bodies: {', '.join(phases['slowest_tests'])}")
    for name, part in data["breakdown"].items():
        if "error" in part:
            lines.append(f"  ({name} could not be measured: {part['error']})")
    return lines + _spawn(data) + _imports(data) + _clients(data) + _calls(data) + _profile(data)


def _spawn(data: dict[str, Any]) -> list[str]:
    spawn = _part(data, "spawn")
    if spawn is None:
        return []
    lines = ["", "start-up and worker spawn, piece by piece (whole commands timed from outside, medians)"]
    return lines + [f"  {row['label']:{WIDTH + 8}} {_ms(row['median']):>8}" for row in spawn.values()]


def _imports(data: dict[str, Any]) -> list[str]:
    imports = _part(data, "imports")
    if imports is None:
        return []
    lines = ["", f"imports in the pytest process (-X importtime, self time by package): {_ms(imports['total_s'])}"]
    lines += [f"  {name:{WIDTH + 8}} {_ms(seconds):>8}" for name, seconds in imports["top"].items()]
    return [*lines, f"  {'everything else':{WIDTH + 8}} {_ms(imports['rest_s']):>8}"]


def _clients(data: dict[str, Any]) -> list[str]:
    cost, phases = _part(data, "client_cost"), _part(data, "phases")
    if cost is None or phases is None:
        return []
    default, lean = cost["default"]["median"], cost["no_setinfo"]["median"]
    connections = phases["connections_per_run"]
    return [
        "",
        "a new redis-py client, PING, close (medians per client)",
        f"  {'redis-py default: CLIENT SETINFO, version read from metadata':{WIDTH + 8}} {default * 1000:6.2f} ms",
        f"  {'driver_info=None: no CLIENT SETINFO':{WIDTH + 8}} {lean * 1000:6.2f} ms",
        f"  connections the server accepted during one sandboxed run: {connections:.0f}; "
        f"at most {(default - lean) * connections * 1000:.0f} ms per run to save",
    ]


def _calls(data: dict[str, Any]) -> list[str]:
    calls = _part(data, "call_cost")
    if calls is None:
        return []
    labels = {
        "direct": "direct: the solution imported here, its own client",
        "proxy": "through the tracing proxy (the worker's path to Redis)",
        "worker": "through the sandbox: RPC to the confined worker, then the proxy",
    }
    lines = ["", "one student call, counter.get_pageviews (one GET), medians per call"]
    return lines + [f"  {labels[kind]:{WIDTH + 8}} {row['median'] * 1e6:6.0f} us" for kind, row in calls.items()]


def _profile(data: dict[str, Any]) -> list[str]:
    profile = _part(data, "profile")
    if profile is None:
        return []
    lines = ["", f"profile of the pytest process ({profile['tool']}, one run; {profile['file']})"]
    labels = profile.get("labels", {})
    return lines + [
        f"  {labels.get(name, name):{WIDTH + 8}} {_ms(seconds):>8}" for name, seconds in profile["hotspots"].items()
    ]


# --- Markdown ------------------------------------------------------------------------------------


def markdown(data: dict[str, Any]) -> str:
    """The timings, ratios, targets and breakdown as Markdown tables (for bench/README.md)."""
    lines = [
        f"_{_header(data)}_",
        "",
        "| what | median s | IQR | min-max | n | outcome |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for group, title in _groups(data):
        lines.append(f"| **{title}** | | | | | |")
        for row in (r for r in data["variants"].values() if r["group"] == group):
            s = row["summary"]
            cells = [row["label"], _seconds(s["median"]), f"{_seconds(s['q1'])}-{_seconds(s['q3'])}"]
            cells += [f"{_seconds(s['min'])}-{_seconds(s['max'])}", str(s["n"]), _outcomes(row).replace(" | ", " / ")]
            lines.append("| " + " | ".join(cells) + " |")
        lines += [f"| {t['label']} | SKIPPED | | | | {t['status']} |" for t in _skipped(data) if t["group"] == group]
    if data.get("throughput"):
        lines += [
            "",
            "| batch throughput | submissions/min | IQR | min-max | n | s per class |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row in data["throughput"]:
            r = row["per_minute"]
            label = row["label"] + ("" if row.get("clean", True) else f" ({UNCLEAN_BATCH})")
            cells = [label, _rate(r["median"]), f"{_rate(r['q1'])}-{_rate(r['q3'])}"]
            cells += [f"{_rate(r['min'])}-{_rate(r['max'])}", str(r["n"]), _seconds(row["seconds"]["median"])]
            lines.append("| " + " | ".join(cells) + " |")
    if data["ratios"]:
        lines += ["", "| ratio (median of round-by-round ratios) | median | min-max | target |", "|---|---:|---:|---:|"]
    for row in data["ratios"]:
        target = _target_text(row["target"])
        lines.append(f"| {row['name']} | {row['median']:.2f}x | {row['min']:.2f}-{row['max']:.2f} | {target} |")
    lines += ["", "| target | measured | status |", "|---|---:|---|"] if data["targets"] else []
    lines += [f"| {row['name']} | {_measured(row)} | {row['status']} |" for row in data["targets"]]
    grading = grading_rows(data)
    if grading:
        lines += ["", "| one sandboxed grading (own server) | median |", "|---|---:|"]
        lines += [f"| {label} | {_ms(seconds)} |" for label, seconds in grading]
    phases = phase_rows(data)
    if phases:
        lines += ["", "| inside the grader's pytest process | sandboxed | in-process |", "|---|---:|---:|"]
        lines += [f"| {label} | {_ms(full)} | {_ms(off)} |" for label, full, off in phases]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/render.py", description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a results.json written by bench/run.py")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables instead of text")
    args = parser.parse_args(argv)
    data = json.loads(args.results.read_text(encoding="utf-8"))
    print(markdown(data) if args.markdown else text(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
