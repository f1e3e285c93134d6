"""The Compare runs page (pages/compare.py) through the real router: the link's runs, metric,
scale and grouping set the widgets, and the numbers match the runs' evaluation files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))

import compare_world  # tests/evaluation/compare_world.py


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compare-page")
    compare_world.write_world(root)
    return root


def test_link_reopens_the_view(world: Path, open_page) -> None:
    at = open_page(world, "compare", runs="cmp-s0,cmp-s1,cmp-s2", metric="val.direction", scale="log", group="seed")
    assert not at.exception
    assert at.multiselect(key="runs").value == ["cmp-s0", "cmp-s1", "cmp-s2"]
    assert at.selectbox(key="metric").value == "val.direction"
    assert at.selectbox(key="scale").value == "log"
    assert at.selectbox(key="group").value == "seed"
    groups = at.table[0].value
    assert groups.loc["direction/accuracy", "all runs"] == "0.5400 ± 0.0200 (n=3)"
    assert at.query_params["runs"] == "cmp-s0,cmp-s1,cmp-s2"
    metrics = next(d.value for d in at.dataframe if "source" in d.value.columns)
    rows = metrics.set_index(["task", "metric", "source"])
    assert rows.loc[("direction", "accuracy", "model"), "cmp-s1"] == "0.5400"
    assert rows.loc[("direction", "n", "model"), "cmp-s0"] == "180"
    assert rows.loc[("return", "ic", "naive_majority"), "cmp-s2"] == "—"  # undefined, not None/nan
    assert at.multiselect(key="metrics").value == ["n", "accuracy", "ic"]  # the headline metrics present
    assert "metrics" not in at.query_params and "group" not in at.query_params  # defaults stay out of the link


def test_link_chooses_the_table_metrics(world: Path, open_page) -> None:
    at = open_page(world, "compare", runs="cmp-s0,cmp-lr", metrics="balanced_accuracy,mae")
    assert not at.exception
    assert at.multiselect(key="metrics").value == ["balanced_accuracy", "mae"]
    metrics = next(d.value for d in at.dataframe if "source" in d.value.columns)
    assert set(metrics["metric"]) == {"balanced_accuracy", "mae", "sharpe", "annual_return", "max_drawdown", "avg_turnover"}
    groups = at.table[0].value
    assert "direction/balanced_accuracy" in groups.index and "direction/accuracy" not in groups.index


def test_grouping_and_diff_follow_the_picks(world: Path, open_page) -> None:
    at = open_page(world, "compare", runs="cmp-s0,cmp-lr", group="none")
    assert not at.exception
    groups = at.table[0].value
    assert list(groups.columns) == ["cmp-s0", "cmp-lr"]
    diff = at.dataframe[0].value
    assert sorted(diff.index) == ["train.lr"]  # both have seed 0: only the learning rate differs
    assert at.query_params["group"] == "none"
    at.selectbox(key="group").set_value("model").run()
    assert at.query_params["group"] == "model"


def test_fewer_than_two_picks_explains(world: Path, open_page) -> None:
    at = open_page(world, "compare")
    assert not at.exception
    assert any("two or more runs" in i.value for i in at.info)


def test_a_key_one_run_lacks_reads_as_a_dash(world: Path, open_page) -> None:
    cfg = world / "cmp-lr" / "config.yaml"
    original = cfg.read_text()
    data = yaml.safe_load(original)
    data["model"].setdefault("params", {})["kernel_sizes"] = [3, 5]  # a parameter only this run sets
    cfg.write_text(yaml.safe_dump(data))
    try:
        at = open_page(world, "compare", runs="cmp-s0,cmp-lr", group="none")
    finally:  # the world is shared by the module's tests
        cfg.write_text(original)
    assert not at.exception
    diff = at.dataframe[0].value
    assert diff.loc["model.params.kernel_sizes", "cmp-s0"] == "—"
    assert diff.loc["model.params.kernel_sizes", "cmp-lr"] == "[3, 5]"
    assert not diff.isin(["None", "nan"]).any().any()
