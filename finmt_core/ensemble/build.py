"""Building an ensemble run: from existing runs (``finmt ensemble``) or from a preset whose
``model.params.member_presets`` are trained (or reused) first.

Either way the ensemble is trained like any estimator run (``train_run`` ->
``fit_estimator_run``): its config names the member runs and their folder, its weights are
learned on the validation segment and written to ``ensemble.json``, and its
predictions.parquet covers the validation and test rows like any other run's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from finmt_core.config import ExperimentConfig, load_preset, merge
from finmt_core.ensemble.members import DATA_FIELDS, check_member_configs, task_key
from finmt_core.errors import ConfigError, RunError

log = logging.getLogger(__name__)

ENSEMBLE = "ensemble"
#: written beside config.yaml by the ensemble's fit: weights and validation losses per task
SUMMARY_FILE = "ensemble.json"
#: train fields that do not change what a member learns (ignored when looking for a reusable run)
_RUN_ONLY_TRAIN_FIELDS = ("device", "num_workers", "heartbeat_s", "compile", "amp")


def is_ensemble(config: ExperimentConfig) -> bool:
    return config.model.name == ENSEMBLE


def _identity(config: ExperimentConfig) -> dict[str, Any]:
    """What makes two member configs the same training (name, preset, device ... aside)."""
    d = config.model_dump(mode="json")
    d.pop("name", None)
    d.pop("preset", None)
    for k in _RUN_ONLY_TRAIN_FIELDS:
        d["train"].pop(k, None)
    return d


def member_config(ensemble: ExperimentConfig, spec: dict[str, Any], index: int) -> ExperimentConfig:
    """The config of member ``index`` of an ensemble preset.

    ``spec`` is ``{preset: NAME, overrides: {...}}``. The member shares the ensemble's data
    (:data:`DATA_FIELDS`), split, epochs and device, so CLI flags such as ``--data`` or
    ``--epochs`` reach every member; ``overrides`` (e.g. another seed) win over those.
    """
    if not isinstance(spec, dict) or "preset" not in spec or set(spec) - {"preset", "overrides"}:
        raise ConfigError(f"ensemble member_presets[{index}] must be {{preset: NAME, overrides: {{...}}}}, got {spec!r}")
    shared = {"data": {k: getattr(ensemble.data, k) for k in DATA_FIELDS},
              "split": ensemble.split.model_dump(mode="json"),
              "train": {"epochs": ensemble.train.epochs, "device": ensemble.train.device}}
    overrides = spec.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(f"ensemble member_presets[{index}].overrides must be a mapping, got {overrides!r}")
    cfg = load_preset(str(spec["preset"]), merge(shared, overrides))
    if cfg.model.name == ENSEMBLE:
        raise ConfigError(f"ensemble member_presets[{index}] ({spec['preset']}) is itself an ensemble")
    return cfg.model_copy(update={"name": f"{ensemble.name}-m{index}"})


def find_reusable(root: Path, config: ExperimentConfig) -> str | None:
    """The newest finished run under ``root`` trained with exactly ``config`` (name aside)."""
    from finmt_core.training.runs import list_runs

    want = _identity(config)
    for run in list_runs(root):
        try:
            if run.effective_state() == "done" and _identity(run.config()) == want:
                return run.name
        except Exception as exc:  # an unreadable run is simply not reusable
            log.debug("run %s not considered for reuse: %s", run.name, exc)
    return None


def resolve_ensemble(config: ExperimentConfig, root: str | Path, callbacks: Sequence[Any] = ()) -> ExperimentConfig:
    """``config`` with ``members`` and ``runs_root`` filled: member presets are trained now
    (or finished runs with identical configs reused); a built ensemble is returned unchanged
    apart from its window (the longest member window) and its runs folder."""
    from finmt_core.models.registry import build_config, get_estimator_class
    from finmt_core.training.runs import open_run

    cls = get_estimator_class(ENSEMBLE)
    params = build_config(cls.config_class, config.model.params, "model 'ensemble'")
    root = Path(root)
    names = list(params.members)
    if not names:
        if not params.member_presets:
            raise ConfigError("ensemble: give model.params.members (run names) or model.params.member_presets "
                              "([{preset: NAME, overrides: {...}}, ...]), or build one with `finmt ensemble RUN1 RUN2`")
        planned = [member_config(config, dict(spec), i) for i, spec in enumerate(params.member_presets)]
        _check_tasks(config, [(c.name, c) for c in planned])  # before any member trains
        check_member_configs([(c.name, c) for c in planned])
        names = [_train_or_reuse(root, c, callbacks) for c in planned]
    members = [(n, open_run(root, n).config()) for n in names]
    check_member_configs(members)
    _check_tasks(config, members)
    d = config.model_dump(mode="json")
    d["model"]["params"] = {**d["model"]["params"], "members": names, "runs_root": str(root.resolve())}
    d["data"]["window"] = max(c.data.window for _, c in members)
    return ExperimentConfig.from_dict(d, where="the ensemble")


def _check_tasks(config: ExperimentConfig, members: Sequence[tuple[str, ExperimentConfig]]) -> None:
    if members and [task_key(t) for t in members[0][1].tasks] != [task_key(t) for t in config.tasks]:
        raise ConfigError(f"ensemble: its tasks {[t.name for t in config.tasks]} are not its members' "
                          f"{[t.name for t in members[0][1].tasks]} (names, families, horizons, parameters, normalize); "
                          "make the ensemble's tasks: list match its members'")


def _train_or_reuse(root: Path, cfg: ExperimentConfig, callbacks: Sequence[Any]) -> str:
    from finmt_core.training.pipeline import train_run

    found = find_reusable(root, cfg)
    if found is not None:
        log.info("ensemble member %s: reusing the finished run %s", cfg.name, found)
        return found
    log.info("ensemble member %s: training preset %s", cfg.name, cfg.preset)
    run = train_run(cfg, root, callbacks=callbacks)
    if run.effective_state() != "done":
        raise RunError(f"ensemble member {run.name!r} did not finish (state {run.effective_state()}); "
                       f"continue it with finmt train --resume {run.name}, then train the ensemble again")
    return run.name


def ensemble_config(root: str | Path, members: Sequence[str], name: str, method: str = "stack") -> ExperimentConfig:
    """The config of an ensemble of the finished runs ``members`` under ``root`` (tasks, data,
    split and loss from the first member; window = the longest member window)."""
    from finmt_core.training.runs import open_run

    root = Path(root)
    configs = [(m, open_run(root, m).config()) for m in members]
    check_member_configs(configs)
    first = configs[0][1].model_dump(mode="json")
    d = {"name": name, "preset": None, "data": {**first["data"], "window": max(c.data.window for _, c in configs)},
         "split": first["split"], "tasks": first["tasks"], "loss": first["loss"],
         "model": {"name": ENSEMBLE, "params": {"members": list(members), "runs_root": str(root.resolve()),
                                                "method": method}}}
    return ExperimentConfig.from_dict(d, where="the ensemble")


def build_ensemble(root: str | Path, members: Sequence[str], name: str | None = None, method: str = "stack",
                   evaluate: bool = True) -> Any:
    """Fit an ensemble of finished runs into a new run ``root/name``; evaluate it (members and
    the usual baselines beside it on the same test rows) unless ``evaluate`` is False.

    Returns:
        The ensemble's RunDir.
    """
    from finmt_core.training.pipeline import train_run

    config = ensemble_config(root, members, name or "ensemble", method)
    run = train_run(config, root, name=name)
    if evaluate:
        from finmt_core.evaluation.evaluate import evaluate_run

        evaluate_run(run.path)
    return run


def read_summary(run_dir: str | Path) -> dict[str, Any] | None:
    """ensemble.json of an ensemble run (None for other runs or before it was fitted)."""
    import json

    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunError(f"{path} is damaged ({exc}); rebuild the ensemble") from None


def weights_frame(summary: dict[str, Any]) -> Any:
    """Tidy table ``task, member, weight, metric, val_loss`` (each member) plus the ensemble and equal-weight
    rows, from an ensemble.json summary."""
    import pandas as pd

    rows = []
    for task, t in summary.get("tasks", {}).items():
        for m, w in t["weights"].items():
            rows.append({"task": task, "member": m, "weight": w, "metric": t["metric"], "val_loss": t["member_losses"][m]})
        rows.append({"task": task, "member": "(equal weights)", "weight": 1.0 / max(len(t["weights"]), 1),
                     "metric": t["metric"], "val_loss": t["equal_loss"]})
        rows.append({"task": task, "member": "(ensemble)", "weight": 1.0, "metric": t["metric"], "val_loss": t["loss"]})
    return pd.DataFrame(rows)
