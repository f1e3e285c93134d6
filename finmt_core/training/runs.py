"""The run directory: the one contract the CLI, trainer, dashboard and report share.

Layout (see docs/ARCHITECTURE.md)::

    runs/<name>/config.yaml  status.json  metrics.jsonl  checkpoints/{last,best}.pt
                panel.parquet  predictions.parquet  evaluation.json  cancel

Every whole-file write is atomic (temp file in the same folder + ``os.replace``), so a reader
never sees half a file; ``metrics.jsonl`` is append-only with one ``write`` + ``fsync`` per
line, and readers skip a torn last line.

Reading is where damage (a hand edit, a bad copy, a dying disk) is caught: every reader raises
:class:`RunError` with one line naming the file and the fix, except ``status.json``, which reads
as the state ``"damaged"`` with the reason so that the run stays in every list. A training
holds the run's ``.train.lock`` (:meth:`RunDir.training_lock`): one trainer per run at a time.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from finmt_core.config import ExperimentConfig
from finmt_core.errors import FinmtError, RunError
from finmt_core.training.atomic import (
    DiskFullError,
    append_line,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    clean_stale_temp_files,
    file_lock,
    json_default,
    lock_holder,
)
from finmt_core.training.run_state import (
    DAMAGED_STATE,
    RUN_NAME_RE,
    STALE_AFTER_S,
    STALE_STATE,
    STATES,
    effective_state,
    now_iso,
    one_line,
    pid_alive,
    validate_run_name,
)

__all__ = [
    "DAMAGED_STATE", "STALE_STATE", "DiskFullError", "RunDir", "atomic_write_bytes", "atomic_write_json",
    "atomic_write_text", "create_run", "effective_state", "list_runs", "now_iso", "open_run",
    "validate_run_name",
]

log = logging.getLogger(__name__)

#: Held (flock) by the process training the run; holds its pid as text.
TRAIN_LOCK = ".train.lock"


class RunDir:
    """A run directory on disk (it need not exist yet: see :func:`create_run`)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # ---- paths -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints_dir / "last.pt"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints_dir / "best.pt"

    @property
    def panel_path(self) -> Path:
        return self.path / "panel.parquet"

    @property
    def predictions_path(self) -> Path:
        return self.path / "predictions.parquet"

    @property
    def evaluation_path(self) -> Path:
        return self.path / "evaluation.json"

    @property
    def cancel_path(self) -> Path:
        return self.path / "cancel"

    @property
    def log_path(self) -> Path:
        """Where a launcher (the dashboard) may send the training process's stdout/stderr."""
        return self.path / "train.log"

    def exists(self) -> bool:
        return self.config_path.is_file()

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # ---- config and status ----------------------------------------------------------------
    def config(self) -> ExperimentConfig:
        """config.yaml; RunError naming the file and the fix when it is missing or damaged."""
        if not self.config_path.is_file():
            raise RunError(f"{self.path} is not a run directory (no config.yaml)")
        try:
            return ExperimentConfig.from_yaml(self.config_path)
        except (FinmtError, UnicodeDecodeError, OSError) as exc:
            raise RunError(
                f"the config of run {self.name!r} cannot be read ({one_line(exc)}). Repair {self.config_path} "
                "(its checkpoints keep a copy of the config under the key 'config'), or delete the run and train again"
            ) from None

    def write_config(self, config: ExperimentConfig) -> None:
        atomic_write_text(self.config_path, config.to_yaml())

    def _read_status(self) -> dict[str, Any]:
        """status.json as a dict ({} when absent); RunError when it is damaged."""
        try:
            data = json.loads(self.status_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (ValueError, OSError) as exc:  # not possible with atomic writes unless damaged by hand
            raise RunError(f"{self.status_path} is damaged ({one_line(exc)}); the next training of the run "
                           f"rewrites it (`finmt train --resume {self.name}`), or delete it to reset the status") from None
        if not isinstance(data, dict):
            raise RunError(f"{self.status_path} is damaged (not a JSON object); delete it to reset the status")
        return data

    def status(self) -> dict[str, Any]:
        """status.json as a dict (``{"state": "queued"}`` when it does not exist yet; state
        ``"damaged"`` with the reason in ``error`` when it cannot be read)."""
        try:
            data = self._read_status()
        except RunError as exc:
            return {"state": DAMAGED_STATE, "name": self.name, "error": str(exc), "message": "status.json is damaged"}
        return data or {"state": "queued"}

    def write_status(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into status.json atomically; returns the new status."""
        state = fields.get("state")
        if state is not None and state not in STATES:
            raise RunError(f"invalid run state {state!r}; one of {STATES}")
        with self._lock():
            try:
                status = self._read_status() or {"state": "queued"}
            except RunError as exc:  # rewritten from what is known: the damaged copy held nothing usable
                log.warning("%s; rewriting it", exc)
                status = {"name": self.name}
            status.update(fields)
            atomic_write_json(self.status_path, status, durable=False)
        return status

    def _lock(self) -> contextlib.AbstractContextManager[None]:
        """Serialise read-modify-write of status.json between processes (POSIX advisory lock)."""
        return file_lock(self.path / ".status.lock")

    def effective_state(self, stale_after_s: float = STALE_AFTER_S) -> str:
        return effective_state(self.status(), stale_after_s=stale_after_s)

    # ---- metrics --------------------------------------------------------------------------
    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one JSON line (one write + fsync: a line is whole or absent)."""
        self.path.mkdir(parents=True, exist_ok=True)
        append_line(self.metrics_path, json.dumps(record, default=json_default) + "\n")

    def metric_records(self) -> list[dict[str, Any]]:
        """The metrics lines as dicts. A damaged line (torn by a crash, unreadable bytes, no
        integer ``epoch``) is skipped with a warning naming the file and the line."""
        try:
            text = self.metrics_path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        out = []
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict) or isinstance(rec.get("epoch"), bool):
                    raise ValueError("not an epoch record")
                rec["epoch"] = int(rec["epoch"])
            except (ValueError, TypeError, KeyError):
                log.warning("skipping damaged line %d of %s", i, self.metrics_path)
                continue
            out.append(rec)
        return out

    def metrics(self) -> pd.DataFrame:
        """One row per epoch; nested dicts flattened with '.' (``train.direction``,
        ``val_metrics.direction.accuracy``, ``weights.return``, ``lr.heads``)."""
        recs = self.metric_records()
        if not recs:
            return pd.DataFrame(columns=["epoch", "train_loss", "val_loss"])
        return pd.json_normalize(recs, sep=".")

    def truncate_metrics(self, last_epoch: int) -> None:
        """Keep one line per epoch ``<= last_epoch``, in epoch order (used when resuming from a
        checkpoint): damaged lines are dropped, and of an epoch logged twice the later line stays."""
        by_epoch = {r["epoch"]: r for r in self.metric_records() if r["epoch"] <= last_epoch}
        text = "".join(json.dumps(by_epoch[e], default=json_default) + "\n" for e in sorted(by_epoch))
        atomic_write_text(self.metrics_path, text)

    # ---- outputs --------------------------------------------------------------------------
    def predictions(self) -> pd.DataFrame:
        """predictions.parquet; RunError (one line: the file and the fix) when it is missing,
        damaged, or lacks the columns of the run's tasks."""
        if not self.predictions_path.is_file():
            raise RunError(f"run {self.name!r} has no predictions.parquet yet (state: {self.effective_state()})")
        fix = (f"rewrite it from the run's checkpoint with `finmt train --resume {self.name}` (a finished run "
               "only predicts again), or retrain the run")
        try:
            frame = pd.read_parquet(self.predictions_path)
        except Exception as exc:  # pyarrow raises several types for truncated / foreign files
            raise RunError(f"{self.predictions_path} is damaged ({one_line(exc)}); {fix}") from None
        missing = [c for c in ("date", "ticker", "split") if c not in frame.columns]
        if not missing and self.config_path.is_file():
            from finmt_core.evaluation.frames import output_columns

            with contextlib.suppress(RunError):  # a damaged config is reported by whoever reads it
                for task in self.config().tasks:
                    missing += [c for c in (f"{task.name}_target", *output_columns(task)) if c not in frame.columns]
        if missing:
            raise RunError(f"{self.predictions_path} lacks the column(s) {', '.join(missing[:6])}"
                           f"{' …' if len(missing) > 6 else ''}; it does not belong to this run or is damaged: {fix}")
        return frame

    def write_predictions(self, frame: pd.DataFrame) -> None:
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        atomic_write_bytes(self.predictions_path, buf.getvalue())

    def write_panel(self, panel: pd.DataFrame) -> None:
        buf = io.BytesIO()
        panel.to_parquet(buf)
        atomic_write_bytes(self.panel_path, buf.getvalue())

    def evaluation(self) -> dict[str, Any]:
        """evaluation.json; RunError naming the fix when it is missing or damaged."""
        if not self.evaluation_path.is_file():
            raise RunError(f"run {self.name!r} has no evaluation.json; run `finmt evaluate {self.name}`")
        try:
            data = json.loads(self.evaluation_path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("run"), dict):
                raise ValueError("not an evaluation of a run")
        except (ValueError, OSError) as exc:
            raise RunError(f"{self.evaluation_path} is damaged ({one_line(exc)}); rebuild it with "
                           f"`finmt evaluate {self.name}` (or Evaluate now on the Evaluation page)") from None
        return data

    # ---- one trainer at a time ------------------------------------------------------------
    def training_lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold the run's exclusive training lock (``.train.lock``) for a ``with`` block; the OS
        releases it when the process dies, so a killed trainer never blocks a resume.

        Raises:
            RunError: another process trains this run now (the message names its pid).
        """
        return file_lock(self.path / TRAIN_LOCK, wait=False, record_pid=True, busy=lambda who: RunError(
            f"run {self.name!r} is being trained by {who}; wait for it to finish or cancel it "
            "(Cancel on the Train page, or stop that process)"))

    def training_holder(self) -> str | None:
        """Who trains the run now (``"process 1234"``), or None when nobody holds its lock."""
        return lock_holder(self.path / TRAIN_LOCK)

    def clean_temp_files(self) -> list[Path]:
        """Remove temp files that a killed writer left in the run and its checkpoints folder."""
        return [p for d in (self.path, self.checkpoints_dir) for p in clean_stale_temp_files(d, pid_alive)]

    # ---- cancellation -----------------------------------------------------------------
    def request_cancel(self) -> None:
        atomic_write_text(self.cancel_path, now_iso() + "\n")

    def cancel_requested(self) -> bool:
        return self.cancel_path.exists()

    def clear_cancel(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.cancel_path.unlink()


# ---- run collections -------------------------------------------------------------------
def run_path(root: str | Path, name: str) -> Path:
    return Path(root) / validate_run_name(name)


def open_run(root: str | Path, name: str) -> RunDir:
    """An existing run by name; RunError naming the existing runs when it is not there."""
    run = RunDir(run_path(root, name))
    if not run.exists():
        names = [r.name for r in list_runs(root)][:10]
        hint = f"; runs in {root}: {', '.join(names)}" if names else f"; {root} has no runs"
        raise RunError(f"no run named {name!r}{hint}")
    return run


def default_run_name(config: ExperimentConfig) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]", "-", config.preset or config.name or "run").strip(".-") or "run"
    return f"{base[:60]}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def create_run(root: str | Path, name: str | None, config: ExperimentConfig) -> RunDir:
    """Create ``root/<name>`` with config.yaml and a "queued" status.

    With ``name=None`` the name is ``<preset>-<timestamp>`` (``-2``, ``-3`` ... appended if taken);
    an explicit name that exists raises RunError.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if name is not None:
        candidates = [validate_run_name(name)]
    else:
        base = default_run_name(config)
        candidates = [base] + [f"{base}-{i}" for i in range(2, 1000)]
    for cand in candidates:
        path = root / cand
        try:
            path.mkdir()  # atomic: exactly one creator wins
        except FileExistsError:
            if name is not None:
                raise RunError(
                    f"a run named {name!r} already exists in {root}; choose another --name, "
                    f"or continue it with --resume {name}"
                ) from None
            continue
        run = RunDir(path)
        try:
            run.checkpoints_dir.mkdir()
            run.write_config(config)
            run.write_status(
                state="queued", name=cand, preset=config.preset, model=config.model.name,
                created=now_iso(), epoch=0, epochs=config.train.epochs, progress=0.0, error=None,
            )
        except BaseException:  # a full disk: no half-made run directory stays behind
            shutil.rmtree(path, ignore_errors=True)
            raise
        return run
    raise RunError(f"could not find a free run name in {root} for {candidates[0]!r}")


def _created_key(run: RunDir) -> str:
    created = run.status().get("created")
    if created:
        return str(created)
    return datetime.fromtimestamp(run.config_path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")


def list_runs(root: str | Path) -> list[RunDir]:
    """Every run directory under ``root`` (those with a config.yaml), newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [RunDir(p) for p in root.iterdir() if p.is_dir() and RUN_NAME_RE.fullmatch(p.name)]
    runs = [r for r in runs if r.exists()]
    keyed = []
    for r in runs:
        try:
            keyed.append((_created_key(r), r.name, r))
        except (RunError, OSError):  # a run being deleted right now, or a hand-broken status
            continue
    keyed.sort(key=lambda x: (x[0], x[1]), reverse=True)
    return [r for _, _, r in keyed]
