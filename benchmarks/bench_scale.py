"""Figure — scale (long, opt-in: ``finmt bench --only scale``): 250 -> 5,000 stocks x 2,520 days.

One case = one fresh process = one universe size and one preset (``tgcn``, ``lstm_transformer``),
as a user runs it: ``load_panel(parquet)`` -> ``prepare`` (``data.storage: auto``: the feature
arrays go to memory-mapped scratch files from 1 GiB up) -> the real :class:`Trainer` -> one
training epoch. Figures per case: load and prepare seconds, training rows/s, and the process's
peak RSS (``ru_maxrss``: imports, panel, features, targets, graph, model and the epoch; the
suite reads it in the child, the same number the parent's ``RUSAGE_CHILDREN`` gives).

A tgcn batch is G whole dates (G x N nodes); the preset's 32 dates are sized for ~500 stocks,
so past 500 stocks G shrinks to keep a batch at <= 16,000 nodes (:func:`graph_batch_size`: 3
dates at 5,000 stocks): the backward pass keeps every step's activations, which took a run with
32 dates of 5,000 stocks past 10 GB. A full tgcn epoch is then hundreds of batches, hours on 2 cores: the model
steps are capped at ``batches`` (rows/s measured on them), and the rest of the epoch's batches
are still *gathered* (every train date's window read from ``X``, no model), so the peak memory
is that of a whole epoch's data side. The lstm_transformer preset's own epoch is 60 batches of
256 rows (``train.max_batches_per_epoch``), run in full. The synthetic panels are generated
in a separate process (not in the peak).
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.fixtures import synthetic_parquet
from benchmarks.harness import Result, current_rss_mb, peak_rss_mb

#: goal of issue 17: the 5,000-stock panel prepares and trains one epoch within this peak RSS
TARGET_MB = 8192.0
TARGET_STOCKS = 5000
PRESETS = ("tgcn", "lstm_transformer")


def expand(case: dict[str, Any]) -> list[dict[str, Any]]:
    """One child process (so one peak-memory figure) per universe size and preset."""
    return [dict(case, n_stocks=[n], presets=[p]) for n in case["n_stocks"] for p in case.get("presets") or PRESETS]


def _gather_rest(trainer: Any, done: int) -> tuple[int, float]:
    """Gather (no model) the epoch's batches after the first ``done``: ``(batches, seconds)``."""
    from finmt_core.training.loaders import epoch_loader

    t0 = time.perf_counter()
    n = 0
    loader = epoch_loader(trainer.train_set, trainer.prepared, trainer.cfg, trainer.device, 1, True, 1)
    for i, _batch in enumerate(loader):
        if i >= done:
            n += 1
    return n, time.perf_counter() - t0


def graph_batch_size(preset_dates: int, n_stocks: int, nodes: int) -> int:
    """Dates per tgcn batch: the preset's, or fewer so that a batch holds at most ``nodes`` nodes.

    The preset's 32 dates x 500 stocks are 16,000 nodes; 32 dates x 5,000 stocks would be 160,000,
    whose activations (20 steps x 2 GRU layers, kept for the backward pass) took a run past 10 GB.
    """
    return max(1, min(preset_dates, nodes // n_stocks))


def run(workdir: str, n_stocks: list[int], n_days: int, presets: list[str], batches: dict[str, int] | None = None,
        storage: str = "auto", graph_nodes: int = 16_000, storage_dtype: str = "float32") -> list[Result]:
    import torch

    from finmt_core.config import load_preset
    from finmt_core.data.panel import load_panel
    from finmt_core.data.prepare import prepare
    from finmt_core.models import create_model
    from finmt_core.training.trainer import Trainer, seed_everything

    (n,), (preset,) = n_stocks, presets
    cap = (batches or {}).get(preset)
    path = synthetic_parquet(workdir, n, n_days)
    base_mb = current_rss_mb()
    train: dict[str, Any] = {"device": "cpu"}
    if cap:
        train["max_batches_per_epoch"] = cap
    config = load_preset(preset, {"train": train, "data": {"storage": storage, "storage_dtype": storage_dtype}})
    if config.model.name == "tgcn":  # a batch is G whole dates: bound its nodes (see graph_batch_size)
        train["batch_size"] = graph_batch_size(config.train.batch_size, n, graph_nodes)
        config = load_preset(preset, {"train": train, "data": {"storage": storage, "storage_dtype": storage_dtype}})

    t0 = time.perf_counter()
    panel = load_panel(path)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    prepared = prepare(panel, config)
    t_prep = time.perf_counter() - t0
    prep_peak = peak_rss_mb()

    seed_everything(0)
    model = create_model(config.model.name, config.model.params, config.tasks, prepared.info)
    trainer = Trainer(config, prepared, model, torch.device("cpu"), callbacks=())
    out = trainer._train_epoch(1)
    rate = out["rows"] / out["time"]
    full = -(-len(trainer.train_set) // config.train.batch_size)
    gathered, t_gather = (0, 0.0)
    if cap and trainer.batches_per_epoch < full:
        gathered, t_gather = _gather_rest(trainer, trainer.batches_per_epoch)
    peak = peak_rss_mb()

    d, _, f = prepared.X.shape
    # a float16 X is its own series of figures (derive() reads the float32 curve only)
    size = f"{n}x{n_days}" + ("_f16" if storage_dtype == "float16" else "")
    what = (f"{n} stocks x {d} days x {f} features, preset {preset}, data.storage={storage} -> "
            f"{prepared.storage}, X {prepared.X.dtype}; baseline after imports {base_mb:.0f} MB")
    unit = "dates" if model.input_kind == "graph" else "rows"
    if cap:
        epoch = (f"{trainer.batches_per_epoch} of the epoch's {full} batches of {config.train.batch_size} {unit} "
                 "trained" + (f"; the other {gathered} gathered without the model in {t_gather:.1f} s"
                              if gathered else ""))
    else:
        epoch = (f"the preset's epoch: {trainer.batches_per_epoch} batches of {config.train.batch_size} {unit}"
                 f" (train.max_batches_per_epoch={config.train.max_batches_per_epoch})")
    target = TARGET_MB if n == TARGET_STOCKS else None
    return [
        Result(f"scale_load_{preset}_{size}", "s", [t_load], None, "lower", note=f"load_panel(parquet); {what}"),
        Result(f"scale_prepare_{preset}_{size}", "s", [t_prep], None, "lower",
               note=f"prepare (features, labels, split, graph, scaler, X); peak RSS by then {prep_peak:.0f} MB"),
        Result(f"scale_train_rows_per_s_{preset}_{size}", "rows/s", [rate], None, "higher",
               note=f"{epoch}; {out['rows']} rows in {out['time']:.1f} s"),
        Result(f"scale_peak_mem_{preset}_{size}", "MB", [peak], target, "lower",
               note=f"peak RSS of the process: load + prepare + one epoch ({epoch})"),
    ]


def derive(results: list[Result]) -> list[Result]:
    """Growth from the smallest to the largest universe of this run, per preset: prepare time and
    peak memory over the stock ratio (1.0 = linear; below 1 the fixed costs, imports and model,
    still weigh in)."""
    out = []
    for preset in PRESETS:
        for kind, unit_note in (("prepare", "prepare time"), ("peak_mem", "peak RSS")):
            pts = {}
            for r in results:
                prefix = f"scale_{kind}_{preset}_"
                if r.figure.startswith(prefix) and r.samples and not r.figure.endswith("_f16"):
                    pts[int(r.figure[len(prefix):].split("x")[0])] = r.median
            if len(pts) < 2:
                continue
            lo, hi = min(pts), max(pts)
            ratio = (pts[hi] / pts[lo]) / (hi / lo)
            out.append(Result(f"scale_{kind}_growth_{preset}_{hi}_vs_{lo}", "x", [ratio], None, "lower",
                              note=f"({unit_note} at {hi} / at {lo} stocks) / ({hi}/{lo}); 1.0 = linear in stocks"))
    return out
