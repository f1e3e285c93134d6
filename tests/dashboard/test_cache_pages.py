"""The dashboard cache layer holds what pages used to cache themselves: the run comparison
(re-read when an evaluation file changes) and an upload read with a date format."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
from test_data_upload import prices_csv

from dashboard import cache
from finmt_core.training.runs import RunDir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))

import compare_world  # tests/evaluation/compare_world.py


def test_comparison_is_cached_and_rereads_a_changed_evaluation(tmp_path: Path) -> None:
    paths = compare_world.write_world(tmp_path)
    runs = [RunDir(paths[n]) for n in ("cmp-s0", "cmp-s1")]
    first = cache.comparison(runs)
    assert first.runs == ["cmp-s0", "cmp-s1"]
    assert first.metrics.loc[("direction", "accuracy", "model"), "cmp-s1"] == 0.54
    pd.testing.assert_frame_equal(cache.comparison(runs).metrics, first.metrics)  # same files: same answer
    ev = runs[1].evaluation_path
    ev.write_text(json.dumps(compare_world.evaluation("cmp-s1", 0.61, 0.02)))
    st = ev.stat()
    os.utime(ev, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a new stamp even on a coarse clock
    again = cache.comparison(runs).metrics
    assert again.loc[("direction", "accuracy", "model"), "cmp-s1"] == 0.61


def test_uploaded_panel_reads_an_explicit_date_format() -> None:
    data = prices_csv(n_days=40, tickers=("AAA", "BBB"), date_format="%d/%m/%Y")
    panel = cache.uploaded_panel("prices.csv", data, "%d/%m/%Y")
    dates = panel.index.get_level_values("date").unique()
    assert dates[0] == pd.Timestamp("2020-01-01") and len(dates) == 40
    assert sorted(panel.index.get_level_values("ticker").unique()) == ["AAA", "BBB"]
    plain = cache.uploaded_panel("prices.csv", prices_csv(n_days=40))
    assert plain.index.get_level_values("date").unique().equals(dates)
