"""Cached explanations of a run's model (:mod:`finmt_core.run_explain` on the shared
:class:`~finmt_core.run.Run`), cached per run, checkpoint stamp, row and setting."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboard.cache import ModelStamp, model_stamp, predictor, run_data, run_object
from finmt_core import run_explain
from finmt_core.training.runs import RunDir

if TYPE_CHECKING:
    from finmt_core.explain.attention import AttentionMap
    from finmt_core.explain.attribution import Attribution
    from finmt_core.run import Run


def _ready(path: str) -> Run:
    """The run's shared Run, its data and model built first through their cached
    (spinner-showing) wrappers."""
    run = RunDir(path)
    run_data(run)
    predictor(run)
    return run_object(run)


@st.cache_data(show_spinner="Reading attention…", max_entries=64)
def _attention(path: str, key: ModelStamp, day: pd.Timestamp, ticker: str) -> list[AttentionMap]:
    return run_explain.attention(_ready(path), day, ticker)


def attention(run: RunDir, day: pd.Timestamp, ticker: str) -> list[AttentionMap]:
    """Every AttentionMap of the model for one (date, ticker); [] for models without attention."""
    return _attention(str(run.path), model_stamp(run), day, ticker)


@st.cache_data(show_spinner="Computing attributions…", max_entries=64)
def _attribution(path: str, key: ModelStamp, day: pd.Timestamp, ticker: str, task: str, method: str) -> Attribution:
    return run_explain.attribution(_ready(path), day, ticker, task, method)


def attribution(run: RunDir, day: pd.Timestamp, ticker: str, task: str, method: str) -> Attribution:
    """Captum Attribution of one task's output for one (date, ticker)."""
    return _attribution(str(run.path), model_stamp(run), day, ticker, task, method)


@st.cache_data(show_spinner="Computing SHAP values…", max_entries=16)
def _shap(path: str, key: ModelStamp, task: str, n_rows: int, seed: int) -> pd.Series:
    return run_explain.shap_values(_ready(path), task, n_rows, seed)


def shap_values(run: RunDir, task: str, n_rows: int = 64, seed: int = 0) -> pd.Series:
    """SHAP summary (mean |SHAP| per feature) on a sample of test rows: TreeExplainer for a
    LightGBM run, expected-gradients SHAP for a (non-graph) net with train rows as background."""
    return _shap(str(run.path), model_stamp(run), task, n_rows, seed)


@st.cache_data(show_spinner="Projecting embeddings…", max_entries=16)
def _embeddings(path: str, key: ModelStamp, max_rows: int) -> pd.DataFrame:
    return run_explain.embeddings(_ready(path), max_rows)


def embeddings(run: RunDir, max_rows: int = 1500) -> pd.DataFrame:
    """2-D PCA of the model's embeddings on (a sample of) the test rows."""
    return _embeddings(str(run.path), model_stamp(run), max_rows)
