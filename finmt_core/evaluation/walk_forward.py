"""Walk-forward evaluation: train and evaluate one run per fold, aggregate with spread.

Folds come from :func:`finmt_core.data.splits.walk_forward_splits` (consecutive test
blocks; expanding or rolling train windows, purged + embargoed). Each fold becomes an
ordinary run directory ``<name>-fold<k>`` trained by :func:`finmt_core.training.train_run`
on the panel cut at the fold's last test date (rolling folds also cut the start, keeping
:data:`WARMUP` extra days for feature warm-up), with explicit ``split.val_start`` /
``split.test_start`` at the fold's boundaries — so every fold can be inspected, evaluated and
reported like any run. Metrics are then aggregated as mean ± std over folds, for the model and
for each baseline.

``finmt train`` with ``split.folds > 1`` keeps the folds inside ONE run directory instead
(:func:`finmt_core.training.walk_forward.train_walk_forward`, same :func:`fold_configs`);
:func:`evaluate_walk_forward` scores such a run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from finmt_core.config import ExperimentConfig
from finmt_core.errors import ConfigError
from finmt_core.evaluation.baselines import DEFAULT_BASELINES

log = logging.getLogger(__name__)

#: Days kept before a rolling fold's first row so that its features are warmed up.
WARMUP = 60


def fold_configs(config: ExperimentConfig, panel: pd.DataFrame, folds: int, name: str) -> list[tuple[ExperimentConfig, pd.DataFrame]]:
    """One (config, panel slice) per walk-forward fold (see module doc)."""
    from finmt_core.data.splits import walk_forward_splits

    if folds < 2:
        raise ConfigError(f"walk-forward needs at least 2 folds, got {folds}")
    split_cfg = config.split.model_copy(update={"folds": folds, "val_start": None})
    all_dates = pd.DatetimeIndex(panel.index.get_level_values("date").unique()).sort_values()
    splits = walk_forward_splits(all_dates, split_cfg, config.embargo, min_index=config.data.window - 1)
    level = panel.index.get_level_values("date")
    out = []
    for k, sp in enumerate(splits):  # a handful of folds
        first = 0 if config.split.walk_forward == "expanding" else max(0, int(sp.train[0]) - config.data.window + 1 - WARMUP)
        cut = panel[(level >= all_dates[first]) & (level <= all_dates[int(sp.test[-1])])]
        cut.attrs = dict(panel.attrs)
        fold_split = config.split.model_copy(update={
            "folds": 1, "val_start": str(all_dates[int(sp.val[0])].date()), "test_start": str(all_dates[int(sp.test[0])].date()),
        })
        out.append((config.model_copy(update={"name": f"{name}-fold{k}", "split": fold_split}), cut))
    return out


def aggregate(per_fold: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean, std and count over folds of every numeric metric, for ``tasks`` and each baseline."""
    def agg(getter: Callable[..., dict[str, dict[str, Any]]]) -> dict[str, dict[str, dict[str, float]]]:
        recs = [{"fold": i, "task": t, "metric": m, "value": v}
                for i, ev in enumerate(per_fold) for t, ms in getter(ev).items() for m, v in ms.items()
                if isinstance(v, (int, float)) and v is not None]
        if not recs:
            return {}
        df = pd.DataFrame(recs).groupby(["task", "metric"])["value"].agg(["mean", "std", "count"])
        out: dict[str, dict[str, dict[str, float]]] = {}
        for (t, m), row in df.iterrows():  # one line per (task, metric) summary
            out.setdefault(str(t), {})[str(m)] = {"mean": float(row["mean"]), "std": float(row["std"]) if row["count"] > 1 else float("nan"),
                                                  "n_folds": int(row["count"])}
        return out

    names = sorted({b for ev in per_fold for b in ev.get("baselines", {})})
    return {"tasks": agg(lambda ev: ev.get("tasks", {})),
            "baselines": {b: agg(lambda ev, b=b: ev.get("baselines", {}).get(b, {})) for b in names}}


def walk_forward_evaluate(config: ExperimentConfig, runs_root: str | Path, *, folds: int | None = None,
                          panel: pd.DataFrame | None = None, name: str | None = None,
                          baselines: tuple[str, ...] = DEFAULT_BASELINES,
                          baseline_params: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Train + evaluate ``config`` on each walk-forward fold and aggregate.

    Args:
        folds: number of folds (default ``config.split.folds``; at least 2).
        panel: the data (default: ``config.data.source``).
        name: prefix of the fold runs (default ``config.name``).

    Returns:
        ``{"folds": [{"fold", "run", "splits", "tasks", "warnings"}], "aggregate": {"tasks": {task:
        {metric: {mean, std, n_folds}}}, "baselines": {...}}}``.
    """
    from finmt_core.evaluation.evaluate import evaluate_run, json_safe
    from finmt_core.training import train_run
    from finmt_core.training.pipeline import load_source_panel

    panel = load_source_panel(config) if panel is None else panel
    name = name or config.name
    results = []
    for k, (cfg, cut) in enumerate(fold_configs(config, panel, folds or config.split.folds, name)):
        log.info("walk-forward fold %d: %s .. %s", k, cfg.split.val_start, cfg.split.test_start)
        run = train_run(cfg, runs_root, name=cfg.name, panel=cut)
        results.append(evaluate_run(run.path, baselines=baselines, baseline_params=baseline_params))
    folds_out = [{"fold": i, "run": ev["run"]["name"], "splits": ev["splits"], "tasks": ev["tasks"], "warnings": ev["warnings"]}
                 for i, ev in enumerate(results)]
    return json_safe({"folds": folds_out, "aggregate": aggregate(results), "n_folds": len(results),
                   "spread_note": "std over folds (ddof=1); folds share no test dates"})


def aggregate_frame(result: dict[str, Any], metric: str) -> pd.DataFrame:
    """``task x source`` table of ``metric`` as ``mean ± std`` strings (model and baselines)."""
    rows: dict[str, dict[str, str]] = {}
    sources = {"model": result["aggregate"]["tasks"], **result["aggregate"]["baselines"]}
    for src, per_task in sources.items():
        for task, ms in per_task.items():
            if metric in ms:
                m = ms[metric]
                std = m["std"] if m["std"] is not None and np.isfinite(m["std"]) else float("nan")
                rows.setdefault(task, {})[src] = f"{m['mean']:.4f} ± {std:.4f}"
    return pd.DataFrame(rows).T


def evaluate_walk_forward(run_dir: str | Path, *, write: bool = True, baselines: tuple[str, ...] = DEFAULT_BASELINES,
                          backtest: bool = True, cost_bps: float = 10.0,
                          baseline_params: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Evaluate every fold of a walk-forward run (each fold's ``evaluation.json``) and write the
    run's own ``evaluation.json``: per-fold test metrics beside the baselines on each fold's
    rows, their aggregate (mean ± std over folds, :func:`aggregate`) and the gates.

    The run's ``gates`` are those of the last fold (the model ``finmt predict`` and the analysis
    pages use), with every fold's verdict under ``gates["folds"]``; each fold's gates are judged
    on that fold's validation rows only.

    Returns:
        ``{"tasks", "baselines" (means over folds), "metrics_note", "run", "walk_forward": {"folds": [{"fold", "run", "splits", "tasks", "baselines",
        "gates_passed", "warnings"}], "aggregate", "n_folds", "scheme", "spread_note"}, "splits",
        "gates", "warnings"}``.

    Raises:
        RunError: the run is not a finished walk-forward run (a fold has no predictions).
    """
    from finmt_core.errors import RunError
    from finmt_core.evaluation.evaluate import evaluate_run, json_safe
    from finmt_core.training.runs import RunDir, atomic_write_json
    from finmt_core.training.walk_forward import fold_runs

    run = RunDir(run_dir)
    config = run.config()
    folds = fold_runs(run)
    missing = [k for k in range(config.split.folds) if k >= len(folds) or not folds[k].predictions_path.is_file()]
    if missing:
        raise RunError(f"walk-forward run {run.name!r} has no predictions for fold(s) {missing} of {config.split.folds}; "
                       f"finish its training first: finmt train --resume {run.name} --runs-dir {run.path.parent}")
    results = [evaluate_run(f.path, write=write, baselines=baselines, backtest=backtest, cost_bps=cost_bps,
                            baseline_params=baseline_params) for f in folds]
    per_fold = [{"fold": k, "run": f.name, "splits": ev["splits"], "tasks": ev["tasks"], "baselines": ev["baselines"],
                 "gates_passed": (ev.get("gates") or {}).get("passed"), "n_test_rows": ev["run"]["n_test_rows"],
                 "warnings": ev["warnings"]} for k, (f, ev) in enumerate(zip(folds, results))]
    last_gates = dict(results[-1].get("gates") or {})
    last_gates["folds"] = [{"fold": k, "passed": (ev.get("gates") or {}).get("passed"),
                            "failed": (ev.get("gates") or {}).get("failed", [])} for k, ev in enumerate(results)]
    last_gates["note"] = (f"Gates of the last fold (fold {len(folds) - 1}: the model predict and the analysis pages use), "
                          "judged on its validation rows; every fold's verdict under folds")
    agg = aggregate(results)

    def means(per_task: dict[str, Any]) -> dict[str, dict[str, float]]:
        return {t: {m: v["mean"] for m, v in ms.items()} for t, ms in per_task.items()}

    out = {
        # tasks / baselines: means over folds, so run lists, Home and the comparison read a walk-forward run like any other
        "tasks": means(agg["tasks"]), "baselines": {b: means(per) for b, per in agg["baselines"].items()},
        "metrics_note": "tasks and baselines are means over the walk-forward folds' test segments (see walk_forward)",
        "run": {"name": run.name, "model": config.model.name, "preset": config.preset, "tasks": [t.name for t in config.tasks],
                "data": config.data.source, "state": run.status().get("state"), "walk_forward": True,
                "n_test_rows": sum(p["n_test_rows"] for p in per_fold)},
        "walk_forward": {"folds": per_fold, "aggregate": agg, "n_folds": len(results),
                         "scheme": config.split.walk_forward,
                         "spread_note": "mean ± std over folds (ddof=1); folds share no test dates"},
        "splits": {"test": [per_fold[0]["splits"]["test"][0], per_fold[-1]["splits"]["test"][-1]]},
        "gates": last_gates,
        "warnings": [f"fold {k}: {w}" for k, ev in enumerate(results) for w in ev["warnings"]],
    }
    out = json_safe(out)
    if write:
        atomic_write_json(run.evaluation_path, out)
        log.info("wrote %s", run.evaluation_path)
    return out


def fold_table(result: dict[str, Any], metric: str) -> pd.DataFrame:
    """``(task, fold) x source`` table of ``metric``: each fold's model value beside its baselines'."""
    rows = []
    for f in result["walk_forward"]["folds"]:
        for task, ms in f["tasks"].items():
            if metric not in ms:
                continue
            row = {"task": task, "fold": f["fold"], "test": " → ".join(f["splits"].get("test", [])), "model": ms[metric]}
            row.update({b: np.nan if per[task].get(metric) is None else float(per[task][metric])
                        for b, per in f["baselines"].items() if task in per})
            rows.append(row)
    return pd.DataFrame(rows)
