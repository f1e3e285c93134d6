"""Figure 4 — inference throughput: predictions per second over a batch of many dates.

For each preset (its default model sizes) the rows are every stock of the last ``n_dates``
dates of a synthetic market. One timed call predicts all of them the way the library does
(``make_inference_batches`` with ``PREDICT_BATCH_ROWS`` rows per forward pass, eval mode,
``torch.inference_mode``); for ``tgcn`` every prediction is also signal-gated by the
library's one gating policy (``GatingPolicy.arrays`` on the heads' softmax probabilities:
Neutral unless the signal head fires, then Up/Down with a confidence) —
the figure with the 50,000/s target. Estimators (LightGBM, naive rules) are timed on
``predict`` after an untimed ``fit``. Weights are freshly initialised: speed does not depend
on their values. A prediction is one (date, stock) row with every head's output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.fixtures import preset_names, preset_prepared
from benchmarks.harness import Result, time_repeats

TARGET_GATED_PER_S = 50_000.0
FIT_DATES = 250


def expand(case: dict[str, Any]) -> list[dict[str, Any]]:
    """One case (one child process) per preset with ``isolate``; else one child for all."""
    names = preset_names(case.get("presets"))
    if case.get("isolate", True):
        return [dict(case, presets=[p]) for p in names]
    return [dict(case, presets=names)]


def _rows(prepared: Any, n_dates: int) -> tuple[np.ndarray, np.ndarray]:
    d_total = prepared.X.shape[0]
    return prepared.rows_all(np.arange(max(0, d_total - n_dates), d_total))


def _neural(config: Any, prepared: Any, d: np.ndarray, n: np.ndarray, repeats: int) -> tuple[list[float], str]:
    import torch

    from finmt_core.data.tensors import make_inference_batches
    from finmt_core.inference.gating import GatingPolicy
    from finmt_core.models import create_model
    from finmt_core.training.predict import PREDICT_BATCH_ROWS

    torch.manual_seed(0)
    model = create_model(config.model.name, config.model.params, config.tasks, prepared.info).eval()
    policy = GatingPolicy.for_tasks(config.tasks)
    gated = config.model.name == "tgcn" and policy.can_gate
    # the probability columns the policy reads: (column, head, class index) per head class
    classes = {t.name: t.classes for t in config.tasks}
    columns = [(f"{h}_prob_{c}", h, i) for h in policy.heads for i, c in enumerate(classes[h])]
    kind = model.input_kind

    def predict() -> None:
        with torch.inference_mode():
            for batch in make_inference_batches(prepared, kind, d, n, PREDICT_BATCH_ROWS):
                out = model(batch)
                if gated:
                    probs = {h: torch.softmax(out[h], dim=-1).numpy() for h in policy.heads}
                    policy.arrays({col: probs[h][:, i] for col, h, i in columns}, threshold=0.5)

    times = time_repeats(predict, repeats=repeats, warmup=1)
    rows = len(d) if kind != "graph" else len(np.unique(d)) * prepared.X.shape[1]
    what = f"{config.model.name} forward{' + signal gating' if gated else ''}, {PREDICT_BATCH_ROWS} rows per pass"
    return [rows / t for t in times], what


def _estimator(config: Any, prepared: Any, d: np.ndarray, n: np.ndarray, repeats: int) -> tuple[list[float], str]:
    from finmt_core.data.containers import Split
    from finmt_core.models import create_estimator

    # fit on the last FIT_DATES train dates only: predict speed depends on the trees, not on
    # how many rows grew them, and a full LightGBM fit at this size takes minutes
    s = prepared.split
    prepared.split = Split(train=s.train[-FIT_DATES:], val=s.val, test=s.test, embargo=s.embargo)
    est = create_estimator(config.model.name, config.model.params, config.tasks).fit(prepared)
    prepared.split = s
    times = time_repeats(lambda: est.predict(prepared, d, n), repeats=repeats, warmup=1)
    return [len(d) / t for t in times], f"{config.model.name} predict (after an untimed fit on {FIT_DATES} train dates)"


def run(workdir: str, n_stocks: int, n_days: int, n_dates: int, repeats: int, presets: list[str],
        isolate: bool = True) -> list[Result]:
    from finmt_core.models import is_estimator

    results = []
    for preset in presets:
        config, prepared = preset_prepared(workdir, preset, n_stocks, n_days)
        d, n = _rows(prepared, n_dates)
        if is_estimator(config.model.name):
            rates, what = _estimator(config, prepared, d, n, repeats)
        else:
            rates, what = _neural(config, prepared, d, n, repeats)
        gated = "signal gating" in what
        figure = "inference_gated_per_s_tgcn" if gated else f"inference_per_s_{preset}"
        note = f"{len(np.unique(d))} dates x {n_stocks} stocks ({len(d):,} rows); {what}"
        results.append(Result(figure, "pred/s", rates, TARGET_GATED_PER_S if gated else None, "higher", note=note))
    return results
