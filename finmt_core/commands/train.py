"""``finmt train`` (train a preset into a run directory) and ``finmt runs`` (list runs)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from finmt_core.commands._common import (
    friendly_errors,
    run_dir_alias,
    runs_dir_option,
    runs_root,
    setup_logging,
)
from finmt_core.errors import ConfigError

#: Task families whose horizon ``--horizon`` sets.
HORIZON_FAMILIES = ("direction", "return", "signal", "action", "quantiles", "volatility", "regime", "relevance")
DEVICES = ("auto", "cpu", "cuda")
FOLD_SCHEMES = ("expanding", "rolling")
#: A task named with its horizon (``direction_7d``) keeps that horizon under ``--horizon``.
FIXED_NAME = re.compile(r"_\d+d$")


def build_config(
    *,
    data: str | None,
    preset: str | None,
    config_file: Path | None,
    epochs: int | None = None,
    horizon: int | None = None,
    device: str | None = None,
    seed: int | None = None,
    single_task: str | None = None,
    date_format: str | None = None,
    folds: int | None = None,
    fold_scheme: str | None = None,
) -> Any:
    """The ExperimentConfig of a ``finmt train`` command line (preset < --config file < flags)."""
    from finmt_core.config import ExperimentConfig, load_preset, load_yaml_mapping, merge, with_overrides

    if preset is None and config_file is None:
        from finmt_core.config import list_presets

        raise ConfigError(f"give --preset NAME (one of: {', '.join(list_presets())}) or --config FILE.yaml")
    if device is not None and device not in DEVICES:
        raise ConfigError(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
    overrides = load_yaml_mapping(config_file, "data:, model:, tasks: ...") if config_file is not None else {}
    flags: dict[str, Any] = {}
    if data is not None:
        flags["data"] = {"source": data}
    if date_format is not None:
        flags.setdefault("data", {})["date_format"] = date_format
    train = {k: v for k, v in (("epochs", epochs), ("device", device), ("seed", seed)) if v is not None}
    if train:
        flags["train"] = train
    if fold_scheme is not None and fold_scheme not in FOLD_SCHEMES:
        raise ConfigError(f"--fold-scheme must be one of {', '.join(FOLD_SCHEMES)}, got {fold_scheme!r}")
    split = {k: v for k, v in (("folds", folds), ("walk_forward", fold_scheme)) if v is not None}
    if split:
        flags["split"] = split
    overrides = merge(overrides, flags)  # layers: preset < --config file < flags, applied once below
    cfg = load_preset(preset, overrides) if preset else with_overrides({}, overrides, where=str(config_file))
    if horizon is None and single_task is None:
        return cfg
    d = cfg.model_dump(mode="json")
    if horizon is not None:
        d["tasks"] = set_horizon(d["tasks"], horizon)
    if single_task is not None:
        names = [t["name"] for t in d["tasks"]]
        if single_task not in names:
            raise ConfigError(f"--single-task {single_task!r} is not a task of this config; tasks: {', '.join(names)}")
        d["tasks"] = [dict(t, mask_by=None) for t in d["tasks"] if t["name"] == single_task]
        d["loss"]["class_weights"] = {k: v for k, v in d["loss"]["class_weights"].items() if k == single_task}
        d["loss"]["focal_alpha"] = {k: v for k, v in d["loss"].get("focal_alpha", {}).items() if k == single_task}
        if d["train"].get("balanced_sampling") not in (None, single_task):
            d["train"]["balanced_sampling"] = None
        d["gates"]["tasks"] = {k: v for k, v in d.get("gates", {}).get("tasks", {}).items() if k == single_task}
        d["name"] = f"{d['name']}-{single_task}"
        if d.get("preset"):
            d["preset"] = f"{d['preset']}-{single_task}"
    return ExperimentConfig.from_dict(d, where="the command line")


def set_horizon(tasks: list[dict[str, Any]], horizon: int) -> list[dict[str, Any]]:
    """Tasks (as dicts) with ``--horizon`` applied.

    Tasks without a horizon in their name take ``horizon``. Tasks named with one
    (``direction_7d``, the dual tower's pairs of horizons) keep their multi-horizon design:
    those of the *shortest* named horizon move to ``horizon`` and are renamed
    (``direction_7d`` -> ``direction_1d``); the longer ones stay, unless that would make two
    tasks of one family share a horizon, in which case the longer one is dropped.

    A family with both (``action`` and ``action_5d``: several horizons in one model, the
    plain name being the short one) moves only its plain task; its named tasks keep their
    horizons unless one equals ``horizon`` (then it is dropped as a duplicate).
    """
    tasks = [dict(t) for t in tasks]
    plain = [t for t in tasks if t["target"] in HORIZON_FAMILIES and not FIXED_NAME.search(t["name"])]
    with_plain = {t["target"] for t in plain}
    extra = [t for t in tasks if t["target"] in with_plain and FIXED_NAME.search(t["name"])]
    if extra:  # several horizons of one family: keep the extra ones, minus a duplicate of the new horizon
        tasks = [t for t in tasks if not (t in extra and int(t["horizon"]) == horizon)]
    named = [t for t in tasks if t["target"] in HORIZON_FAMILIES and t["target"] not in with_plain
             and FIXED_NAME.search(t["name"])]
    if not named and not plain:
        raise ConfigError(f"--horizon changes no task of {[t['name'] for t in tasks]}; edit the tasks in a --config file")
    for t in plain:
        t["horizon"] = horizon
    if not named:
        return tasks
    shortest = min(int(t["horizon"]) for t in named)
    renamed: dict[str, str] = {}
    moved: list[int] = []
    for i, t in enumerate(tasks):
        if t in named and int(t["horizon"]) == shortest:
            new = FIXED_NAME.sub(f"_{horizon}d", t["name"])
            renamed[t["name"]] = new
            t["name"], t["horizon"] = new, horizon
            moved.append(i)
    taken = {(tasks[i]["target"], horizon) for i in moved}
    keep = [t for i, t in enumerate(tasks)
            if i in moved or not (FIXED_NAME.search(t["name"]) and (t["target"], int(t["horizon"])) in taken)]
    for t in keep:  # mask_by follows a renamed task
        if t.get("mask_by") in renamed:
            t["mask_by"] = renamed[t["mask_by"]]
    return keep


def refuse_unhonoured(cfg: Any) -> None:
    """ConfigError for a config key ``finmt train`` cannot honour (never silently ignored):
    walk-forward folds train one after another in one process, so not under torchrun."""
    folds = int(cfg.split.folds)
    if folds > 1 and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError(
            f"split.folds = {folds} (walk-forward) trains its folds one after another in one process and cannot run "
            "under --nproc/--nnodes > 1; drop those options, or set split.folds: 1 for one distributed run"
        )


def _echo_folds(run: Any) -> None:
    """One line per fold of a walk-forward run: state, best epoch, val score, test period."""
    from finmt_core.training.walk_forward import fold_runs

    for k, fold in enumerate(fold_runs(run)):
        st, cfg = fold.status(), fold.config()
        typer.echo(f"  fold {k}: {st.get('state')}  val from {cfg.split.val_start}, test from {cfg.split.test_start}  "
                   f"best epoch {st.get('best_epoch', '-')}: val score {_fmt(st.get('best_val_score'), 3)}")
    typer.echo(f"per-fold test metrics beside the baselines, their mean ± std and the gates: "
               f"finmt evaluate {run.name} --runs-dir {run.path.parent}")


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def _epoch_printer() -> Any:
    from finmt_core.training.callbacks import Callback

    class EpochPrinter(Callback):
        """One line per epoch on stderr (visible also when the progress bar is off)."""

        name = "epoch_printer"

        def on_epoch_end(self, trainer: Any, record: Mapping[str, Any]) -> None:
            if not trainer.is_main:
                return
            parts = [f"epoch {record['epoch']}/{trainer.epochs}", f"train {_fmt(record['train_loss'])}",
                     f"val {_fmt(record['val_loss'])}"]
            for task, m in record.get("val_metrics", {}).items():
                key = next((k for k in ("accuracy", "ic", "coverage") if m.get(k) is not None), None)
                if key:
                    parts.append(f"{task} {key} {_fmt(m[key], 3)}")
            parts.append(f"{_fmt(record.get('epoch_time_s'), 3)}s")
            typer.echo("  ".join(parts), err=True)

    return EpochPrinter()


def _launch_torchrun(nproc: int, nnodes: int, node_rank: int | None, endpoint: str | None, name: str | None) -> None:
    """Re-run this very command under torchrun, without the launch options."""
    import subprocess
    import sys

    from finmt_core.training.launch import strip_launch_options, torchrun_command

    if nnodes > 1 and not name:
        # every node must agree on the run directory before the rendezvous can broadcast it
        raise ConfigError("multi-node training needs --name RUN so every node writes the same run")
    argv = strip_launch_options(sys.argv[sys.argv.index("train") + 1:])
    cmd = torchrun_command(argv, nproc, nnodes, node_rank, endpoint, run_id=name or "finmt")
    typer.echo(f"launching: {' '.join(cmd)}", err=True)
    code = subprocess.call(cmd)
    if code != 0:
        raise typer.Exit(code=code if code in (1, 2) else 2)


def register(app: typer.Typer) -> None:
    @app.command()
    @friendly_errors
    def train(
        data: str = typer.Option(None, "--data", help="demo | synthetic | PATH (.csv, .csv.gz, .parquet). Default: the preset's."),
        preset: str = typer.Option(None, "--preset", help="Preset name (configs/NAME.yaml), e.g. tgcn, lstm_transformer, lightgbm."),
        config: Path = typer.Option(None, "--config", help="YAML file merged over the preset (or a full config without --preset)."),
        epochs: int = typer.Option(None, "--epochs", min=1, help="Training epochs."),
        horizon: int = typer.Option(None, "--horizon", min=1, help="Horizon (days) of the direction/return/signal/action/quantiles/volatility/regime tasks (not relevance or tasks named like direction_7d)."),
        runs_dir: Path | None = runs_dir_option(),
        run_dir: Path | None = run_dir_alias(),
        name: str = typer.Option(None, "--name", help="Run name (default: PRESET-TIMESTAMP)."),
        device: str = typer.Option(None, "--device", help="auto | cpu | cuda (auto picks CUDA when available)."),
        seed: int = typer.Option(None, "--seed", help="Random seed."),
        single_task: str = typer.Option(None, "--single-task", help="Train only this task (the single-task baseline)."),
        date_format: str = typer.Option(None, "--date-format", help="How the file's dates are written when ambiguous: %d/%m/%Y, dayfirst or monthfirst."),
        folds: int = typer.Option(None, "--folds", min=1, max=20, help="Walk-forward folds (split.folds): > 1 trains one model per fold into one run."),
        fold_scheme: str = typer.Option(None, "--fold-scheme", help="Walk-forward train windows: expanding (all earlier dates) | rolling (fixed length)."),
        resume: str = typer.Option(None, "--resume", help="Continue the run NAME from its last checkpoint (or start a queued run)."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
        nproc: int = typer.Option(1, "--nproc", min=1, help="Processes per node: > 1 launches torchrun (one per GPU; gloo on CPU)."),
        nnodes: int = typer.Option(1, "--nnodes", min=1, help="Machines taking part (torchrun --nnodes)."),
        node_rank: int = typer.Option(None, "--node-rank", min=0, help="This machine's rank among --nnodes (torchrun --node-rank)."),
        rdzv_endpoint: str = typer.Option(None, "--rdzv-endpoint", help="HOST:PORT of the rendezvous, the same on every node (multi-node; with --node-rank: node 0's address, where the run is written)."),
    ) -> None:
        """Train a preset into a run directory (exit 0 done, 1 cancelled, 2 error)."""
        setup_logging(verbose)
        root = runs_root(runs_dir, run_dir)
        if nproc > 1 or nnodes > 1:
            _launch_torchrun(nproc, nnodes, node_rank, rdzv_endpoint, name or resume)
            return
        if device is not None and device not in DEVICES:
            raise ConfigError(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
        from finmt_core.training.callbacks import ProgressBar
        from finmt_core.training.pipeline import continue_run, start

        callbacks = [ProgressBar(), _epoch_printer()]
        if resume:
            given = [flag for flag, v in (("--data", data), ("--preset", preset), ("--config", config), ("--horizon", horizon),
                                          ("--seed", seed), ("--single-task", single_task), ("--date-format", date_format),
                                          ("--name", name), ("--folds", folds), ("--fold-scheme", fold_scheme)) if v is not None]
            if given:  # never silently ignored
                raise ConfigError(f"--resume continues run {resume!r} with its stored config.yaml; {', '.join(given)} cannot "
                                  "change it (only --epochs and --device may). Start a new run to train another configuration")
            changes = {k: v for k, v in (("epochs", epochs), ("device", device)) if v is not None}
            if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # walk-forward folds cannot train under torchrun
                from finmt_core.training.runs import open_run

                refuse_unhonoured(open_run(root, resume).config())
            run = continue_run(resume, root, overrides={"train": changes} if changes else None, callbacks=callbacks)
        else:
            cfg = build_config(data=data, preset=preset, config_file=config, epochs=epochs, horizon=horizon,
                               device=device, seed=seed, single_task=single_task, date_format=date_format,
                               folds=folds, fold_scheme=fold_scheme)
            refuse_unhonoured(cfg)
            run = start(cfg, root, name=name, callbacks=callbacks)
        if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
            return
        st = run.status()
        typer.echo(f"run {run.name}: {st.get('state')}  best epoch {st.get('best_epoch', '-')}: val loss "
                   f"{_fmt(st.get('best_val_loss'))}, val score {_fmt(st.get('best_val_score'), 3)}  -> {run.path}")
        if st.get("folds"):
            _echo_folds(run)
        if st.get("state") == "cancelled":
            typer.echo(f"continue with: finmt train --resume {run.name} --runs-dir {root}", err=True)
            raise typer.Exit(code=1)

    @app.command()
    @friendly_errors
    def runs(
        runs_dir: Path | None = runs_dir_option(),
        run_dir: Path | None = run_dir_alias(),
    ) -> None:
        """List runs, newest first: name, preset, state, epoch, best val loss, created."""
        from finmt_core.training.runs import list_runs

        rows = []
        root = runs_root(runs_dir, run_dir)
        for r in list_runs(root):
            st = r.status()
            kind = str(st.get("preset") or st.get("model") or "-") + (f" ({st['folds']} folds)" if st.get("folds") else "")
            rows.append([r.name, kind, r.effective_state(),
                         f"{st.get('epoch', 0)}/{st.get('epochs', '-')}", _fmt(st.get("best_val_loss")),
                         str(st.get("created", "-")).replace("+00:00", "Z")])
        if not rows:
            typer.echo(f"no runs in {root}; start one with: finmt train --data demo --preset tgcn")
            return
        header = ["name", "preset", "state", "epoch", "best val loss", "created"]
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
        for row in [header, *rows]:
            typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
