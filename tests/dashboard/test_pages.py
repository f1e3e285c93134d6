"""Every page through the real router with streamlit's AppTest: renders without an exception,
shows its key widgets and charts, and reacts to its main controls."""

from __future__ import annotations

import pytest
from page_helpers import PAGES, charts, no_exception, texts


# ---- empty states -------------------------------------------------------------------------
@pytest.mark.parametrize("page", [p for p in PAGES if p not in ("data", "train")])
def test_pages_without_runs_show_an_empty_state(open_page, empty_root, page):
    at = open_page(empty_root, page)
    no_exception(at)
    assert not at.error
    assert "No runs yet" in texts(at)


def test_home_lists_runs_with_status_and_headline(open_page, runs_root):
    at = open_page(runs_root, "home")
    no_exception(at)
    table = at.dataframe[0].value
    assert {"fx-tgcn", "fx-failed", "rf-tgcn", "rf-seq"} <= set(table["run"])
    states = dict(zip(table["run"], table["state"]))
    assert "done" in states["fx-tgcn"] and "failed" in states["fx-failed"] and "cancelled" in states["fx-cancelled"]
    headline = dict(zip(table["run"], table["headline"]))
    assert "accuracy" in headline["rf-tgcn"]  # from evaluation.json
    assert "NaN" in headline["fx-failed"]  # a failed run shows its error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Runs"] == str(len(table)) and metrics["Training now"] == "0"


def test_curves_show_losses_and_compare_runs(open_page, runs_root):
    at = open_page(runs_root, "curves", run="fx-tgcn")
    no_exception(at)
    assert "fx-tgcn" in texts(at)
    before = charts(at)
    assert before >= 4  # losses, weights, lr, throughput (+ validation metric)
    at.multiselect(key="compare").select("fx-seq").run()
    no_exception(at)
    assert charts(at) == before + 1
    at.selectbox(key="run").select("fx-seq").run()
    assert "fx-seq" in texts(at)


def test_curves_of_a_run_without_epochs_explain_why(open_page, runs_root):
    at = open_page(runs_root, "curves", run="fx-cancelled")
    no_exception(at)
    assert charts(at) >= 1


def test_data_page_shows_demo_data_and_reacts_to_the_dataset(open_page, empty_root):
    at = open_page(empty_root, "data")
    no_exception(at)
    assert charts(at) == 1  # the price chart: tabs are lazy, only the open one runs
    for tab in ("Features", "Labels", "Stock graph"):
        at.session_state["data_tab"] = tab
        at.run()
        no_exception(at)
        assert not at.error, (tab, [e.value for e in at.error])
        assert charts(at) == 1, tab
    at.session_state["data_tab"] = "Prices"
    at.run()
    tickers_demo = {m.label: m.value for m in at.metric}["Tickers"]
    at.selectbox(key="data").select("synthetic").run()
    no_exception(at)
    assert {m.label: m.value for m in at.metric}["Tickers"] != tickers_demo


def test_malformed_upload_shows_the_loaders_message(open_page, empty_root):
    at = open_page(empty_root, "data")
    bad = b"date,ticker,close\n2020-01-01,A,abc\n2020-01-02,A,xyz\n"
    at.file_uploader(key="upload").set_value(("prices.csv", bad, "text/csv")).run()
    no_exception(at)
    message = "\n".join(e.value for e in at.error)
    assert "prices.csv" in message and "non-numeric" in message  # DataError text, not a traceback
    assert "Traceback" not in texts(at)


def test_valid_upload_can_be_saved_for_training(open_page, empty_root):
    from finmt_core.data.samples import synthetic_market

    csv = synthetic_market(n_stocks=4, n_days=200, n_sectors=2, seed=3).reset_index().to_csv(index=False).encode()
    at = open_page(empty_root, "data")
    at.file_uploader(key="upload").set_value(("mine.csv", csv, "text/csv")).run()
    no_exception(at)
    assert {m.label: m.value for m in at.metric}["Tickers"] == "4"
    at.button(key="save_upload").click().run()
    assert (empty_root / ".uploads" / "mine.parquet").is_file()


def test_evaluation_shows_metrics_beside_baselines(open_page, runs_root):
    at = open_page(runs_root, "evaluation", run="rf-tgcn")
    no_exception(at)
    assert not at.error
    assert charts(at) >= 5  # vs-baseline bars, confusion, ROC, calibration, ...
    table = at.dataframe[0].value
    assert "model" in table.columns and "naive_majority" in table.columns
    n = charts(at)
    at.toggle(key="eval_norm").set_value(False).run()
    no_exception(at)
    assert charts(at) == n


def test_evaluation_offers_to_evaluate_an_unevaluated_run(open_page, runs_root):
    at = open_page(runs_root, "evaluation", run="fx-seq")  # hand-written: no evaluation.json
    no_exception(at)
    assert "Not evaluated yet" in texts(at)
    assert at.button(key="evaluate")


def test_backtest_reacts_to_costs(open_page, runs_root):
    at = open_page(runs_root, "backtest", run="rf-seq")
    no_exception(at)
    assert not at.error
    assert charts(at) >= 3
    before = {m.label: m.value for m in at.metric}["Net total return"]
    at.number_input(key="bt_cost").set_value(200.0).run()
    no_exception(at)
    assert {m.label: m.value for m in at.metric}["Net total return"] != before


def test_signals_threshold_slider_changes_the_calls(open_page, runs_root):
    at = open_page(runs_root, "signals", run="fx-tgcn")
    no_exception(at)
    assert charts(at) >= 3  # heatmap, coverage-accuracy, ticker history
    coverage = {m.label: m.value for m in at.metric}["Coverage"]
    at.slider(key="sg_threshold").set_value(0.9).run()
    no_exception(at)
    assert {m.label: m.value for m in at.metric}["Coverage"] != coverage


def test_signals_agree_with_the_evaluation(open_page, runs_root):
    """Coverage and accuracy at threshold 0.5 on the test segment are evaluation.json's."""
    import json

    ev = json.loads((runs_root / "rf-tgcn" / "evaluation.json").read_text())["signal_gated"]
    at = open_page(runs_root, "signals", run="rf-tgcn")
    no_exception(at)
    shown = {m.label: m.value for m in at.metric}
    from dashboard.fmt import pct

    assert shown["Coverage"] == pct(ev["coverage"])
    assert shown["Accuracy of calls"] == pct(ev["accuracy"])


def test_signals_for_a_model_without_gating_heads(open_page, runs_root, tmp_path):
    import handmade_runs

    handmade_runs.write_run(tmp_path, "only-return", "lstm_transformer", [handmade_runs.SEQ_TASKS[0]])
    at = open_page(tmp_path, "signals")
    no_exception(at)
    assert "no gating heads" in texts(at)


def test_train_page_has_the_form_device_and_jobs(open_page, runs_root):
    at = open_page(runs_root, "train")
    no_exception(at)
    assert "CUDA" in texts(at)  # whether CUDA is available, and which GPU
    assert at.selectbox(key="train_preset").options
    assert at.button(key="launch")
    for key in ("train_epochs", "train_batch"):
        assert at.number_input(key=key)
    assert "loss became NaN" in texts(at)  # a failed run shows its error
    assert at.toggle(key="train_show_all")


def test_train_page_shows_a_bad_run_name_instead_of_launching(open_page, tmp_path):
    at = open_page(tmp_path, "train")
    at.selectbox(key="train_preset").select("naive").run()
    at.text_input(key="train_name").set_value("../escape")
    at.button(key="launch").click().run()
    no_exception(at)
    assert "invalid run name" in "\n".join(e.value for e in at.error)
    assert not [p for p in tmp_path.iterdir() if p.is_dir() and not p.name.startswith(".")]


def test_whatif_slider_changes_the_prediction(open_page, runs_root):
    at = open_page(runs_root, "whatif", run="rf-seq")
    no_exception(at)
    assert not at.error
    before = {m.label: m.value for m in at.metric}
    assert before and not any(m.delta for m in at.metric)  # no shock yet: no deltas
    at.slider(key="wi_return").set_value(-10.0).run()
    no_exception(at)
    after = {m.label: m.value for m in at.metric}
    assert after != before
    assert any(m.delta not in ("+0.0000", "-0.0000") for m in at.metric)


def test_whatif_uncertainty_toggle_samples_dropout(open_page, runs_root):
    at = open_page(runs_root, "whatif", run="rf-seq")
    n = len(at.dataframe)
    at.toggle(key="wi_mc").set_value(True).run()
    no_exception(at)
    assert len(at.dataframe) == n + 1


@pytest.mark.parametrize("view", ["Attention", "Attributions (Captum)", "SHAP summary", "Embedding map"])
def test_explain_views_render_a_chart(open_page, runs_root, view):
    at = open_page(runs_root, "explain", run="rf-seq", view=view)
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert charts(at) >= 1


def test_explain_graph_model_shows_gat_edges(open_page, runs_root):
    at = open_page(runs_root, "explain", run="rf-tgcn")
    no_exception(at)
    assert not at.error
    assert charts(at) >= 1


def test_run_picker_switches_the_run(open_page, runs_root):
    at = open_page(runs_root, "evaluation", run="rf-tgcn")
    assert "rf-tgcn" in texts(at)
    at.selectbox(key="run").select("rf-seq").run()
    no_exception(at)
    assert "rf-seq" in texts(at) and "rf-tgcn" not in texts(at)


def test_report_builds_and_offers_the_download(open_page, runs_root):
    at = open_page(runs_root, "report", run="rf-seq")
    no_exception(at)
    assert "Build the report" in texts(at) and not at.get("iframe")
    at.toggle(key="report_explain").set_value(False)
    at.button(key="report_build").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert at.get("download_button") and at.get("iframe")
    assert at.get("page_link")  # the presentation-mode link


def test_presentation_mode_hides_every_control(open_page, runs_root):
    at = open_page(runs_root, "report", run="rf-seq", present="1")
    no_exception(at)
    assert not at.error
    assert not at.get("iframe")  # drawn natively, not the report in a frame
    assert charts(at) >= 1 and at.dataframe  # the model beside its baselines, curves / equity
    assert not at.button and not at.number_input and not at.toggle and not at.get("download_button")
    assert [t.value for t in at.title] == ["rf-seq — lstm_transformer"]  # the run's title, not the page's


def test_every_navigation_entry_opens(open_page, empty_root):
    """The router lists exactly the page files that exist, and each opens without an exception."""
    from pathlib import Path

    pages = Path(__file__).resolve().parents[2] / "pages"
    for file in sorted(pages.glob("*.py")):
        at = open_page(empty_root, file.stem)
        no_exception(at)
        assert at.title or at.info, file.stem


def test_model_zoo_page_shows_the_committed_learning_report(open_page, empty_root):
    """The Model zoo page reads finmt_core/evaluation/learning_report.json: a table per market
    with the share of the oracle's edge, and the random walk explained."""
    from finmt_core.evaluation.learning import load_report

    report = load_report()
    assert report is not None and {"planted", "random_walk"} <= set(report["summary"]["market"])
    at = open_page(empty_root, "learning")
    no_exception(at)
    table = at.dataframe[0].value
    # the zoo learns; ablation baselines (one branch of cnn_lstm) are shown beside it and may not
    ablation = table["preset"].astype(str).str.endswith(("_cnn_only", "_lstm_only"))
    assert "share_of_edge" in table.columns and (table.loc[~ablation, "share_of_edge"] > 0.7).all()
    assert ablation.sum() == 2 and "cnn_lstm" in set(table["preset"])
    at.segmented_control[0].set_value("random_walk").run()
    no_exception(at)
    assert any("random walk" in x.value for x in at.info)
