"""The Home page's runs table: one row per run (state, model, headline, progress, labels) and
its filters, as plain data the page shows.

The headline numbers come from :func:`finmt_core.evaluation.headline.headline_scores`; this
module only words them (percent for shares, 3 decimals otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dashboard import cache, fmt, jobs
from dashboard import widgets as w
from finmt_core.evaluation.headline import headline_scores
from finmt_core.training.run_admin import is_trial, read_meta
from finmt_core.training.run_state import DAMAGED_STATE
from finmt_core.training.runs import RunDir

#: shares shown in percent ("coverage 100.0 %", never "coverage 1")
PERCENT_METRICS = {"accuracy", "balanced_accuracy", "directional_accuracy", "coverage", "hit_rate"}
#: columns the search box looks in
SEARCHED = ["run", "model", "tasks", "tags", "notes", "headline"]


def headline(evaluation: dict | None) -> str:
    """``direction: accuracy 53.2 % (best baseline 51.1 %)`` per task, from evaluation.json."""
    parts = []
    for row in headline_scores(evaluation).to_dict("records"):
        metric = row["metric"]
        shown = fmt.pct if metric in PERCENT_METRICS else (lambda v: fmt.num(v, ".3f"))
        best = row["best_baseline"]
        parts.append(f"{row['task']}: {metric.replace('_', ' ')} {shown(row['model'])}"
                     + (f" (best baseline {shown(best)})" if pd.notna(best) else ""))
    return " · ".join(parts)


def headline_of(run: RunDir) -> str:
    """The run's headline from evaluation.json; a damaged file says so (one line) instead."""
    try:
        return headline(cache.evaluation_file(run))
    except Exception as exc:  # damaged evaluation.json: the message names the file and the fix
        return str(exc)[:200]


def runs_table(runs: Sequence[RunDir]) -> tuple[pd.DataFrame, int]:
    """One row per run (``run``, ``state``, ``model``, ``headline``, ``progress``, ``best val
    loss``, ``tasks``, ``data``, ``tags``, ``notes``, ``trial``) and the number of active runs.
    A run whose files cannot be read is listed as ``unreadable`` with the reason."""
    rows, active = [], 0
    for run in runs:
        try:
            view, cfg = jobs.job_view(run), cache.config(run)
        except Exception as exc:  # a half-written or hand-edited run: list it, do not crash
            rows.append({"run": run.name, "state": "unreadable", "model": "", "tasks": "",
                         "progress": 0.0, "headline": str(exc)[:120], "tags": "", "notes": "", "trial": False})
            continue
        active += view.active
        meta = read_meta(run)
        rows.append({
            "run": run.name,
            "state": w.state_text(view.state),
            "model": cfg.model.name,
            "headline": (view.error if view.state == DAMAGED_STATE else headline_of(run))
            or (view.error or view.message or ""),
            "progress": view.progress,
            "best val loss": view.best_val_loss if view.best_val_loss is not None else float("nan"),
            "tasks": ", ".join(t.name for t in cfg.tasks),
            "data": fmt.source_name(cfg.data.source),
            "tags": ", ".join(meta.tags),
            "notes": meta.notes,
            "trial": is_trial(run),
        })
    return pd.DataFrame(rows), active


def tag_set(tags: object) -> set[str]:
    """``"a, b"`` -> ``{"a", "b"}`` (a cell of the ``tags`` column)."""
    return {t.strip() for t in str(tags).split(",") if t.strip()}


def all_tags(table: pd.DataFrame) -> list[str]:
    """Every tag used in the table, sorted."""
    return sorted(set().union(*map(tag_set, table["tags"]))) if len(table) else []


def filter_table(table: pd.DataFrame, query: str = "", states: Sequence[str] = (), tags: Sequence[str] = (),
                 trials: bool = False) -> pd.DataFrame:
    """The rows of :func:`runs_table` that match: ``query`` (case-insensitive, in any of
    :data:`SEARCHED`), one of ``states``, one of ``tags``, and tuning trials only when ``trials``."""
    keep = pd.Series(True, index=table.index)
    if query:
        text = table[SEARCHED].astype(str).agg(" ".join, axis=1)
        keep &= text.str.contains(query, case=False, regex=False)
    if states:
        keep &= table["state"].isin(states)
    if tags:
        keep &= table["tags"].map(lambda v: bool(set(tags) & tag_set(v)))
    if not trials:
        keep &= ~table["trial"].astype(bool)
    return table[keep]


def shown_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table as shown: without the ``trial`` flag, the best validation loss to 4 decimals
    (a dash, never "None", for runs without one)."""
    shown = table.drop(columns=["trial"])
    if "best val loss" in shown:
        shown["best val loss"] = shown["best val loss"].map(lambda v: fmt.num(v, ".4f"))
    return shown


def state_counts(table: pd.DataFrame) -> dict[str, int]:
    """``runs``, ``running``, ``queued``, ``done`` and ``failed_or_cancelled`` counts."""
    states = table["state"] if len(table) else pd.Series(dtype=object)
    return {"runs": len(table), "running": int((states == "running").sum()), "queued": int((states == "queued").sum()),
            "done": int((states == "done").sum()),
            "failed_or_cancelled": int(states.isin(["failed", "cancelled"]).sum())}
