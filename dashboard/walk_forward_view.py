"""The Evaluation page's walk-forward section: per-fold test metrics beside the baselines on
each fold's rows, and their mean ± std over folds (from the walk-forward run's
``evaluation.json``, written by :func:`finmt_core.evaluation.walk_forward.evaluate_walk_forward`)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import cache, state
from dashboard.errors import guard
from finmt_core.evaluation.metrics import HEADLINE
from finmt_core.evaluation.walk_forward import aggregate_frame, evaluate_walk_forward, fold_table
from finmt_core.training.runs import RunDir
from finmt_core.training.walk_forward import walk_forward_parent


def _metrics(result: dict[str, Any]) -> list[str]:
    """Metrics every fold reports, each task kind's headline first."""
    heads = {HEADLINE["classification" if "accuracy" in ms else "quantile" if "pinball" in ms else "regression"][0]
             for f in result["walk_forward"]["folds"] for ms in f["tasks"].values()}
    others = [m for f in result["walk_forward"]["folds"][:1] for ms in f["tasks"].values() for m in ms
              if m in ("balanced_accuracy", "mcc", "roc_auc", "rank_ic", "directional_accuracy", "r2", "mae")]
    return list(dict.fromkeys([*sorted(heads), *others]))


def walk_forward_section(run: RunDir) -> None:
    """Show the walk-forward folds of the run that ``run`` is the last fold of (nothing for
    an ordinary run)."""
    parent = walk_forward_parent(run)
    if parent is None:
        return
    st.subheader("Walk-forward folds", anchor=False)
    try:
        result = cache.evaluation_file(parent)
    except Exception:  # a damaged file is rebuilt by evaluating again
        result = None
    if not result or "walk_forward" not in result:
        st.info(f"**{parent.name}** trained {cache.config(parent).split.folds} folds. Evaluating them scores every fold's "
                "test rows beside the baselines (fitted on that fold's train segment) and their mean ± std.",
                icon=":material/view_timeline:")
        if not state.viewer_mode() and st.button("Evaluate all folds", icon=":material/play_arrow:", key="evaluate_folds"):
            with st.spinner("Evaluating every fold…"), guard("Evaluating the folds"):
                evaluate_walk_forward(parent.path)
            st.rerun()
        st.divider()
        return
    wf = result["walk_forward"]
    st.caption(f"{wf['n_folds']} {wf['scheme']} folds, test {' → '.join(result['splits'].get('test', []))}; "
               f"{wf['spread_note']}. The sections below show the last fold ({run.name}).")
    metrics = _metrics(result)
    metric = st.segmented_control("Fold metric", metrics, default=metrics[0], key="wf_metric") or metrics[0]
    agg = aggregate_frame(wf, metric)
    if not agg.empty:
        st.markdown(f"**{metric}: mean ± std over folds** (model beside the baselines)")
        st.dataframe(agg)
    per_fold = fold_table(result, metric)
    if not per_fold.empty:
        st.markdown(f"**{metric} per fold** (each fold's test rows)")
        numeric = [c for c in per_fold.columns if c not in ("task", "fold", "test")]
        st.dataframe(per_fold, hide_index=True,
                     column_config={c: st.column_config.NumberColumn(format="%.4f") for c in numeric})
    verdicts = pd.DataFrame([{"fold": f["fold"], "gates": {True: "passed", False: "failed"}.get(f["passed"], "not judged"),
                              "failed gates": "; ".join(f["failed"]) or "–"} for f in (result.get("gates") or {}).get("folds", [])])
    if not verdicts.empty:
        st.markdown("**Validation gates per fold** (each fold's validation rows)")
        st.dataframe(verdicts, hide_index=True)
    st.divider()
