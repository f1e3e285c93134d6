"""``build_report(run_dir, out_path)``: one self-contained HTML file about a run, for stakeholders.

Sections: what was trained on what data; the honest metric table with baselines; caveats
(warnings, significance); training curves; confusion matrices, ROC and calibration;
regression scatter and IC over time; signal gating; backtest net of costs; top explanations;
breakdowns. plotly.js is inlined once in the page head, so the file opens without a network
connection. The evaluation is read from ``evaluation.json`` (computed and written first when
missing). The report is written atomically; the run directory is otherwise only read.
"""

from __future__ import annotations

import logging
import string
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from finmt_core import plots
from finmt_core import report_sections as S
from finmt_core.errors import DataError, FinmtError, RunError
from finmt_core.evaluation.frames import task_rows
from finmt_core.evaluation.metrics import reliability_bins
from finmt_core.run import Run
from finmt_core.training.runs import RunDir, atomic_write_text

if TYPE_CHECKING:
    from finmt_core.config import ExperimentConfig
    from finmt_core.data.prepare import PreparedData
    from finmt_core.evaluation.backtest import BacktestResult

log = logging.getLogger(__name__)

TEMPLATE = Path(__file__).resolve().parent / "templates" / "report.html"
SECTIONS = (("overview", "Data & setup"), ("results", "Results"), ("caveats", "Caveats"), ("training", "Training"),
            ("classification", "Classification"), ("regression", "Regression"), ("signal-gating", "Signal gating"),
            ("backtest", "Backtest"), ("explanations", "Explanations"), ("breakdowns", "Breakdowns"))
#: Test rows sampled for attributions (evenly spaced over the test segment).
EXPLAIN_ROWS = 48


def _load_data(run: Run) -> tuple[PreparedData | None, str | None]:
    try:
        return run.data(), None
    except (FinmtError, FileNotFoundError, OSError) as exc:
        return None, f"The run's data could not be rebuilt ({exc}); sections that need prices or inputs are skipped."


def _evaluation(run: Run) -> dict[str, Any]:
    ev = run.evaluation_file()
    if ev is not None:
        return ev
    log.info("no evaluation.json in %s: evaluating first", run.path)
    return run.evaluate(write=True)


def _result_bars(ev: dict[str, Any]) -> list[go.Figure]:
    from finmt_core.evaluation.evaluate import metric_table

    table = metric_table(ev)
    return [plots.metric_vs_baseline(table, m) for m in ("accuracy", "ic", "pinball") if (table["metric"] == m).any()]


def _classification_figs(config: ExperimentConfig, ev: dict[str, Any], test: pd.DataFrame | None) -> list[go.Figure]:
    figs = []
    for t in config.tasks:
        if t.kind != "classification" or t.name not in ev.get("confusion", {}):
            continue
        cm = ev["confusion"][t.name]
        figs.append(plots.confusion_matrix(np.asarray(cm["matrix"]), cm["classes"], normalize=True, title=f"{t.name}: confusion matrix"))
        if test is not None:
            r = task_rows(test, t, split=None)
            if len(r):
                figs.append(plots.roc_curves(r.y, r.pred, t.classes, title=f"{t.name}: ROC"))
                figs.append(plots.calibration(reliability_bins(r.y, r.pred), title=f"{t.name}: calibration"))
    return figs


def _regression_figs(config: ExperimentConfig, test: pd.DataFrame | None) -> list[go.Figure]:
    from finmt_core.evaluation.breakdowns import ic_series
    from finmt_core.evaluation.frames import point_prediction

    figs: list[go.Figure] = []
    if test is None:
        return figs
    for t in config.tasks:
        if t.kind == "classification":
            continue
        r = task_rows(test, t, split=None)
        if len(r):
            figs.append(plots.regression_scatter(r.y, point_prediction(t, r.pred), title=f"{t.name}: predicted vs realised"))
            figs.append(plots.ic_over_time(ic_series(t, r), title=f"{t.name}: daily IC"))
    return figs


def _backtests(run: Run, prepared: PreparedData | None,
               cost_bps: float) -> tuple[dict[str, BacktestResult], go.Figure | None, str | None]:
    if prepared is None:
        return {}, None, "No backtest: the run's prices could not be loaded."
    out: dict[str, BacktestResult] = {}
    for strategy in ("auto", "top_k", "sized"):
        try:
            res = run.backtest("test", strategy=strategy, cost_bps=cost_bps)
        except DataError as exc:
            log.info("backtest %s skipped: %s", strategy, exc)
            continue
        label = res.settings["strategy"] if strategy != "auto" else f"{res.settings['strategy']} (default)"
        if strategy == "auto" or res.settings["strategy"] not in {r.settings["strategy"] for r in out.values()}:
            out[label] = res
    if not out:
        return {}, None, "No backtest: the run has no task to trade on."
    first = next(iter(out.values()))
    return out, plots.equity_drawdown(first.frame(), title=f"Equity and drawdown: {next(iter(out))}, {cost_bps:g} bps"), None


def _explanations(run: Run, config: ExperimentConfig, prepared: PreparedData | None) -> tuple[list[go.Figure], list[str]]:
    """Top features per task (IG for nets, TreeSHAP for LightGBM) and the model's attention maps,
    on :data:`EXPLAIN_ROWS` test rows (:meth:`Run.explain_sample`)."""
    if prepared is None:
        return [], ["No explanations: the run's inputs could not be rebuilt."]
    if config.model.name == "ensemble":
        members = ", ".join(config.model.params.get("members", []))
        return [], [f"An ensemble has no inputs of its own to explain; see the reports of its members ({members}). "
                    "Its weights are in ensemble.json and evaluation.json."]
    if len(prepared.rows("test")[0]) == 0:
        return [], ["No test rows to explain."]
    try:
        ex = run.explain_sample(EXPLAIN_ROWS)
    except FinmtError as exc:
        return [], [f"No explanations: {exc}"]
    figs: list[go.Figure] = []
    notes: list[str] = []
    if ex.predictor.estimator is not None:
        if config.model.name != "lightgbm":
            return [], [f"{config.model.name} is a fixed rule (see its definition); it has no learned inputs to explain."]
        from finmt_core.explain import shap_summary, tree_shap

        for t in config.tasks[:4]:
            try:
                figs.append(plots.attribution_bars(shap_summary(tree_shap(ex.predictor.estimator, prepared, ex.date_idx,
                                                                          ex.ticker_idx, t)), top=15,
                                                   title=f"{t.name}: mean |SHAP| per feature (LightGBM, lags folded in)"))
            except FinmtError as exc:
                notes.append(str(exc))
        return figs, notes
    from finmt_core.explain import attention_maps, integrated_gradients

    model = ex.predictor.network()
    for t in config.tasks[:4]:
        a = integrated_gradients(model, ex.batch, t, prepared.info, nodes=ex.nodes)
        figs.append(plots.attribution_bars(a.by_feature(absolute=True), top=15,
                                           title=f"{t.name}: mean |Integrated Gradients| per feature"))
    for m in attention_maps(model, ex.batch, prepared.info, tickers=list(prepared.tickers), edge_index=prepared.graph.edge_index)[:3]:
        if m.name == "gat_edges":
            figs.append(plots.gat_edges(m.extra["edge_index"], m.extra["edge_weight"], prepared.tickers, prepared.dense.sector))
        else:
            figs.append(plots.attention_heatmap(m.values, m.x_labels, m.y_labels, title=f"attention: {m.name}",
                                                x_title=m.x_title, y_title=m.y_title))
    notes.append(f"Attributions on {len(np.unique(ex.date_idx))} test dates; baseline = average (all-zero standardised) inputs.")
    return figs, notes


def _corr_fig(ev: dict[str, Any]) -> go.Figure | None:
    corr = ev.get("breakdowns", {}).get("cross_task_correlation") or {}
    if not corr:
        return None
    df = pd.DataFrame(corr)
    return plots.attention_heatmap(df.to_numpy(dtype=float), list(df.columns), list(df.index),
                                   title="Cross-task correlation of predictions (Spearman)", x_title="task", y_title="task")


def _pct(value: Any) -> str:
    """``1.0`` -> ``100.0 %``; missing -> ``—``."""
    return "—" if value is None or not np.isfinite(float(value)) else f"{float(value):.1%}"


def build_report(run_dir: str | Path | RunDir, out_path: str | Path, *, cost_bps: float = 10.0,
                 explain: bool = True) -> Path:
    """Write the HTML report of a run to ``out_path`` (atomically) and return its path.

    Args:
        run_dir: the run (a :class:`~finmt_core.run.Run` reuses its cached data and model).

    Raises:
        RunError: the run directory has no config (not a run) or no predictions yet.
    """
    run = Run.of(run_dir)
    config = run.config()
    status = run.status()
    if not run.predictions_path.is_file():
        raise RunError(f"run {run.name!r} has no predictions yet (state: {run.effective_state()}); finish training first")
    ev = _evaluation(run)
    test = run.predictions("test")
    prepared, data_note = _load_data(run)
    data_info = {}
    if prepared is not None:
        groups = ", ".join(f"{g} {len(i)}" for g, i in prepared.info.groups.items())
        data_info = {"tickers": len(prepared.tickers), "features": f"{prepared.info.n_features} ({groups})"}
    metrics = run.metrics()
    figs_train = [plots.loss_curves(metrics), plots.task_weights(metrics), plots.learning_rate(metrics)] if len(metrics) else []
    bt, equity, bt_err = _backtests(run, prepared, cost_bps)
    ex_figs, ex_notes = _explanations(run, config, prepared) if explain else ([], ["Explanations were not requested."])
    gated = ev.get("signal_gated")
    gate_figs = [plots.coverage_accuracy(pd.DataFrame(gated["curve"]))] if gated and gated.get("curve") else []
    gate_intro = (f"At threshold {gated['threshold']:.2f}: coverage {_pct(gated.get('coverage'))} "
                  f"({S.fmt(gated.get('n_calls'))} calls), accuracy of the calls {_pct(gated.get('accuracy'))} "
                  "(realised direction over the task horizon)." if gated else None)
    kinds = {t.kind for t in config.tasks}
    body = [
        S.overview(config, status, ev, data_info),
        S.results(ev, _result_bars(ev)),
        S.caveats(ev),
        S.figures_section("training", "Training curves", figs_train, "No epochs logged."),
        # sections a run's tasks cannot fill are left out (with their link in the navigation)
        S.figures_section("classification", "Classification: confusion, ROC, calibration", _classification_figs(config, ev, test),
                          "No classification task.") if "classification" in kinds else "",
        S.figures_section("regression", "Regression: predicted vs realised, IC over time", _regression_figs(config, test),
                          "No regression or quantile task.") if kinds - {"classification"} else "",
        S.figures_section("signal-gating", "Signal-gated predictions", gate_figs,
                          "The run has no signal + direction heads, so no signal gating.", gate_intro) if gated else "",
        S.backtest(bt, equity, cost_bps, bt_err),
        S.figures_section("explanations", "Top explanations", ex_figs, "No explanations available.", "; ".join(ex_notes) or None),
        S.breakdowns(ev, _corr_fig(ev)),
    ]
    if data_note:  # the reader sees the data file's name, not where it lives on the server
        data_note = data_note.replace(str(config.data.source), S.source_name(config.data.source))
        body.insert(0, f'<div class="warn">{S.esc(data_note)}</div>')
    page = string.Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        title=S.esc(f"{run.name} — {config.model.name}"),
        subtitle=f"<p>{S.esc(', '.join(t.name for t in config.tasks))} on {S.esc(S.source_name(config.data.source))}; test "
                 f"{S.esc(' to '.join(ev.get('splits', {}).get('test', [])))}</p>",
        nav="".join(f'<a href="#{sid}">{S.esc(label)}</a>' for sid, label in SECTIONS
                    if any(f'id="{sid}"' in part for part in body)),
        sections="\n".join(part for part in body if part),
        plotlyjs=f'<script type="text/javascript">{get_plotlyjs()}</script>',
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
    out = Path(out_path)
    atomic_write_text(out, page)
    log.info("wrote report %s (%.1f MB)", out, out.stat().st_size / 1e6)
    return out
