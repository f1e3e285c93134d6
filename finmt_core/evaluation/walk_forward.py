"""Walk-forward evaluation: train and evaluate one run per fold, aggregate with spread.

Folds come from :func:`finmt_core.data.splits.walk_forward_splits` (consecutive test
blocks; expanding or rolling train windows, purged + embargoed). Each fold becomes an
ordinary run directory ``<name>-fold<k>`` trained by :func:`finmt_core.training.train_run`
on the panel cut at the fold's last test date (rolling folds also cut the start, keeping
:data:`WARMUP` extra days for feature warm-up), with explicit ``split.val_start`` /
``split.test_start`` at the fold's boundaries — so every fold can be inspected, evaluated and
reported like any run. Metrics are then aggregated as mean ± std over folds, for the model and
for each baseline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
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
    def agg(getter) -> dict[str, dict[str, dict[str, float]]]:  # type: ignore[no-untyped-def]
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
    from finmt_core.evaluation.evaluate import _clean, evaluate_run
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
    return _clean({"folds": folds_out, "aggregate": aggregate(results), "n_folds": len(results),
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
