"""Backtest: turn a run's predictions into positions (signal-gated, top-k or sized), with
transaction costs, against an equal-weight buy-and-hold benchmark."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import cache, charts, fmt, links, state
from dashboard import widgets as w
from dashboard.errors import guard
from finmt_core import plots
from finmt_core.evaluation.strategies import STRATEGIES

STRATEGY_TEXT = {
    "signal_gated": "Signal-gated: long Up / short Down calls",
    "top_k": "Top-k long/short by predicted return",
    "top_k_long": "Top-k long only",
    "sized": "Sized by predicted magnitude x confidence",
}
METRIC_TEXT = {
    "total_return": ("Total return", "{:.1%}"), "annual_return": ("Annualised return", "{:.1%}"),
    "annual_vol": ("Annualised volatility", "{:.1%}"), "sharpe": ("Sharpe", "{:.2f}"), "sortino": ("Sortino", "{:.2f}"),
    "max_drawdown": ("Max drawdown", "{:.1%}"), "calmar": ("Calmar", "{:.2f}"), "win_rate": ("Win rate", "{:.1%}"),
    "profit_factor": ("Profit factor", "{:.2f}"), "avg_turnover": ("Avg daily turnover", "{:.1%}"),
    "hit_rate": ("Hit rate", "{:.1%}"), "avg_gross_exposure": ("Avg gross exposure", "{:.2f}"),
    "avg_net_exposure": ("Avg net exposure", "{:.2f}"), "n_days": ("Days", "{:.0f}"),
}

root = state.runs_root()
st.title("Backtest", anchor=False)
with guard("Opening the run"):  # a damaged config.yaml: one message, the picker stays
    run, config = w.pick_finished_run(root, "the backtest")

with guard("Reading predictions"):
    preds = cache.predictions(run)
# signal-gated trading needs signal / direction / action probabilities: the run's gating policy says
strategies = [s for s in STRATEGIES if s != "signal_gated" or cache.gating(run).can_gate]

# ---- controls -------------------------------------------------------------------------------
with st.container(border=True):
    c = st.columns([3, 1, 1, 1])
    strategy = links.url_choice(c[0], "Strategy", strategies, key="bt_strategy", format_func=STRATEGY_TEXT.get)
    split = links.url_choice(c[1], "Segment", ["test", "val"], key="bt_split", help="Predictions of which segment to trade.")
    cost = links.url_number(c[2], "Cost (bps)", key="bt_cost", default=10.0, min_value=0.0, max_value=500.0, step=1.0,
                            help="Charged on turnover each day.")
    slip = links.url_number(c[3], "Slippage (bps)", key="bt_slip", default=0.0, min_value=0.0, max_value=500.0, step=1.0)
    c = st.columns(3)
    settings: dict = {"strategy": strategy, "cost_bps": float(cost), "slippage_bps": float(slip)}
    if strategy == "signal_gated":
        settings["threshold"] = links.url_slider(c[0], "Gate threshold", 0.0, 1.0, 0.5, 0.05, key="bt_threshold")
    elif strategy.startswith("top_k"):
        n_tickers = preds["ticker"].nunique()
        settings["k"] = int(links.url_slider(c[0], "k (names per side)", 1, max(1, n_tickers // 2),
                                             max(1, round(0.1 * n_tickers)), 1, key="bt_k"))
    settings["max_gross"] = links.url_slider(c[1], "Max gross exposure", 0.1, 3.0, 1.0, 0.1, key="bt_gross")
    settings["max_net"] = links.url_slider(c[2], "Max net exposure", 0.0, 3.0, 1.0, 0.1, key="bt_net")

with guard("Running the backtest"):
    result = cache.backtest(run, split, **settings)
frame = result.frame()

# ---- results ------------------------------------------------------------------------------
net, gross, bench = (result.metrics.get(k, {}) for k in ("net", "gross", "benchmark"))
c = st.columns(4)
c[0].metric("Net total return", f"{net.get('total_return', float('nan')):.1%}",
            delta=f"{net.get('total_return', 0) - bench.get('total_return', 0):+.1%} vs benchmark", border=True)
c[1].metric("Net Sharpe", f"{net.get('sharpe', float('nan')):.2f}", delta=f"benchmark {bench.get('sharpe', float('nan')):.2f}",
            delta_color="off", border=True)
c[2].metric("Max drawdown", f"{net.get('max_drawdown', float('nan')):.1%}", border=True)
c[3].metric("Avg daily turnover", f"{net.get('avg_turnover', float('nan')):.1%}", border=True)

charts.show(plots.equity_drawdown(frame), key="equity", file_name=f"{run.name}-equity")
d = st.columns([1.2, 1.2, 2])  # room for the labels at 1280 px
charts.csv_download(frame.reset_index(), f"{run.name}-backtest-daily-{split}", key="bt_csv_daily", container=d[0],
                    label="Daily series (CSV)", help="Per day: strategy returns gross and net of costs, the benchmark, "
                    "equity, drawdown, turnover and exposure.")

left, right = st.columns([3, 2])
with left:
    st.markdown("**Metrics with and without costs**")
    st.dataframe(fmt.labelled_metrics({"net of costs": net, "before costs": gross, "buy & hold": bench}, METRIC_TEXT))
with right:
    charts.show(plots.returns_histogram(frame), key="hist", file_name=f"{run.name}-returns-histogram")

charts.show(plots.turnover(frame), key="turnover", file_name=f"{run.name}-turnover")

st.markdown("**Positions**")
positions = result.positions()
if positions.empty:
    st.info("The strategy took no positions with these settings (try a lower gate threshold).", icon=":material/info:")
else:
    charts.csv_download(positions, f"{run.name}-positions-{split}", key="bt_csv_positions", container=d[1],
                        label="Positions (CSV)", help="Every day's weight per ticker.")
    days = [pd.Timestamp(x).strftime("%Y-%m-%d") for x in sorted(positions["date"].unique())]
    day = pd.Timestamp(links.url_choice(st, "Day", days, key="bt_day", default=days[-1], widget="select_slider"))
    st.dataframe(positions[positions["date"] == day].sort_values("weight"), hide_index=True,
                 column_config={"weight": st.column_config.NumberColumn(format="%+.3f"),
                                "date": st.column_config.DateColumn(format="YYYY-MM-DD")})
st.caption(f"Settings: {fmt.settings_text(result.settings)}. Positions decided at the close earn the next day's "
           "return; costs are charged on turnover.")
