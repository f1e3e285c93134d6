"""Start-up: a ``finmt`` command imports only what it uses (issue 17).

Each test runs the real CLI in a fresh interpreter and then inspects ``sys.modules``; no
timing is asserted (the figure itself is ``finmt bench --only startup``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: runs the CLI in-process (standalone_mode=False: no sys.exit) and prints the loaded modules
SNIPPET = """
import json, sys
from finmt_core.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print("MODULES=" + json.dumps(sorted(m for m in sys.modules if "." not in m)))
"""


def _modules_after(args: list[str], cwd: Path) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", SNIPPET, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES=")))


@pytest.mark.parametrize("args", [["--help"], ["runs"], ["train", "--help"]])
def test_light_commands_import_no_ml_stack(args: list[str], tmp_path: Path) -> None:
    mods = _modules_after(args, tmp_path)
    assert "typer" in mods
    for heavy in ("torch", "torch_geometric", "scipy", "sklearn", "lightgbm", "streamlit", "optuna", "plotly"):
        assert heavy not in mods, f"`finmt {' '.join(args)}` imported {heavy}"


def test_lightgbm_training_pays_no_graph_library(tmp_path: Path) -> None:
    from finmt_core.data.samples import synthetic_market

    synthetic_market(n_stocks=6, n_days=260, n_sectors=2, seed=0).reset_index().to_parquet(tmp_path / "p.parquet")
    (tmp_path / "small.yaml").write_text(
        "model:\n  params: {n_estimators: 5, early_stopping_rounds: 2}\n", encoding="utf-8")
    mods = _modules_after(["train", "--preset", "lightgbm", "--data", str(tmp_path / "p.parquet"),
                           "--config", str(tmp_path / "small.yaml"), "--runs-dir", str(tmp_path / "runs"),
                           "--name", "gbm"], tmp_path)
    assert (tmp_path / "runs" / "gbm" / "status.json").is_file()
    assert json.loads((tmp_path / "runs" / "gbm" / "status.json").read_text())["state"] == "done"
    assert "lightgbm" in mods
    for heavy in ("torch_geometric", "streamlit", "optuna"):  # sklearn: lightgbm itself imports it
        assert heavy not in mods, f"`finmt train --preset lightgbm` imported {heavy}"


def test_registry_lists_builtins_without_importing_them(tmp_path: Path) -> None:
    code = ("import sys; from finmt_core.models import list_models, list_estimators, is_estimator;"
            "print(list_models(), list_estimators(), is_estimator('lightgbm'),"
            " 'finmt_core.models.tgcn' in sys.modules, 'lightgbm' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["['cnn_lstm',", "'dual_tower',", "'finnex_cnn',", "'finnex_vit',",
                                   "'lstm_transformer',", "'tgcn']", "['ensemble',", "'lightgbm',", "'naive_majority',",
                                   "'naive_momentum',", "'naive_zero']", "True", "False", "False"]


def test_builtin_tables_match_the_registrations() -> None:
    """Every built-in name is registered by the module the table names (and nothing is missing)."""
    import importlib

    from finmt_core.models import registry

    for table, reg in ((registry.BUILTIN_MODELS, registry._MODELS), (registry.BUILTIN_ESTIMATORS, registry._ESTIMATORS)):
        for name, module in table.items():
            importlib.import_module(module)
            assert reg[name].__module__ == module, name
        assert set(table) <= set(reg)
    for module in set(registry.BUILTIN_MODELS.values()) | set(registry.BUILTIN_ESTIMATORS.values()):
        registered = {n for n, c in {**registry._MODELS, **registry._ESTIMATORS}.items() if c.__module__ == module}
        assert registered <= set(registry.BUILTIN_MODELS) | set(registry.BUILTIN_ESTIMATORS)
    assert registry.get_model_class("tgcn").__name__ == "TGCN"


def test_reading_a_model_config_imports_no_graph_library() -> None:
    # the Train form reads the tgcn preset's TGCNConfig: torch_geometric (1-2 s) only when a layer is built
    code = ("import sys, dataclasses; from finmt_core.models.registry import get_model_class; "
            "cls = get_model_class('tgcn'); assert dataclasses.is_dataclass(cls.config_class); "
            "print('PYG', 'torch_geometric' in sys.modules); "
            "from finmt_core.models.tgcn import TGCNBackbone; TGCNBackbone(4, hidden=4); "
            "print('PYG', 'torch_geometric' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [x for x in proc.stdout.splitlines() if x.startswith("PYG")] == ["PYG False", "PYG True"]
