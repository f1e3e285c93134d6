"""``finmt serve``'s API with FastAPI's TestClient: the numbers of ``finmt predict`` for the same
run and data, the what-if, the run list, and a clear 4xx for every bad request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

pytest.importorskip("fastapi", reason="finmt serve needs fastapi (pip install -e .)")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (pip install -e '.[dev]')")

from fastapi.testclient import TestClient

from finmt_core.cli import app as cli
from finmt_core.serve import ModelService, create_app

SEQ, GRAPH = "svc-seq", "svc-tgcn"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, tiny_panel: pd.DataFrame) -> tuple[Path, Path]:
    """(runs root, the tiny panel as parquet): a one-epoch trained lstm_transformer run and a
    tgcn run (seeded weights, run_factory) on the tiny synthetic market."""
    import run_factory

    from finmt_core.training import train_run

    root = tmp_path_factory.mktemp("serve-runs")
    cfg = run_factory.config(SEQ, "lstm_transformer")
    cfg.train.epochs = 1
    train_run(cfg, root, name=SEQ)
    run_factory.make_run(root, GRAPH, "tgcn")
    data = root.parent / "tiny.parquet"
    tiny_panel.to_parquet(data)
    return root, data


@pytest.fixture(scope="module")
def client(served) -> TestClient:
    """Both runs on their own data (the tiny market, regenerated from their configs)."""
    root, _ = served
    return TestClient(create_app(ModelService.load([root / SEQ, root / GRAPH])))


def _finmt_predict(root: Path, run: str, data: Path, tmp_path: Path, *extra: str) -> pd.DataFrame:
    out = tmp_path / f"{run}.parquet"
    res = CliRunner().invoke(cli, ["predict", run, "--data", str(data), "--runs-dir", str(root), "--out", str(out),
                                   *extra])
    assert res.exit_code == 0, res.output
    return pd.read_parquet(out)


@pytest.mark.parametrize("run", [SEQ, GRAPH])
def test_predict_returns_the_numbers_of_finmt_predict(client, served, tmp_path, run):
    root, data = served
    expected = _finmt_predict(root, run, data, tmp_path)
    res = client.post("/predict", json={"run": run})
    assert res.status_code == 200, res.text
    body = res.json()
    got = pd.DataFrame(body["predictions"])
    assert body["run"] == run and body["date"] == str(expected["date"].max().date())
    assert list(got["ticker"]) == list(expected["ticker"].astype(str)) and len(got) == 8
    outputs = [c for c in expected.columns if c.endswith("_pred") or "_prob_" in c or "_q" in c or c == "confidence"]
    assert outputs and set(outputs) <= set(got.columns)
    for c in outputs:
        np.testing.assert_array_equal(got[c].to_numpy(np.float64), expected[c].to_numpy(np.float64), err_msg=c)
    assert list(got["gate"]) == list(expected["gate"].astype(str))


def test_predict_some_tickers_on_a_date_with_data(client, served, tmp_path):
    root, data = served
    day = "2016-02-01"
    expected = _finmt_predict(root, SEQ, data, tmp_path, "--date", day, "--threshold", "0.6")
    expected = expected[expected["ticker"].astype(str).isin(["S001", "S004"])]
    res = client.post("/predict", json={"run": SEQ, "tickers": ["S004", "S001"], "date": day, "threshold": 0.6})
    assert res.status_code == 200, res.text
    got = pd.DataFrame(res.json()["predictions"]).set_index("ticker").loc[expected["ticker"].astype(str)]
    # a batch of 2 rows instead of finmt predict's 8: float32 kernels may round the last bit differently
    np.testing.assert_allclose(got["return_pred"].to_numpy(np.float64), expected["return_pred"].to_numpy(np.float64),
                               rtol=1e-5, atol=1e-8)
    assert list(got["gate"]) == list(expected["gate"].astype(str)) and res.json()["missing"] == []


def test_whatif_moves_the_shocked_stock(client):
    res = client.post("/whatif", json={"run": SEQ, "ticker": "S002", "shocks": {"return": -0.1, "volatility": 2.0}})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["ticker"] == "S002" and body["shocks"] == {"return": -0.1, "volatility": 2.0}
    out = body["outputs"]["return_pred"]
    assert out["difference"] == pytest.approx(out["after"] - out["before"])
    assert body["features"] and all(f["difference"] != 0 for f in body["features"].values())
    before = client.post("/predict", json={"run": SEQ, "tickers": ["S002"]}).json()["predictions"][0]
    assert out["before"] == pytest.approx(before["return_pred"], rel=1e-6)  # the unshocked row is /predict's


def test_runs_and_health(client):
    runs = {r["name"]: r for r in client.get("/runs").json()}
    assert set(runs) == {SEQ, GRAPH}
    assert runs[SEQ]["model"] == "lstm_transformer" and runs[SEQ]["tickers"] == 8 and runs[SEQ]["window"] == 10
    assert [t["name"] for t in runs[GRAPH]["tasks"]] == ["signal", "direction", "return", "quantiles"]
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["runs"] == 2
    assert "/predict" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize(("path", "body", "status", "says"), [
    ("/predict", {"run": "nope"}, 404, "'nope' is not served"),
    ("/predict", {}, 404, "several runs are served"),
    ("/predict", {"run": SEQ, "tickers": ["S001", "ZZZ"]}, 422, "unknown ticker(s) ZZZ"),
    ("/predict", {"run": SEQ, "date": "1999-01-04"}, 422, "dates not in the panel"),
    ("/predict", {"run": SEQ, "tickers": []}, 422, "at least 1 item"),
    ("/predict", {"run": SEQ, "threshold": 2}, 422, "less than or equal to 1"),
    ("/predict", {"run": SEQ, "colour": "red"}, 422, "Extra inputs are not permitted"),
    ("/whatif", {"run": SEQ, "ticker": "ZZZ", "shocks": {"return": 0.1}}, 422, "unknown ticker(s) ZZZ"),
    ("/whatif", {"run": SEQ, "ticker": "S001", "shocks": {"sentiment": 1.0}}, 422, "unknown what-if shock 'sentiment'"),
    ("/whatif", {"run": SEQ, "ticker": "S001", "shocks": {"volume": -2}}, 422, "must be >= 0"),
    ("/whatif", {"run": SEQ, "ticker": "S001", "shocks": {}}, 422, "at least 1 item"),
    ("/whatif", {"run": SEQ, "ticker": "S001", "shocks": {"return": "lots"}}, 422, "valid number"),
    ("/whatif", {"run": "nope", "ticker": "S001", "shocks": {"return": 0.1}}, 404, "'nope' is not served"),
])
def test_bad_requests_get_a_clear_4xx(client, path, body, status, says):
    res = client.post(path, json=body)
    assert res.status_code == status, res.text
    assert says in str(res.json()["detail"])
