"""Several runs side by side: config diff, test metrics beside baselines, seed groups, curves.

(``evaluation/compare.py`` is the other comparison: one model against its baselines on the
same rows, with uncertainty. This module lines up *runs*.)

* :func:`flatten_config` turns a run's ``config.yaml`` into dotted keys (``train.lr``,
  ``model.params.hidden``; tasks are keyed by their name: ``tasks.direction.horizon``).
* :func:`config_diff` keeps the keys whose values differ between the runs.
* :func:`metrics_table` reads each run's ``evaluation.json`` (test segment): index
  ``(task, metric, source)`` where source is ``model`` or a baseline scored on the same test rows
  of that run, one column per run. Backtest rows (``task == "backtest"``) hold the net strategy
  (``model``) beside the buy-and-hold benchmark.
* :func:`seed_groups` groups runs whose flattened configs are equal except for
  :data:`GROUPING_IGNORES` (the run name and the seed) and gives mean ± std (ddof 1) and n of
  each model metric.
* :func:`compare_runs` does all of it and says when the runs were not scored on the same rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from finmt_core.errors import RunError
from finmt_core.run import Run
from finmt_core.training.runs import RunDir

log = logging.getLogger(__name__)

#: flattened config keys that do not define an experiment: runs equal but for these form a group.
GROUPING_IGNORES = ("name", "train.seed", "train.heartbeat_s", "train.num_workers",
                    "data.storage", "data.storage_dir")  # where arrays live: same results
#: metrics shown by default when present (the headline of each task kind, and the row count).
DEFAULT_METRICS = ("n", "accuracy", "balanced_accuracy", "ic", "rank_ic", "mae", "pinball")
#: backtest metrics shown (net of costs for the model, and the benchmark).
BACKTEST_METRICS = ("sharpe", "annual_return", "max_drawdown", "avg_turnover")
MISSING = "–"
#: config keys shown first in a diff and a group's label (what a reader looks for first).
LEADING_KEYS = ("model.name", "preset", "data.source", "train.seed")
#: config keys named in a group's label (the rest are counted).
MAX_LABEL_KEYS = 3


def flatten_config(config: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys of a config dict (``ExperimentConfig.model_dump(mode="json")``).

    Nested dicts join with ``.``; the ``tasks`` list is keyed by task name; other lists become
    a JSON string so that they compare and display as one value.
    """
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            if not value and prefix:
                out[prefix] = "{}"
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif prefix == "tasks" and isinstance(value, list):
            for i, task in enumerate(value):
                name = task.get("name", str(i)) if isinstance(task, dict) else str(i)
                walk(f"tasks.{name}", task)
        elif isinstance(value, (list, tuple)):
            out[prefix] = json.dumps(value)
        else:
            out[prefix] = value

    walk("", config)
    return out


def run_config_flat(run: RunDir) -> dict[str, Any]:
    """The run's flattened config (RunError when config.yaml is missing or damaged)."""
    return flatten_config(run.config().model_dump(mode="json"))


def config_table(runs: Sequence[RunDir]) -> pd.DataFrame:
    """Every flattened config key (rows, sorted) by run (columns); ``None`` where a run lacks it."""
    flat = {r.name: run_config_flat(r) for r in runs}
    return pd.DataFrame(flat).sort_index().astype(object).where(lambda d: d.notna(), None)


def config_diff(runs: Sequence[RunDir], *, ignore: Sequence[str] = ("name",)) -> pd.DataFrame:
    """The config keys whose values differ between ``runs`` (rows: dotted key; columns: run).

    Values are compared by their JSON text so that ``1`` and ``1.0`` from YAML differ only if
    they are written differently; a key missing from a run counts as different.
    """
    table = config_table(runs)
    table = table.drop(index=[k for k in ignore if k in table.index])
    if table.empty:
        return table
    table = _collapse_partial_tasks(table)
    text = table.map(lambda v: json.dumps(v, sort_keys=True, default=str))
    differs = text.nunique(axis=1) > 1
    order = sorted(table.index[differs], key=lambda k: (LEADING_KEYS.index(k) if k in LEADING_KEYS else len(LEADING_KEYS), k))
    return table.loc[order]


def _collapse_partial_tasks(table: pd.DataFrame) -> pd.DataFrame:
    """A task that some runs lack becomes one row ``tasks.<name>`` (``target, h=<horizon>, <kind>``
    where the run has it, None where not) instead of one row per task setting."""
    task = pd.Series(table.index, index=table.index).str.extract(r"^tasks\.([^.]+)\.", expand=False)
    rows = []
    for name in task.dropna().unique():
        block = table.loc[task == name]
        has = block.notna().any(axis=0)
        if has.all():
            continue
        unknown = pd.Series("?", index=block.columns)
        field = {f: block.loc[f"tasks.{name}.{f}"].astype(str) if f"tasks.{name}.{f}" in block.index else unknown
                 for f in ("target", "horizon", "kind")}
        summary = field["target"] + ", h=" + field["horizon"] + ", " + field["kind"]
        rows.append(summary.where(has, None).rename(f"tasks.{name}"))
        table = table.drop(index=block.index)
    if not rows:
        return table
    out = pd.concat([table, pd.DataFrame(rows)]).astype(object)
    return out.where(out.notna(), None)


def _evaluation(run: RunDir) -> dict[str, Any] | None:
    """The run's evaluation.json, or None (logged) when it has none or it is damaged."""
    try:
        ev = Run.of(run).evaluation_file()
    except RunError as exc:
        log.info("%s", exc)
        return None
    if ev is None:
        log.info("run %r has no evaluation.json; run `finmt evaluate %s`", run.name, run.name)
    return ev


def _metric_rows(ev: dict[str, Any], metrics: Sequence[str] | None) -> dict[tuple[str, str, str], float]:
    rows: dict[tuple[str, str, str], float] = {}

    def keep(m: str) -> bool:
        return m in metrics if metrics else m in DEFAULT_METRICS

    def add(source: str, tasks: dict[str, Any]) -> None:
        for task, ms in (tasks or {}).items():
            for m, v in (ms or {}).items():
                if keep(m) and (v is None or isinstance(v, (int, float))) and not isinstance(v, bool):
                    rows[(task, m, source)] = np.nan if v is None else float(v)

    add("model", ev.get("tasks", {}))
    for name, tasks in (ev.get("baselines") or {}).items():
        add(name, tasks)
    # baselines are scored on the model's rows: their row count repeats the model's, keep one
    rows = {k: v for k, v in rows.items() if not (k[1] == "n" and k[2] != "model")}
    bt = ((ev.get("backtest") or {}).get("metrics")) or {}
    for source, key in (("model", "net"), ("benchmark", "benchmark")):
        for m in BACKTEST_METRICS:
            v = (bt.get(key) or {}).get(m)
            if v is not None or key in bt:
                rows[("backtest", m, source)] = np.nan if v is None else float(v)
    return rows


def available_metrics(runs: Sequence[RunDir]) -> list[str]:
    """Numeric task metrics found in the runs' evaluation.json files (sorted; defaults first)."""
    found: set[str] = set()
    for r in runs:
        ev = _evaluation(r) or {}
        for ms in (ev.get("tasks") or {}).values():
            found.update(m for m, v in (ms or {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    return [m for m in DEFAULT_METRICS if m in found] + sorted(found - set(DEFAULT_METRICS))


def metrics_table(runs: Sequence[RunDir], metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Test metrics of the model beside each baseline, one column per run.

    Args:
        metrics: metric names to keep (default :data:`DEFAULT_METRICS`).

    Returns:
        float frame, index ``(task, metric, source)`` (``source``: ``model``, a baseline name,
        or ``benchmark`` for backtest rows; ``model`` first), columns the run names (a run
        without evaluation.json is an all-NaN column). Empty when no run is evaluated.
    """
    cols = {}
    for r in runs:
        ev = _evaluation(r)
        cols[r.name] = pd.Series(_metric_rows(ev, metrics) if ev else {}, dtype=float)
    table = pd.DataFrame(cols)
    if table.empty:
        return pd.DataFrame(columns=[r.name for r in runs], index=pd.MultiIndex.from_tuples([], names=["task", "metric", "source"]))
    table.index.names = ["task", "metric", "source"]
    order = table.index.to_frame(index=False)
    order["_src"] = (order["source"] != "model").astype(int)
    order["_task"] = (order["task"] == "backtest").astype(int)
    order = order.sort_values(["_task", "task", "metric", "_src", "source"])
    return table.loc[pd.MultiIndex.from_frame(order[["task", "metric", "source"]])]


def group_key(flat: dict[str, Any], ignore: Sequence[str] = GROUPING_IGNORES) -> str:
    """JSON text of a flattened config without the ignored keys (equal text = same group)."""
    return json.dumps({k: v for k, v in flat.items() if k not in ignore}, sort_keys=True, default=str)


def seed_groups(runs: Sequence[RunDir], metrics: pd.DataFrame | None = None,
                ignore: Sequence[str] = GROUPING_IGNORES, by: Sequence[str] | None = None) -> pd.DataFrame:
    """Runs grouped by everything but the seed, with mean ± std of each model metric.

    Args:
        ignore: flattened config keys left out of the grouping (default: name and seed).
        by: group by only these keys instead (e.g. ``["model.name"]``; ``[]``: one group per run).

    Returns:
        one row per group: ``group`` (the keys that tell the groups apart, or ``all runs``),
        ``runs`` (comma-separated names), ``n`` (runs in the group), and per model metric
        ``<task>/<metric>`` the text ``mean ± std`` plus numeric ``<task>/<metric> mean`` /
        ``std`` / ``n`` columns (std over the runs with the metric, ddof 1; NaN for one run).
    """
    flats = {r.name: run_config_flat(r) for r in runs}
    if by is not None:
        keys = {name: json.dumps([flat.get(k) for k in by], default=str) if by else name for name, flat in flats.items()}
    else:
        keys = {name: group_key(flat, ignore) for name, flat in flats.items()}
    members: dict[str, list[str]] = {}
    for name, key in keys.items():
        members.setdefault(key, []).append(name)
    diff = config_diff(runs, ignore=tuple(ignore))
    if by:
        diff = diff.loc[[k for k in by if k in diff.index]]
    if metrics is None:
        metrics = metrics_table(runs)
    model = metrics.xs("model", level="source") if len(metrics) else pd.DataFrame()
    rows = []
    for names in members.values():
        parts = [f"{k}={flats[names[0]].get(k)}" for k in diff.index]
        if len(parts) > MAX_LABEL_KEYS:  # e.g. two models: every model.params key differs
            parts = [*parts[:MAX_LABEL_KEYS], f"+{len(parts) - MAX_LABEL_KEYS} more"]
        label = names[0] if by is not None and not by else ", ".join(parts) or "all runs"
        row: dict[str, Any] = {"group": label, "runs": ", ".join(names), "n": len(names)}
        for (task, metric), values in model[names].iterrows() if len(model) else []:
            if metric == "n":  # a row count, not a result
                continue
            v = values.dropna()
            mean = float(v.mean()) if len(v) else np.nan
            std = float(v.std(ddof=1)) if len(v) > 1 else np.nan
            row[f"{task}/{metric}"] = fmt_mean_std(mean, std, len(v))
            row[f"{task}/{metric} mean"], row[f"{task}/{metric} std"], row[f"{task}/{metric} n"] = mean, std, len(v)
        rows.append(row)
    return pd.DataFrame(rows)


def fmt_mean_std(mean: float, std: float, n: int) -> str:
    """``0.5123 ± 0.0040 (n=3)``; ``–`` without values; no ± for a single run."""
    if n == 0 or not np.isfinite(mean):
        return MISSING
    if n == 1 or not np.isfinite(std):
        return f"{mean:.4f} (n=1)"
    return f"{mean:.4f} ± {std:.4f} (n={n})"


def curve_columns(metrics_by_run: dict[str, pd.DataFrame]) -> list[str]:
    """Numeric metrics-log columns logged by at least one run (losses first), for overlays."""
    seen: dict[str, None] = {}
    for m in metrics_by_run.values():
        for c in m.columns:
            if c not in ("epoch", "time") and pd.api.types.is_numeric_dtype(m[c]) and m[c].notna().any():
                seen[str(c)] = None
    first = [c for c in ("val_loss", "train_loss", "monitor", "val_score") if c in seen]
    return first + sorted(c for c in seen if c not in first)


@dataclass
class RunComparison:
    """What :func:`compare_runs` found (frames described in the functions above)."""

    runs: list[str]
    config_diff: pd.DataFrame
    metrics: pd.DataFrame
    groups: pd.DataFrame
    test_rows: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (NaN -> None)."""
        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and not np.isfinite(v) else v

        metrics = [{"task": t, "metric": m, "source": s, **{k: clean(v) for k, v in row.items()}}
                   for (t, m, s), row in self.metrics.iterrows()]
        return {
            "runs": self.runs,
            "config_diff": {k: {r: clean(v) for r, v in row.items()} for k, row in self.config_diff.iterrows()},
            "metrics": metrics,
            "groups": [{k: clean(v) for k, v in row.items()} for row in self.groups.to_dict("records")],
            "test_rows": [{k: clean(v) for k, v in row.items()} for row in self.test_rows.reset_index().to_dict("records")],
            "warnings": self.warnings,
        }


def _test_rows(runs: Sequence[RunDir]) -> pd.DataFrame:
    rows = {}
    for r in runs:
        ev = _evaluation(r) or {}
        test = (ev.get("splits") or {}).get("test") or [None, None]
        rows[r.name] = {"evaluated": bool(ev), "test_first": test[0], "test_last": test[1],
                        "n_test_rows": (ev.get("run") or {}).get("n_test_rows"), "data": (ev.get("run") or {}).get("data")}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "run"
    return frame


def compare_runs(runs: Sequence[RunDir], metrics: Sequence[str] | None = None) -> RunComparison:
    """Compare ``runs`` (at least two, distinct): see the module doc.

    Raises:
        RunError: fewer than two runs, a run named twice, or a run without a readable config.
    """
    names = [r.name for r in runs]
    if len(names) < 2:
        raise RunError(f"compare needs at least two runs, got {len(names)} ({', '.join(names) or 'none'}); "
                       "name two or more runs")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise RunError(f"run(s) {', '.join(dup)} named twice; name each run once")
    table = metrics_table(runs, metrics)
    rows = _test_rows(runs)
    warnings = [f"{n}: not evaluated yet (run `finmt evaluate {n}`); its metric column is empty"
                for n, ok in rows["evaluated"].items() if not ok]
    scored = rows[rows["evaluated"]]
    if len(scored) > 1 and scored[["test_first", "test_last", "n_test_rows", "data"]].astype(str).nunique().gt(1).any():
        warnings.append("the runs were not scored on the same test rows (different data, split or tasks): "
                        "compare each model with its baselines within its own column, not across columns")
    return RunComparison(runs=names, config_diff=config_diff(runs), metrics=table,
                         groups=seed_groups(runs, table), test_rows=rows, warnings=warnings)
