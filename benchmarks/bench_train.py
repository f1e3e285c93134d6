"""Figure 2 — training throughput per preset, at the preset's default sizes, and peak memory.

For a neural preset one timed call is one training epoch of the real :class:`Trainer`
capped at ``batches`` batches (``train.max_batches_per_epoch``): batch gather from the
dataset, forward, multi-task loss, backward, gradient clipping, optimizer and scheduler
step. Throughput is rows per second (one row = one (date, stock) prediction target; a graph
batch of G dates counts G x N rows), taken from the trainer's own row count and epoch time.
Estimator presets (LightGBM, naive rules) have no such step: their figure is ``fit`` rows/s.
Each preset runs in its own process, so its peak-memory figure is its own.
"""

from __future__ import annotations

from typing import Any

from benchmarks.fixtures import preset_names, preset_prepared
from benchmarks.harness import Result, current_rss_mb, peak_rss_mb, time_repeats


def expand(case: dict[str, Any]) -> list[dict[str, Any]]:
    """One case (one child process, so one peak-memory figure) per preset with ``isolate``;
    else one child for all of them (the quick profile: fewer interpreter starts)."""
    names = preset_names(case.get("presets"))
    if case.get("isolate", True):
        return [dict(case, presets=[p]) for p in names]
    return [dict(case, presets=names)]


def _neural(config: Any, prepared: Any, repeats: int) -> tuple[list[float], str]:
    import torch

    from finmt_core.models import create_model
    from finmt_core.training.trainer import Trainer, seed_everything

    seed_everything(0)
    model = create_model(config.model.name, config.model.params, config.tasks, prepared.info)
    trainer = Trainer(config, prepared, model, torch.device("cpu"), callbacks=())
    trainer._train_epoch(1)  # warm-up: allocator, first-call kernels, lazy dataset tables
    rates = []
    for epoch in range(2, repeats + 2):
        out = trainer._train_epoch(epoch)
        rates.append(out["rows"] / out["time"])
    n_params = sum(p.numel() for p in model.parameters())
    what = (f"{config.model.name}, batch_size {config.train.batch_size} "
            f"({'dates' if model.input_kind == 'graph' else 'rows'}), {trainer.batches_per_epoch} batches/repeat, "
            f"{n_params:,} parameters, {len(config.tasks)} tasks")
    return rates, what


def _estimator(config: Any, prepared: Any, repeats: int) -> tuple[list[float], str]:
    from finmt_core.models import create_estimator

    n_rows = prepared.rows("train")[0].size

    def fit() -> None:
        create_estimator(config.model.name, config.model.params, config.tasks).fit(prepared)

    times = time_repeats(fit, repeats=1, warmup=0)  # one fit: a LightGBM fit takes most of a minute
    return [n_rows / t for t in times], f"{config.model.name} fit on {n_rows:,} train rows (rows/s of one fit)"


def run(workdir: str, n_stocks: int, n_days: int, batches: int, repeats: int, presets: list[str],
        isolate: bool = True) -> list[Result]:
    from finmt_core.models import is_estimator

    results = []
    for preset in presets:
        config, prepared = preset_prepared(workdir, preset, n_stocks, n_days, {"max_batches_per_epoch": batches})
        baseline_mb = current_rss_mb()
        if is_estimator(config.model.name):
            rates, what = _estimator(config, prepared, repeats)
            figure = f"train_fit_rows_per_s_{preset}"
        else:
            rates, what = _neural(config, prepared, repeats)
            figure = f"train_rows_per_s_{preset}"
        results.append(Result(figure, "rows/s", rates, None, "higher",
                              note=f"{n_stocks} stocks x {n_days} days synthetic; {what}"))
        if len(presets) == 1:  # the process's peak is this preset's own only when it ran alone
            results.append(Result(f"train_peak_mem_{preset}", "MB", [peak_rss_mb()], None, "lower",
                                  note=f"peak RSS of the process (data prepared: {baseline_mb:.0f} MB before training)"))
    return results
