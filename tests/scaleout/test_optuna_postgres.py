"""Optuna on PostgreSQL: one study from two concurrent `finmt tune` processes, read back by the
dashboard's Tuning page.

Needs a PostgreSQL server: ``FINMT_TEST_POSTGRES_URL`` (``.ci/run`` starts a throwaway cluster and
sets it; by hand: ``source .ci/postgres.sh && ci_postgres_start``). Without it the test skips.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from finmt_core.errors import ConfigError
from finmt_core.tuning.storage import STORAGE_ENV, display_url, open_storage, storage_exists, storage_url

PG_URL = os.environ.get("FINMT_TEST_POSTGRES_URL", "")
TINY = {
    "data": {"source": "synthetic", "window": 10,
             "synthetic": {"n_stocks": 5, "n_days": 260, "n_sectors": 1, "seed": 3, "signal_strength": 0.5}},
    "train": {"epochs": 2, "batch_size": 128, "max_batches_per_epoch": 3, "device": "cpu"},
}
#: the reference trial's intermediate value: below any real one (a negated mean skill is >= -1)
UNBEATABLE = -10.0


def test_storage_urls_pick_psycopg3_and_hide_passwords() -> None:
    pytest.importorskip("psycopg", reason="psycopg 3 (the postgres extra) is not installed")
    assert storage_url("postgresql://u:pw@db:5432/optuna") == "postgresql+psycopg://u:pw@db:5432/optuna"
    assert storage_url("postgres://u@db/optuna") == "postgresql+psycopg://u@db/optuna"
    assert storage_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert display_url("postgresql+psycopg://u:secret@db:5432/optuna") == "postgresql+psycopg://u:***@db:5432/optuna"
    assert not storage_exists("sqlite:////nonexistent/optuna.db") and storage_exists("postgresql://db/x")
    with pytest.raises(ConfigError, match="not a database URL"):
        storage_url("runs/optuna.db")


def test_unreachable_server_is_a_config_error_without_the_password(tmp_path: Path) -> None:
    pytest.importorskip("psycopg", reason="psycopg 3 (the postgres extra) is not installed")
    import socket

    from finmt_core.tuning.study import list_studies

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConfigError, match="cannot use study storage") as err:
        list_studies(f"postgresql://finmt:hunter2@127.0.0.1:{port}/optuna?connect_timeout=2")
    assert "hunter2" not in str(err.value)


def test_tuning_page_reads_the_storage_named_by_the_environment(tmp_path: Path, open_page,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """FINMT_OPTUNA_STORAGE, not <runs>/optuna.db: here a SQLite file elsewhere (no server needed)."""
    import optuna

    url = f"sqlite:///{tmp_path / 'elsewhere' / 'shared.db'}"
    (tmp_path / "elsewhere").mkdir()
    study = optuna.create_study(study_name="env-study", storage=open_storage(url))
    for value in (0.3, 0.1):
        study.add_trial(optuna.trial.create_trial(params={"train.lr": value / 100}, value=value,
                                                  distributions={"train.lr": optuna.distributions.FloatDistribution(1e-4, 1e-2)}))
    monkeypatch.setenv(STORAGE_ENV, url)
    at = open_page(tmp_path / "runs", "tuning")  # an empty runs folder: no optuna.db there
    assert not at.exception and not at.error
    assert at.selectbox(key="tuning_study").value == "env-study"
    assert {m.label: m.value for m in at.metric}["Trials"] == "2"


def _seed_reference_trial(url: str, study: str) -> None:
    """Create the study with one COMPLETE trial whose per-epoch values nothing can beat.

    The default median pruner (2 startup trials) then prunes, at its first epoch, every trial
    that starts after one finmt trial completed, and the first finmt trial to finish always
    completes: the verdicts are known whatever the runs score. Its own objective is the worst,
    so it is never the study's best."""
    import optuna

    s = optuna.create_study(study_name=study, storage=open_storage(url), direction="minimize")
    s.add_trial(optuna.trial.create_trial(value=1e9, intermediate_values={1: UNBEATABLE, 2: UNBEATABLE},
                                          user_attrs={"reference": True}))


@pytest.mark.slow
def test_two_tune_processes_share_one_postgres_study_and_the_page_reads_it(
        tmp_path: Path, open_page, monkeypatch: pytest.MonkeyPatch) -> None:
    if not PG_URL:
        pytest.skip("no PostgreSQL server: set FINMT_TEST_POSTGRES_URL (.ci/run starts one; by hand: "
                    "source .ci/postgres.sh && ci_postgres_start)")
    pytest.importorskip("psycopg", reason="psycopg 3 (the postgres extra) is not installed")
    import optuna

    study = f"pg-{uuid.uuid4().hex[:8]}"
    _seed_reference_trial(PG_URL, study)
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"train.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}))
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(yaml.safe_dump(TINY))
    runs = tmp_path / "runs"
    # both workers run the very same command, as on two machines (both ask for the defaults trial)
    args = [sys.executable, "-m", "finmt_core.cli", "tune", "--data", "synthetic", "--preset", "lstm_transformer",
            "--trials", "2", "--run-dir", str(runs), "--study", study, "--search-space", str(space),
            "--config", str(tiny), "--storage", PG_URL, "--enqueue-defaults", "--json"]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    procs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-3000:] for o in outs]
    assert all(json.loads(o[0])["study"] == study for o in outs)

    trials = optuna.load_study(study_name=study, storage=open_storage(PG_URL)).trials
    assert sorted(t.number for t in trials) == list(range(5))  # reference + 2 x 2, each number once
    ours = [t for t in trials if not t.user_attrs.get("reference")]
    dupes = [t for t in ours if "run" not in t.user_attrs]  # a defaults trial both workers enqueued
    assert all(t.state == optuna.trial.TrialState.PRUNED and t.user_attrs.get("defaults") for t in dupes)
    trained = [t for t in ours if "run" in t.user_attrs]
    names = [t.user_attrs["run"] for t in trained]
    assert names == [f"{study}-t{t.number:04d}" for t in trained] and len(set(names)) == len(names)
    assert sorted(p.name for p in runs.iterdir() if p.is_dir()) == sorted(names)  # each trial trained once
    assert sum(bool(t.user_attrs.get("defaults")) for t in trained) == 1
    pids = {json.loads((runs / n / "status.json").read_text())["pid"] for n in names}
    assert pids == {p.pid for p in procs}  # both workers trained trials

    states = {t.number: t.state for t in trained}
    assert optuna.trial.TrialState.COMPLETE in states.values()
    pruned = [t for t in trained if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "the median pruner pruned no trial"
    for t in pruned:  # stopped where the reference's value beat it, run kept
        status = json.loads((runs / t.user_attrs["run"] / "status.json").read_text())
        assert f"pruned by Optuna after epoch {max(t.intermediate_values)}" in status["message"]

    monkeypatch.setenv(STORAGE_ENV, PG_URL)
    at = open_page(runs, "tuning")
    assert not at.exception and not at.error
    at.selectbox(key="tuning_study").set_value(study).run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Trials"] == "5"
    assert metrics["Pruned"] == str(len(pruned) + len(dupes))
    assert metrics["Complete"] == str(1 + sum(s == optuna.trial.TrialState.COMPLETE for s in states.values()))
    assert any(display_url(PG_URL) in c.value for c in at.caption)
    shown = at.dataframe[0].value
    assert set(names) <= set(shown["user_attrs_run"].dropna())
