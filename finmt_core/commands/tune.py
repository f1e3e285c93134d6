"""``finmt tune``: distributed hyper-parameter search with Optuna (each trial a run)."""

from __future__ import annotations

import json
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


def register(app: typer.Typer) -> None:
    @app.command()
    @friendly_errors
    def tune(
        data: str = typer.Option("demo", help="demo | synthetic | PATH to a CSV/Parquet panel."),
        preset: str = typer.Option(..., help="Preset to tune (see configs/; search space in configs/search/)."),
        trials: int = typer.Option(10, min=1, help="Trials this process runs (others on the same study add theirs)."),
        storage: str | None = typer.Option(
            None, help="Optuna storage URL (sqlite:///runs/optuna.db, postgresql+psycopg://user:pw@host:5432/db; "
                       "PostgreSQL needs the postgres extra). Default: $FINMT_OPTUNA_STORAGE, else "
                       "sqlite:///<runs-dir>/optuna.db."),
        study: str | None = typer.Option(None, help="Study name (default tune-<preset>); same name + storage = shared study."),
        runs_dir: Path | None = runs_dir_option("Folder where each trial's run directory is written (default: $FINMT_RUNS_DIR, else ./runs)."),
        run_dir: Path | None = run_dir_alias(),
        config: Path | None = typer.Option(None, help="YAML merged over the preset (data, tasks, train ...)."),
        epochs: int | None = typer.Option(None, min=1, help="Epochs per trial (default: the preset's)."),
        search_space: Path | None = typer.Option(None, help="YAML search space overriding configs/search/<preset>.yaml."),
        seed: int | None = typer.Option(None, help="Sampler seed (leave unset when several processes share a study)."),
        evaluate_best: bool = typer.Option(False, "--evaluate-best", help="After the trials, evaluate the best trial on its test segment."),
        enqueue_defaults: bool = typer.Option(
            False, "--enqueue-defaults",
            help="First trial = the preset's own values of the searched parameters (scored on the same validation rows)."),
        timeout: float | None = typer.Option(
            None, "--timeout", help="Seconds: start no new trial after this budget (the running one finishes)."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Search hyper-parameters on the validation segment; the test segment stays untouched
        until you evaluate the chosen trial (--evaluate-best)."""
        from finmt_core.config import load_preset, load_yaml_mapping, merge
        from finmt_core.tuning import study as tuning
        from finmt_core.tuning.storage import display_url

        setup_logging()
        root = runs_root(runs_dir, run_dir)
        overrides = load_yaml_mapping(config, "data:, train: ...") if config is not None else {}
        overrides = merge(overrides, {"data": {"source": data}})
        if epochs is not None:
            overrides["train"] = {"epochs": epochs}
        base = load_preset(preset, overrides)
        out: dict[str, Any]  # what is printed (or dumped with --json)
        if base.split.folds > 1:  # each trial trains one split: the folds would be silently ignored
            from finmt_core.errors import ConfigError

            raise ConfigError(f"split.folds = {base.split.folds}: `finmt tune` scores each trial on one validation "
                              "segment and cannot honour walk-forward folds. Set split.folds: 1 to tune, then train "
                              "the chosen parameters walk-forward with `finmt train` (split.folds > 1)")
        result = tuning.run_tuning(base, trials, root, storage, study, search_space, seed,
                                   enqueue_defaults=enqueue_defaults, timeout_s=timeout)
        out = {"study": result.study_name, "storage": display_url(result.storage), "trials": result.n_trials,
               "best_value": result.best_value, "best_params": result.best_params, "best_run": result.best_run,
               "defaults_value": result.defaults_value}
        if evaluate_best and result.best_run:
            ev = tuning.evaluate_best(result.storage, result.study_name, root)
            out["best_test"] = ev.get("tasks", {})
        if as_json:
            typer.echo(json.dumps(out, indent=2, default=str))
            return
        typer.echo(f"study {out['study']} ({out['storage']}): {out['trials']} trial(s) in total")
        if result.best_run is None:
            typer.echo("no trial completed yet")
            return
        typer.echo(f"best monitored value {result.best_value:.6f} (minimised: negated validation score, "
                   f"or validation loss with train.monitor: loss) in run {result.best_run}")
        for k, v in result.best_params.items():
            typer.echo(f"  {k} = {v}")
        if result.defaults_value is not None:
            typer.echo(f"the preset's defaults (trial enqueued first): {result.defaults_value:.6f}")
        if "best_test" in out:
            typer.echo("test metrics of the best trial:")
            for task, metrics in out["best_test"].items():
                shown = ", ".join(f"{m}={v:.4f}" for m, v in metrics.items() if isinstance(v, (int, float)))
                typer.echo(f"  {task}: {shown}")
