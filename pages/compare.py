"""Compare runs: pick several runs -> the config keys that differ, test metrics beside the
baselines of each run, runs grouped by everything but the seed (mean ± std, n), and overlaid
curves of any logged metric. The picked runs, the table's metrics, the curve metric, its scale
and the grouping live in the URL (``?runs=a,b,c&metrics=accuracy,ic&metric=val_loss&scale=log&group=seed``),
so the view is a link."""

from __future__ import annotations

import streamlit as st

from dashboard import cache, fmt, links, state
from dashboard import widgets as w
from dashboard.errors import guard
from finmt_core import plots
from finmt_core.evaluation.compare_runs import (
    available_metrics,
    curve_columns,
    seed_groups,
)
from finmt_core.evaluation.compare_views import groups_by_metric, picked_metrics
from finmt_core.training.metrics_log import last_values
from finmt_core.training.runs import list_runs

#: grouping choice (URL value) -> (label, keys to group by; None = everything but the seed)
GROUPINGS: dict[str, tuple[str, list[str] | None]] = {
    "seed": ("Everything but the seed", None),
    "model": ("Model only", ["model.name"]),
    "none": ("No grouping (one row per run)", []),
}

#: metrics in the table until the viewer picks others: each task kind's headline and the row count
HEADLINE = ("n", "accuracy", "ic", "pinball")

root = state.runs_root()
st.title("Compare runs", anchor=False)
runs = list_runs(root)
if len(runs) < 2:
    w.no_runs("the run comparison (it needs two runs or more)")
names = [r.name for r in runs]

picked = links.url_multiselect(st, "Runs to compare", names, key="runs", placeholder="choose two or more runs",
                               help="Runs in the runs folder, newest first. The selection is part of the page's link.")
if len(picked) < 2:
    st.info("Pick two or more runs to see what differs in their configs, their test metrics beside "
            "their baselines, and their curves overlaid.", icon=":material/compare_arrows:")
    st.stop()

chosen = [next(r for r in runs if r.name == n) for n in picked]  # in the order picked
with guard("Comparing the runs"):
    options = available_metrics(chosen)
    result = cache.comparison(chosen, options)
for warning in result.warnings:
    st.warning(warning, icon=":material/warning:")

# ---- config diff -----------------------------------------------------------------------------
st.subheader("Config: only the keys that differ", anchor=False)
if len(result.config_diff):
    # a key a run's model does not have (or leaves unset) is "—", not Python's None/nan
    st.dataframe(result.config_diff.map(fmt.cell_or_dash), width="stretch")
    st.caption("— : the key is not set in that run's config (its model has no such parameter, or it uses the default).")
else:
    st.caption("The configs are the same except for the run names.")

# ---- test metrics beside baselines -----------------------------------------------------------
st.subheader("Test metrics beside baselines", anchor=False)
st.caption("Each column is one run's test segment; its baselines were scored on exactly that run's "
           "rows (`model` = the run, `benchmark` = buy-and-hold for the backtest rows, net of costs for the model).")
with st.expander("Test rows of each run", icon=":material/table_rows:"):
    st.dataframe(result.test_rows, width="stretch")
shown_metrics = links.url_multiselect(st, "Metrics", options, key="metrics", default=[m for m in HEADLINE if m in options],
                                      help="Test metrics of the model and its baselines; the backtest rows are always shown.")
metrics_shown = picked_metrics(result.metrics, shown_metrics)
if len(metrics_shown):
    table = metrics_shown.reset_index()
    # text for people: 4 decimals, whole row counts, "—" where a metric is undefined (e.g. the IC
    # of a constant baseline); the CSV download of the dataframe keeps these strings
    table[picked] = fmt.metric_cells(table[picked], table["metric"].eq("n"))
    st.dataframe(table, hide_index=True, width="stretch", height=35 * (len(table) + 1) + 3,
                 column_config={n: st.column_config.TextColumn(n, alignment="right") for n in picked})
else:
    st.info("None of these runs is evaluated yet: run `finmt evaluate RUN` or open it on the Evaluation page.",
            icon=":material/info:")

# ---- groups ----------------------------------------------------------------------------------
st.subheader("Groups: mean ± std over runs", anchor=False)
group = links.url_choice(st, "Group runs by", list(GROUPINGS), key="group", default="seed",
                         format_func=lambda k: GROUPINGS[k][0])
by = GROUPINGS[str(group)][1]
with guard("Grouping the runs"):
    groups = seed_groups(chosen, metrics_shown, by=by)
st.table(groups_by_metric(groups))  # one column per group, one row per metric
st.caption("Model metrics on each run's test segment; std over the runs of a group (n − 1 in the "
           "denominator); a group of one run has no spread.")

# ---- curves ----------------------------------------------------------------------------------
st.subheader("Curves", anchor=False)
with guard("Reading the metrics logs"):
    logs = {r.name: cache.metrics(r) for r in chosen}
columns = curve_columns(logs)
if not columns:
    st.caption("None of these runs logged epochs (fitted baselines have no curves).")
    st.stop()
c1, c2 = st.columns([3, 1])
metric = links.url_choice(c1, "Logged metric", columns, key="metric", default="val_loss")
scale = links.url_choice(c2, "Scale", ["linear", "log"], key="scale", default="linear")
st.plotly_chart(plots.compare_runs(logs, str(metric), log_y=scale == "log", title=f"{metric} by run"), key="cmp_curves")
last = last_values(logs, str(metric))
st.dataframe(last.to_frame(), width="content", column_config={last.name: st.column_config.NumberColumn(format="%.4f")})
