"""The Home page's runs table as data (dashboard/run_table.py) and the state colours it shares
with the badges (dashboard/widgets.py)."""

from __future__ import annotations

import pandas as pd

from dashboard import run_table as rt
from dashboard import widgets as w


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "run": ["tgcn-a", "lgbm-b", "study-t0001"], "state": ["done", "failed", "done"],
        "model": ["tgcn", "lightgbm", "tgcn"], "tasks": ["direction", "return", "direction"],
        "tags": ["best, paper", "", "paper"], "notes": ["", "oom", ""], "headline": ["", "", ""],
        "trial": [False, False, True], "best val loss": [0.5, float("nan"), 0.4],
    })


def test_filters_search_state_tags_and_trials():
    table = _table()
    assert list(rt.filter_table(table)["run"]) == ["tgcn-a", "lgbm-b"]  # trials hidden by default
    assert list(rt.filter_table(table, trials=True)["run"]) == ["tgcn-a", "lgbm-b", "study-t0001"]
    assert list(rt.filter_table(table, query="OOM")["run"]) == ["lgbm-b"]
    assert list(rt.filter_table(table, states=["done"], trials=True)["run"]) == ["tgcn-a", "study-t0001"]
    assert list(rt.filter_table(table, tags=["paper"], trials=True)["run"]) == ["tgcn-a", "study-t0001"]
    assert rt.all_tags(table) == ["best", "paper"]


def test_counts_and_shown_table():
    n = rt.state_counts(_table())
    assert n == {"runs": 3, "running": 0, "queued": 0, "done": 2, "failed_or_cancelled": 1}
    shown = rt.shown_table(_table())
    assert "trial" not in shown and list(shown["best val loss"])[:1] == ["0.5000"]


def test_headline_words_the_library_numbers():
    evaluation = {"tasks": {"direction": {"accuracy": 0.532}, "return": {"ic": 0.0213}},
                  "baselines": {"naive_majority": {"direction": {"accuracy": 0.511}}}}
    text = rt.headline(evaluation)
    assert text.startswith("direction: accuracy 53.2")
    assert "best baseline 51.1" in text and "return: ic 0.021" in text
    assert rt.headline(None) == ""


def test_state_colours_are_the_badge_colours():
    assert w.state_css("done") == f"color: {w.BADGE_HEX['green']}; font-weight: 600"
    assert w.state_css("failed") == w.state_css("damaged") == f"color: {w.BADGE_HEX['red']}; font-weight: 600"
    assert w.state_css("stopped (no heartbeat)").startswith(f"color: {w.BADGE_HEX['violet']}")
    assert w.state_css("unreadable") == "color: inherit; font-weight: 600"
    assert all(colour in w.BADGE_HEX for colour, _icon, _text in w.STATE_STYLE.values())
