"""A finmt run -> one MLflow run (``finmt export RUN --to mlflow [--tracking-uri URI]``).

Logged: params = the flattened config (``train.lr``, ``model.params.hidden``, ...), metrics =
every scalar of metrics.jsonl at ``step = epoch`` (with the epoch's wall time) and the test
metrics of evaluation.json (step 0), tags (``finmt.run``, model, state), artifacts =
config.yaml, status.json, metrics.jsonl, evaluation.json and report.html when present.
MLflow is optional: ``pip install 'finmt[mlflow]'`` (mlflow-skinny is enough).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from finmt_core.errors import ConfigError
from finmt_core.evaluation.compare_runs import run_config_flat
from finmt_core.export import epoch_scalars, evaluation_or_none, evaluation_scalars
from finmt_core.training.runs import RunDir

log = logging.getLogger(__name__)

#: MLflow's per-request limits (log_batch): params and metrics per call; param value length.
MAX_PARAMS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_PARAM_CHARS = 6000
#: files of the run directory uploaded as artifacts when they exist.
ARTIFACTS = ("config.yaml", "status.json", "metrics.jsonl", "evaluation.json", "report.html")


@dataclass
class MlflowExport:
    """Where the run went: tracking URI, experiment and run ids, counts of what was logged."""

    tracking_uri: str
    experiment_id: str
    run_id: str
    n_params: int
    n_metrics: int
    artifacts: list[str]


def export_mlflow(run: RunDir, tracking_uri: str | None = None, experiment: str = "finmt") -> MlflowExport:
    """Log ``run`` as a new MLflow run in ``experiment`` (created when missing).

    Args:
        tracking_uri: MLflow tracking URI (``file:///abs/mlruns``, ``sqlite:///mlflow.db``,
            ``http://host:5000``); None = MLflow's default (``MLFLOW_TRACKING_URI``, else MLflow 3's
            ``sqlite:///mlflow.db`` in the working directory).

    Raises:
        ConfigError: MLflow is not installed or the tracking server refuses the run.
        RunError: the run has no readable config (RunDir.config).
    """
    try:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ConfigError("MLflow is not installed: pip install 'finmt[mlflow]' (or mlflow-skinny), "
                          "then run the export again") from None
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        client.search_experiments(max_results=1)  # opens the store: a bad URI fails here, before any write
    except MlflowException as exc:
        raise ConfigError(f"MLflow cannot open the tracking store {tracking_uri or '(default)'}: "
                          f"{str(exc).splitlines()[0]} Use a database URI such as sqlite:///mlflow.db, an "
                          "http:// server, or set MLFLOW_ALLOW_FILE_STORE=true for a file:// store") from None
    params = {k: ("" if v is None else str(v))[:MAX_PARAM_CHARS] for k, v in run_config_flat(run).items()}
    status = run.status()
    scalars = epoch_scalars(run)
    now_ms = int(time.time() * 1000)
    metrics: list[Metric] = []
    stamps = scalars.pop("timestamp_ms") if "timestamp_ms" in scalars else None
    for col in scalars.columns:
        series = scalars[col].dropna()
        for epoch, value in series.items():
            ts = int(stamps.loc[epoch]) if stamps is not None and stamps.loc[epoch] > 0 else now_ms
            metrics.append(Metric(col, float(value), ts, int(epoch)))
    ev = evaluation_or_none(run)
    if ev is not None:
        metrics += [Metric(k, v, now_ms, 0) for k, v in evaluation_scalars(ev).items()]
    try:
        exp = client.get_experiment_by_name(experiment)
        exp_id = exp.experiment_id if exp is not None else client.create_experiment(experiment)
        tags = {"finmt.run": run.name, "finmt.model": str(params.get("model.name", "")),
                "finmt.state": str(status.get("state", "")), "mlflow.runName": run.name}
        mlrun = client.create_run(exp_id, run_name=run.name, tags=tags)
        rid = mlrun.info.run_id
        items = [Param(k, v) for k, v in params.items()]
        for i in range(0, len(items), MAX_PARAMS_PER_BATCH):
            client.log_batch(rid, params=items[i:i + MAX_PARAMS_PER_BATCH])
        for i in range(0, len(metrics), MAX_METRICS_PER_BATCH):
            client.log_batch(rid, metrics=metrics[i:i + MAX_METRICS_PER_BATCH])
        client.log_batch(rid, tags=[RunTag("finmt.exported", "1")])
        uploaded = []
        for name in ARTIFACTS:
            path = run.path / name
            if path.is_file():
                client.log_artifact(rid, str(path))
                uploaded.append(name)
        client.set_terminated(rid, "FINISHED" if status.get("state") == "done" else "FAILED")
    except MlflowException as exc:
        raise ConfigError(f"MLflow at {client.tracking_uri} refused the export of run {run.name!r}: "
                          f"{str(exc).splitlines()[0]}; check --tracking-uri and the server") from None
    log.info("exported %s to MLflow %s (run %s): %d params, %d metrics", run.name, client.tracking_uri, rid,
             len(params), len(metrics))
    return MlflowExport(str(client.tracking_uri), exp_id, rid, len(params), len(metrics), uploaded)
