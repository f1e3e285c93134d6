"""The validation-gate badge: one function, called by the common run picker
(:func:`dashboard.widgets.run_picker`), so every page that shows a run shows its gates.

The gates are judged by ``finmt evaluate`` on the validation segment (never test) and read
here from ``evaluation.json`` (:mod:`finmt_core.evaluation.gates`). A failed run says which
gate failed and why: value vs threshold vs the best baseline on the same validation rows.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from finmt_core.evaluation.gates import gate_summary
from finmt_core.io_safety import escape_markdown
from finmt_core.training.runs import RunDir

#: gate state -> (badge colour, icon, text)
GATE_STYLE: dict[str, tuple[str, str, str]] = {
    "passed": ("green", ":material/verified:", "gates passed"),
    "failed": ("red", ":material/gpp_bad:", "gates failed"),
    "off": ("gray", ":material/remove_moderator:", "gates off"),
    "unknown": ("gray", ":material/help:", "gates not judged"),
}


def gate_table(gates: dict[str, Any]) -> pd.DataFrame:
    """One row per (task, gate): verdict, value, rule, the best baseline's value on the same rows."""
    rows = []
    for task, t in gates.get("tasks", {}).items():
        for g in t.get("gates", []):
            th = g.get("threshold")
            rule = (f"within {th[0]:.3g} – {th[1]:.3g}" if isinstance(th, list)
                    else "–" if th is None else f"{g['op']} {th:.4g}")
            rows.append({"task": task, "gate": g["gate"].replace("_", " "), "passed": bool(g["passed"]),
                         "value": g.get("value"), "rule": rule, "best baseline": g.get("baseline") or "–",
                         "baseline value": g.get("baseline_value"), "validation rows": t.get("n_rows")})
    return pd.DataFrame(rows)


def _read(run: RunDir) -> dict[str, Any] | None:
    from dashboard import cache

    try:
        return cache.evaluation_file(run)
    except Exception:  # a damaged evaluation.json: the Evaluation page says so; the badge stays quiet
        return None


def gate_badge(run: RunDir, container: Any = None) -> str:
    """Show ``run``'s gate verdict as a badge, with the gates behind a popover; returns the
    state (``passed``, ``failed``, ``off`` or ``unknown``)."""
    from finmt_core.training.walk_forward import FOLDS_DIR, analysis_run

    box = container if container is not None else st
    evaluation = _read(run)
    if (evaluation is None or "gates" not in evaluation) and (run.path / FOLDS_DIR).is_dir():
        evaluation = _read(analysis_run(run))  # a walk-forward run whose last fold alone was evaluated
    gates = (evaluation or {}).get("gates")
    state, line = gate_summary(gates)
    if evaluation is None:
        line = "not evaluated yet: evaluate the run (Evaluation page or `finmt evaluate RUN`) to judge its gates"
    color, icon, text = GATE_STYLE[state]
    box.badge(text, icon=icon, color=color, help=line)  # type: ignore[attr-defined]
    if gates and gates.get("tasks"):
        with box.popover("Why" if state == "failed" else "Gates", icon=":material/rule:"):  # type: ignore[attr-defined]
            st.caption("Judged on the **validation** segment (never test), beside the best baseline on the same rows. "
                       + (gates.get("note") or ""))
            if gates.get("failed"):
                st.markdown("\n".join(f"- {escape_markdown(msg)}" for msg in gates["failed"]))
            st.dataframe(gate_table(gates), hide_index=True, column_config={
                "value": st.column_config.NumberColumn(format="%.4f"),
                "baseline value": st.column_config.NumberColumn(format="%.4f")})
    return state
