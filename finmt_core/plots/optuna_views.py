"""Optuna's own study visualisations (plotly): parallel coordinates, slice, contour and
parameter importances, each with a note when the study cannot support it yet.

The objective is the study's minimised value (the negated validation score with
``train.monitor: score``, see ``finmt_core/tuning/study.py``). Importances are computed by
Optuna (fANOVA) and flagged below :data:`~finmt_core.tuning.study.MIN_TRIALS_FOR_IMPORTANCE`
complete trials, as the tuning code warns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from finmt_core.tuning.study import MIN_TRIALS_FOR_IMPORTANCE

log = logging.getLogger(__name__)

#: view key -> title shown on the tab
VIEWS = {
    "parallel": "Parallel coordinates",
    "slice": "Slice",
    "contour": "Contour",
    "importances": "Parameter importances",
}
#: contour plots are pairwise: more parameters than this and only the most important are drawn.
MAX_CONTOUR_PARAMS = 4
TARGET_NAME = "objective (minimised)"


@dataclass
class OptunaView:
    """One visualisation: ``figure`` is None when it cannot be drawn, ``note`` says why (or a caveat)."""

    key: str
    title: str
    figure: go.Figure | None
    note: str | None = None


def _complete(study: Any) -> list[Any]:
    import optuna

    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def _varied_params(trials: list[Any]) -> list[str]:
    """Searched parameters that took at least two values over the complete trials (sorted)."""
    values: dict[str, set[str]] = {}
    for t in trials:
        for k, v in t.params.items():
            values.setdefault(k, set()).add(repr(v))
    return sorted(k for k, vs in values.items() if len(vs) > 1)


def _draw(key: str, fn: Any, *args: Any, **kwargs: Any) -> tuple[go.Figure | None, str | None]:
    try:
        fig = fn(*args, target_name=TARGET_NAME, **kwargs)
    except (ValueError, RuntimeError, ZeroDivisionError) as exc:  # Optuna refuses degenerate studies
        log.info("optuna %s view unavailable: %s", key, exc)
        return None, f"Optuna could not draw this view: {exc}"
    fig.update_layout(title={"text": VIEWS[key]}, margin={"t": 60, "l": 70})
    return fig, None


def optuna_views(study: Any) -> list[OptunaView]:
    """The four views of ``study`` (an ``optuna.Study``), in :data:`VIEWS` order.

    Parallel coordinates and slice need one complete trial; contour needs two parameters that
    varied; importances need two complete trials and carry a caveat below
    ``MIN_TRIALS_FOR_IMPORTANCE`` complete trials.
    """
    from optuna import visualization as vis

    done = _complete(study)
    n = len(done)
    varied = _varied_params(done)
    if n == 0:
        return [OptunaView(k, t, None, "No complete trial yet: the views appear when the first trial finishes.")
                for k, t in VIEWS.items()]
    parallel = OptunaView("parallel", VIEWS["parallel"], *_draw("parallel", vis.plot_parallel_coordinate, study))
    slice_ = OptunaView("slice", VIEWS["slice"], *_draw("slice", vis.plot_slice, study))
    if n < 2 or not varied:
        importance = OptunaView("importances", VIEWS["importances"], None,
                                f"Importances need at least two complete trials with varied parameters; this study has "
                                f"{n} complete trial{'s' if n != 1 else ''}.")
    else:
        fig, note = _draw("importances", vis.plot_param_importances, study, params=varied)
        if note is None and n < MIN_TRIALS_FOR_IMPORTANCE:
            note = (f"Only {n} complete trials (fewer than {MIN_TRIALS_FOR_IMPORTANCE}): these importances mostly "
                    "reflect noise. Run more trials before trusting them.")
        importance = OptunaView("importances", VIEWS["importances"], fig, note)
    if len(varied) < 2:
        contour = OptunaView("contour", VIEWS["contour"], None,
                             f"A contour needs two parameters that took different values; {len(varied)} did so far.")
    else:
        params = (_ranked(importance.figure) or varied)[:MAX_CONTOUR_PARAMS]
        fig, note = _draw("contour", vis.plot_contour, study, params=params)
        if note is None and len(varied) > len(params):
            note = f"The {len(params)} most important of {len(varied)} varied parameters are drawn."
        contour = OptunaView("contour", VIEWS["contour"], fig, note)
    return [parallel, slice_, contour, importance]


def _ranked(importance: go.Figure | None) -> list[str]:
    """Parameter names of Optuna's importance bars, most important first (the bars are drawn
    least important at the bottom), so the importances are computed once."""
    if importance is None or not importance.data:
        return []
    bars = importance.data[0]
    return [str(name) for _, name in sorted(zip(bars.x, bars.y), key=lambda p: -float(p[0]))]
