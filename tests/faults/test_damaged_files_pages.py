"""Hand-damaged run files on every page (Streamlit AppTest through the real router): a clear
message naming the file, never an exception; the runs lists keep every run."""

from __future__ import annotations

import pytest
from page_helpers import no_exception, texts

pytestmark = pytest.mark.faults

CONFIG = "the config of run 'config' cannot be read"
#: (page, damaged run) -> a phrase the page must show (None: the page works as usual)
SHOWS = {
    ("evaluation", "pred-truncated"): "predictions.parquet is damaged",
    ("evaluation", "pred-columns"): "lacks the column(s)",
    ("evaluation", "evaluation"): "evaluation.json is damaged",
    ("evaluation", "config"): CONFIG,
    ("evaluation", "status"): None,
    ("backtest", "pred-truncated"): "predictions.parquet is damaged",
    ("backtest", "ckpt-best"): "best.pt: the file is damaged",
    ("backtest", "config"): CONFIG,
    ("signals", "pred-columns"): "lacks the column(s)",
    ("signals", "ckpt-best"): "best.pt: the file is damaged",
    ("signals", "config"): CONFIG,
    ("whatif", "ckpt-best"): "best.pt: the file is damaged",
    ("whatif", "config"): CONFIG,
    ("whatif", "pred-truncated"): None,
    ("explain", "pred-truncated"): "predictions.parquet is damaged",
    ("explain", "config"): CONFIG,
    ("report", "config"): CONFIG,
    ("curves", "metrics"): None,
    ("curves", "config"): CONFIG,
    ("curves", "status"): None,
}


@pytest.mark.parametrize(("page", "run"), list(SHOWS))
def test_page_shows_a_clear_message(open_page, damaged_root, page, run) -> None:
    at = open_page(damaged_root, page, run=run)
    no_exception(at)
    shown = texts(at)
    assert "Traceback" not in shown
    want = SHOWS[page, run]
    if want is None:
        assert not at.error, [e.value for e in at.error]
    else:
        assert want in "\n".join(str(e.value) for e in at.error) or want in shown, shown[-1500:]


@pytest.mark.parametrize(("run", "want"), [("pred-truncated", "predictions.parquet is damaged"),
                                           ("evaluation", "evaluation.json is damaged")])
def test_report_page_shows_a_clear_message_when_built(open_page, damaged_root, run, want) -> None:
    at = open_page(damaged_root, "report", run=run)
    at.session_state["report_explain"] = False
    at.button(key="report_build").click().run()
    no_exception(at)
    assert want in "\n".join(str(e.value) for e in at.error)


def test_home_lists_every_run_with_its_damage(open_page, damaged_root) -> None:
    at = open_page(damaged_root, "home")
    no_exception(at)
    table = at.dataframe[0].value
    rows = dict(zip(table["run"], zip(table["state"], table["headline"])))
    assert {"ok", "pred-truncated", "ckpt-best", "config", "evaluation", "status", "metrics"} <= set(rows)
    assert rows["status"][0] == "damaged" and "status.json is damaged" in rows["status"][1]
    assert "evaluation.json is damaged" in rows["evaluation"][1]
    assert rows["config"][0] == "unreadable" and "cannot be read" in rows["config"][1]


def test_train_page_shows_the_damaged_status(open_page, damaged_root) -> None:
    at = open_page(damaged_root, "train")
    no_exception(at)
    at.toggle(key="train_show_all").set_value(True).run()
    no_exception(at)
    assert any("status.json is damaged" in str(e.value) for e in at.error)
