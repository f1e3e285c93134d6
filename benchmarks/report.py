"""The suite's outputs: a plain-text table (each figure beside its target) and a JSON file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from benchmarks.harness import Result


def _fmt(value: float | None) -> str:
    """Three significant figures, thousands separated; '-' for missing values."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    a = abs(value)
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 100:
        return f"{value:.0f}"
    if a >= 10:
        return f"{value:.1f}"
    if a >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_machine(machine: dict[str, Any]) -> str:
    return (
        f"machine: {machine.get('cpu_model', '?')}, {machine.get('usable_cores', '?')} usable cores "
        f"({machine.get('logical_cores', '?')} logical), {machine.get('memory_gb', '?')} GB, "
        f"torch {machine.get('torch_version', '?')} ({machine.get('torch_threads', '?')} threads), "
        f"device {machine.get('device', '?')}, OMP_WAIT_POLICY {machine.get('omp_wait_policy', '?')}, "
        f"1-min load avg at start {machine.get('load_avg_1m', '?')}, at end {machine.get('load_avg_1m_end', '?')}"
    )


def format_table(results: list[Result], machine: dict[str, Any]) -> str:
    """One row per figure: median, min, max, repeats, target and pass/miss."""
    header = ("figure", "unit", "median", "min", "max", "n", "target", "status")
    rows: list[tuple[str, ...]] = []
    for r in results:
        d = r.to_dict()
        target = "-" if r.target is None else f"{d['target_op']} {_fmt(r.target)}"
        rows.append(
            (r.figure, r.unit, _fmt(d["median"]), _fmt(d["min"]), _fmt(d["max"]), str(d["repeats"]), target,
             r.status.upper() if r.status in ("miss", "error") else r.status)
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    numeric = {2, 3, 4, 5}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [format_machine(machine), "", line(header), line(tuple("-" * w for w in widths))]
    out += [line(row) for row in rows]
    notes = [(r.figure, r.error or r.note) for r in results if r.error or r.note]
    if notes:
        out += ["", "notes:"]
        out += [f"  {fig}: {text}" for fig, text in notes]
    return "\n".join(out)


def write_json(path: Path, results: list[Result], machine: dict[str, Any], profile: str, wall_s: float) -> None:
    """``{"profile", "wall_s", "machine", "results": [{figure, unit, median, min, max, repeats,
    target, target_op, status, note, error, machine}, ...]}``."""
    payload = {
        "profile": profile,
        "wall_s": round(wall_s, 2),
        "machine": machine,
        "results": [r.to_dict(machine) for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    tmp.replace(path)
