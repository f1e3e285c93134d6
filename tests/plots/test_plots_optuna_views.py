"""Optuna's own views of a study (finmt_core/plots/optuna_views.py) and the Tuning page that
shows them beside the trials table."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import pytest

optuna = pytest.importorskip("optuna")

from finmt_core.plots.optuna_views import VIEWS, optuna_views  # noqa: E402
from finmt_core.tuning.study import MIN_TRIALS_FOR_IMPORTANCE  # noqa: E402

LR = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
HIDDEN = optuna.distributions.IntDistribution(8, 64)
DROPOUT = optuna.distributions.FloatDistribution(0.0, 0.5)


def _study(n: int, storage: str | None = None, name: str = "s") -> optuna.Study:
    """``n`` complete trials on three parameters, objective known (no training), plus a pruned one."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=storage, direction="minimize")
    for i in range(n):
        params = {"lr": 10 ** (-4 + 3 * i / max(n, 1)), "hidden": 8 + (7 * i) % 57, "dropout": (i % 5) / 10}
        study.add_trial(optuna.trial.create_trial(params=params, distributions={"lr": LR, "hidden": HIDDEN, "dropout": DROPOUT},
                                                  value=-0.01 * i + params["dropout"], user_attrs={"run": f"{name}-t{i:04d}"}))
    study.add_trial(optuna.trial.create_trial(params={"lr": 1e-3}, distributions={"lr": LR}, state=optuna.trial.TrialState.PRUNED))
    return study


def test_all_four_views_with_a_caveat_below_twenty_trials() -> None:
    views = optuna_views(_study(6))
    assert [v.key for v in views] == list(VIEWS)
    assert all(isinstance(v.figure, go.Figure) for v in views)
    by = {v.key: v for v in views}
    assert len(by["parallel"].figure.data) >= 1 and by["parallel"].figure.layout.title.text == "Parallel coordinates"
    assert by["importances"].figure.data[0].type == "bar"
    assert set(by["importances"].figure.data[0].y) == {"lr", "hidden", "dropout"}
    assert f"fewer than {MIN_TRIALS_FOR_IMPORTANCE}" in by["importances"].note
    assert by["contour"].note is None and by["slice"].note is None


def test_no_caveat_from_twenty_trials() -> None:
    by = {v.key: v for v in optuna_views(_study(MIN_TRIALS_FOR_IMPORTANCE))}
    assert by["importances"].figure is not None and by["importances"].note is None


def test_too_few_trials_say_why() -> None:
    by = {v.key: v for v in optuna_views(_study(0))}
    assert all(v.figure is None and "No complete trial" in v.note for v in by.values())
    by = {v.key: v for v in optuna_views(_study(1))}
    assert by["parallel"].figure is not None
    assert by["contour"].figure is None and "two parameters" in by["contour"].note
    assert by["importances"].figure is None and "1 complete trial" in by["importances"].note


def test_tuning_page_shows_the_views_beside_the_table(tmp_path: Path, open_page) -> None:
    from finmt_core.tuning.study import default_storage

    _study(5, storage=default_storage(tmp_path), name="tune-views")
    at = open_page(tmp_path, "tuning")
    assert not at.exception
    labels = [t.label for t in at.tabs]
    assert labels == list(VIEWS.values())
    assert len(at.dataframe) >= 1  # the trials table
    assert any("fewer than 20" in w.value for w in at.warning)
