"""Where a training epoch's time goes, per preset: model compute vs everything else.

One whole epoch of the real :class:`~finmt_core.training.trainer.Trainer` (``fit`` for one epoch,
after a warm-up pass: the training batches, capped at ``batches``, then the validation pass and the
epoch-end callbacks that write the metrics line, ``status.json`` and the checkpoints into a
scratch run directory), with light wall-clock probes around its parts:

- ``forward``: the model's forward pass (``trainer.net``'s forward hooks) and the multi-task
  loss (``loss_fn.compute``);
- ``backward``: ``Tensor.backward`` (autograd);
- ``optimizer``: ``optimizer.step`` and gradient clipping (``clip_grad_norm_``);
- ``data``: the DataLoader's ``next()`` (index sampling, the dataset's vectorised gather,
  image building, collation);
- ``to_device``: the batch's host-to-device copy (``to_device``; a no-op copy on the CPU);
- ``validation``: the validation pass (forward only, its data and per-task metrics);
- ``callbacks``: the callbacks (metrics line, status, checkpoints, heartbeats);
- ``other``: the rest of the loop (zeroing gradients, the learning-rate schedule, running sums,
  finiteness checks, the epoch record).

``compute share`` = (forward + backward + optimizer) / (epoch wall time - validation): the share
of the training part of the epoch (loop and callbacks) that is model compute. The validation pass
is left out of the denominator — a forward-only pass whose length is set by the number of
validation rows (a capped profile epoch would otherwise be judged by its validation), not by
overhead — and its share of the whole epoch is shown beside. The probes cost a few
microseconds per batch. Run: ``python -m benchmarks.profile_epoch --presets tgcn lstm_transformer``
(``--cprofile`` prints the top functions of each epoch too).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

PARTS = ("forward", "backward", "optimizer", "data", "to_device", "validation", "callbacks", "other")
COMPUTE = ("forward", "backward", "optimizer")


class _Clock:
    """Accumulated wall seconds per part; ``timed(part, fn)`` wraps a callable."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.depth = 0  # nested probes (e.g. the loss inside validation) count once, in the outer one

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        if self.depth:
            yield
            return
        self.depth += 1
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t0
            self.depth -= 1

    def timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.part(name):
                return fn(*args, **kwargs)

        return wrapper


class _TimedIter:
    def __init__(self, loader: Any, clock: _Clock) -> None:
        self.it, self.clock = iter(loader), clock

    def __iter__(self) -> _TimedIter:
        return self

    def __next__(self) -> Any:
        with self.clock.part("data"):
            return next(self.it)


@contextlib.contextmanager
def probes(trainer: Any, clock: _Clock) -> Iterator[None]:
    """Install the probes on ``trainer`` (and the trainer module's loader / copy helpers)."""
    import torch

    from finmt_core.training import trainer as trainer_mod

    saved = {"epoch_loader": trainer_mod.epoch_loader, "to_device": trainer_mod.to_device,
             "backward": torch.Tensor.backward, "clip": torch.nn.utils.clip_grad_norm_}
    trainer_mod.epoch_loader = lambda *a, **k: _TimedIter(saved["epoch_loader"](*a, **k), clock)
    trainer_mod.to_device = clock.timed("to_device", saved["to_device"])
    torch.Tensor.backward = clock.timed("backward", saved["backward"])  # type: ignore[method-assign]
    torch.nn.utils.clip_grad_norm_ = clock.timed("optimizer", saved["clip"])
    starts: list[float | None] = []

    def pre_hook(*_: Any) -> None:  # inside another probe (validation) the time is that probe's
        starts.append(None if clock.depth else time.perf_counter())

    def post_hook(*_: Any) -> None:
        t0 = starts.pop()
        if t0 is not None:
            clock.seconds["forward"] += time.perf_counter() - t0

    hooks = [trainer.net.register_forward_pre_hook(pre_hook), trainer.net.register_forward_hook(post_hook)]
    # instance attributes (the scheduler itself wraps optimizer.step there): put back what was there
    # (not the scheduler's step: its state_dict is its __dict__, and checkpoints would pickle the probe)
    patched = [(trainer.loss_fn, "compute", "forward"), (trainer.optimizer, "step", "optimizer"),
               (trainer, "_validate", "validation"), (trainer, "_emit", "callbacks")]
    before = [(obj, attr, vars(obj).get(attr)) for obj, attr, _ in patched]
    for obj, attr, part in patched:
        setattr(obj, attr, clock.timed(part, getattr(obj, attr)))
    try:
        yield
    finally:
        for h in hooks:
            h.remove()
        trainer_mod.epoch_loader, trainer_mod.to_device = saved["epoch_loader"], saved["to_device"]
        torch.Tensor.backward = saved["backward"]  # type: ignore[method-assign]
        torch.nn.utils.clip_grad_norm_ = saved["clip"]
        for obj, attr, value in before:
            if value is None:
                delattr(obj, attr)
            else:
                setattr(obj, attr, value)


def profile_preset(workdir: str, preset: str, n_stocks: int, n_days: int, batches: int,
                   cprofile: bool = False, epochs: int = 1) -> dict[str, Any]:
    """A warm-up pass, then ``epochs`` probed epochs (summed: a burst of load on a shared machine
    weighs less): seconds per part, shares and rows/s."""
    import tempfile

    import torch

    from benchmarks.fixtures import preset_prepared
    from finmt_core.models import create_model
    from finmt_core.training.callbacks import default_callbacks
    from finmt_core.training.runs import create_run
    from finmt_core.training.trainer import Trainer, seed_everything

    config, prepared = preset_prepared(workdir, preset, n_stocks, n_days,
                                       {"max_batches_per_epoch": batches or None, "epochs": epochs})
    seed_everything(0)
    model = create_model(config.model.name, config.model.params, config.tasks, prepared.info)
    clock = _Clock()
    prof = None
    rows: list[float] = []
    with tempfile.TemporaryDirectory(dir=workdir) as scratch:
        run = create_run(scratch, f"profile-{preset}", config)
        trainer = Trainer(config, prepared, model, torch.device("cpu"), default_callbacks(run, config.train), run=run)
        trainer._train_epoch(0)  # warm-up: allocator, first-call kernels, lazy dataset tables
        trainer._validate()
        train_epoch = trainer._train_epoch

        def counted(epoch: int) -> dict[str, Any]:  # the trainer's own row count of the epoch
            out = train_epoch(epoch)
            rows.append(out["rows"])
            return out

        trainer._train_epoch = counted  # type: ignore[method-assign]
        with probes(trainer, clock):
            if cprofile:
                import cProfile

                prof = cProfile.Profile()
                prof.enable()
            t0 = time.perf_counter()
            state = trainer.fit()
            wall = time.perf_counter() - t0
            if prof is not None:
                prof.disable()
    if state != "done":
        raise RuntimeError(f"{preset}: the profiled epoch ended {state!r}")
    parts = {p: clock.seconds.get(p, 0.0) for p in PARTS if p != "other"}
    parts["other"] = max(0.0, wall - sum(parts.values()))
    result = {
        "preset": preset, "model": config.model.name, "kind": model.input_kind,
        "batch_size": config.train.batch_size, "batches": trainer.batches_per_epoch, "epochs": epochs,
        "rows": sum(rows), "val_rows": len(trainer.val_set), "wall_s": wall, "rows_per_s": sum(rows) / wall,
        "seconds": parts,
        "share": {p: v / wall for p, v in parts.items()},
        "compute_share": sum(parts[p] for p in COMPUTE) / max(wall - parts["validation"], 1e-12),
        "threads": torch.get_num_threads(), "load_avg_1m": os.getloadavg()[0],
    }
    if prof is not None:
        import io
        import pstats

        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
        result["cprofile_top"] = buf.getvalue()
    return result


def run(workdir: str, n_stocks: int, n_days: int, batches: int, presets: list[str] | None) -> list[Any]:
    """``finmt bench --only train_profile``: per neural preset, the share of an epoch that is model
    compute (goal: >= 80 %) and the epoch's rows/s."""
    from benchmarks.fixtures import preset_names
    from benchmarks.harness import Result
    from finmt_core.config import load_preset
    from finmt_core.models import is_estimator

    out = []
    for preset in [p for p in preset_names(presets) if not is_estimator(load_preset(p).model.name)]:
        r = profile_preset(workdir, preset, n_stocks, n_days, batches)
        rest = ", ".join(f"{p} {100 * r['share'][p]:.0f} %" for p in PARTS)
        note = (f"{n_stocks} stocks x {n_days} days synthetic, one epoch of {r['batches']} batches of "
                f"{r['batch_size']} + validation + callbacks: {rest}")
        out.append(Result(f"train_compute_share_{preset}", "%", [100 * r["compute_share"]], 80.0, "higher", note=note))
        out.append(Result(f"train_epoch_rows_per_s_{preset}", "rows/s", [r["rows_per_s"]], None, "higher",
                          note="train rows / whole-epoch wall time (validation and callbacks included)"))
    return out


def format_rows(results: list[dict[str, Any]]) -> str:
    """A markdown table: one row per preset, shares in percent."""
    head = ("| preset | rows/s | compute | " + " | ".join(p.replace("_", " ") for p in PARTS) + " | load |")
    lines = [head, "|" + "---|" * (len(PARTS) + 4)]
    for r in results:
        s = r["share"]
        lines.append(f"| {r['preset']} | {r['rows_per_s']:,.0f} | **{100 * r['compute_share']:.0f} %** | "
                     + " | ".join(f"{100 * s[p]:.0f} %" for p in PARTS) + f" | {r['load_avg_1m']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="*", default=None, help="default: every neural preset")
    parser.add_argument("--stocks", type=int, default=50)
    parser.add_argument("--days", type=int, default=500)
    parser.add_argument("--batches", type=int, default=0, help="cap of training batches (0: the whole epoch)")
    parser.add_argument("--workdir", default="/tmp/finmt-profile")
    parser.add_argument("--epochs", type=int, default=2, help="probed epochs, summed")
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    from finmt_core.runtime import tune_allocator

    tune_allocator()  # the allocator settings of `finmt train`

    from benchmarks.fixtures import preset_names
    from finmt_core.config import load_preset
    from finmt_core.models import is_estimator

    os.makedirs(args.workdir, exist_ok=True)
    names = [p for p in preset_names(args.presets) if not is_estimator(load_preset(p).model.name)]
    results = []
    for preset in names:
        r = profile_preset(args.workdir, preset, args.stocks, args.days, args.batches, args.cprofile, args.epochs)
        results.append(r)
        print(f"{preset}: {r['rows_per_s']:,.0f} rows/s, compute {100 * r['compute_share']:.0f} % "
              f"({', '.join(f'{p} {100 * v:.0f} %' for p, v in r['share'].items())}), load {r['load_avg_1m']:.1f}",
              flush=True)
        if args.cprofile:
            print(r["cprofile_top"], flush=True)
    print(format_rows(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2, default=float)


if __name__ == "__main__":
    main()
