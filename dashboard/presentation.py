"""Presentation mode (``?present=1`` on the Report page), drawn with Streamlit's own elements:
the run in one line, warnings, the model beside its baselines, training curves, signal gating
and the backtest net of costs. No controls, no iframe; every chart follows the app's theme."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import cache, charts, fmt, glossary
from dashboard import widgets as w
from finmt_core import plots
from finmt_core.config import ExperimentConfig
from finmt_core.evaluation.evaluate import metric_table
from finmt_core.evaluation.metrics import HEADLINE
from finmt_core.training.runs import RunDir

#: metrics shown in percent (shares); the rest with 4 decimals
PERCENT = {"accuracy", "balanced_accuracy", "directional_accuracy", "coverage", "hit_rate", "win_rate"}


def _cell(metric: str, value: object) -> str:
    return fmt.pct(value) if metric in PERCENT else fmt.num(value, ".4f")


def headline_table(evaluation: dict) -> pd.DataFrame:
    """Task x (model, baselines) of each task's headline metric, formatted for reading."""
    table = metric_table(evaluation)
    if table.empty:
        return pd.DataFrame()
    wanted = {task: HEADLINE[kind][0] for task, kind in _task_kinds(evaluation).items()}
    rows = table[[wanted.get(t) == m for t, m in zip(table["task"], table["metric"])]]
    rows = table if rows.empty else rows  # no headline metric recorded: every metric
    wide = rows.pivot_table(index=["task", "metric"], columns="name", values="value", sort=False, dropna=False)
    wide = wide.dropna(how="all")  # only the task x metric pairs that were scored
    wide = wide[["model", *[c for c in wide.columns if c != "model"]]]
    return pd.DataFrame({c: [_cell(m, v) for (_t, m), v in wide[c].items()] for c in wide.columns}, index=wide.index)


def _task_kinds(evaluation: dict) -> dict[str, str]:
    return {task: ("classification" if "accuracy" in m else "quantile" if "pinball" in m else "regression")
            for task, m in evaluation.get("tasks", {}).items()}


def render(run: RunDir, config: ExperimentConfig, cost_bps: float) -> None:
    """The whole presentation of ``run`` (backtest at ``cost_bps`` per unit of turnover)."""
    evaluation = cache.evaluation_file(run)
    if evaluation is None:
        w.empty_state(f"{run.name} is not evaluated yet", "Evaluate it on the Evaluation page (or with "
                      "`finmt evaluate RUN`) to present it.")
        return
    test = evaluation.get("splits", {}).get("test", [])
    st.title(f"{run.name} — {config.model.name}", anchor=False)
    st.markdown(f"Tasks **{', '.join(t.name for t in config.tasks)}** on {w.plain_text(fmt.source_name(config.data.source))}"
                + (f" · test segment {test[0]} → {test[1]}" if len(test) == 2 else "")
                + f" · {evaluation.get('run', {}).get('n_test_rows', '?'):,} test rows")
    for warning in evaluation.get("warnings", []):
        st.warning(warning, icon=":material/warning:")

    st.subheader("Model vs baselines (same test rows)", anchor=False)
    table = headline_table(evaluation)
    if table.empty:
        st.info("No task could be scored on the test segment.", icon=":material/info:")
    else:
        st.dataframe(table, column_config=glossary.column_help(table.columns), width="stretch")

    gated = evaluation.get("signal_gated")
    if gated:
        c = st.columns(3)
        n_calls = gated.get("n_calls")
        c[0].metric("Signal-gated accuracy", fmt.pct(gated.get("accuracy"), reason="no calls"), border=True)
        c[1].metric("Coverage", fmt.pct(gated.get("coverage")), border=True)
        c[2].metric("Calls", "—" if fmt.missing(n_calls) else f"{int(n_calls):,}", border=True,
                    help=f"at gate threshold {gated.get('threshold', 0.5):.2f}")

    left, right = st.columns(2)
    metrics = cache.metrics(run)
    with left:
        if len(metrics):
            charts.show(plots.loss_curves(metrics), key="present_losses", file_name=f"{run.name}-losses")
        else:
            st.caption("A fitted baseline: no training curves.")
    with right:
        strategy = "signal_gated" if gated else "top_k"
        try:
            result = cache.backtest(run, "test", strategy=strategy, cost_bps=float(cost_bps))
        except Exception as exc:  # no prices to trade: the reason, not a traceback
            st.caption(f"No backtest: {exc}")
        else:
            net, bench = result.metrics.get("net", {}), result.metrics.get("benchmark", {})
            charts.show(plots.equity_drawdown(result.frame()), key="present_equity", file_name=f"{run.name}-equity")
            st.caption(f"{strategy.replace('_', ' ')} strategy, {cost_bps:g} bps costs: net total return "
                       f"{fmt.pct(net.get('total_return'))} (buy & hold {fmt.pct(bench.get('total_return'))}), "
                       f"net Sharpe {fmt.num(net.get('sharpe'), '.2f')}.")
