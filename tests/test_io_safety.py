"""CSV cells that cannot run as spreadsheet formulas; names that render as plain Markdown text."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from finmt_core.io_safety import escape_markdown, safe_csv_frame

HOSTILE = ['=HYPERLINK("http://e","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)", "\tTAB", "\rCR"]


def test_safe_csv_frame_neutralises_formula_cells_only() -> None:
    df = pd.DataFrame({
        "ticker": [*HOSTILE, "AAPL", None],
        "ret": np.linspace(-1, 1, 8),  # negative numbers stay numbers
        "mixed": [-1, "-x", "ok", 2.5, "=1", None, "a", "b"],
    })
    df["cat"] = pd.Categorical(["=c", "b", "b", "b", "b", "b", "b", "b"])
    df["=col"] = 1
    out = safe_csv_frame(df)
    assert out["ticker"].tolist()[:6] == ["'" + h for h in HOSTILE]
    assert out["ticker"].iloc[6] == "AAPL" and pd.isna(out["ticker"].iloc[7])
    assert out["ret"].tolist() == df["ret"].tolist()
    assert out["mixed"].tolist()[:5] == [-1, "'-x", "ok", 2.5, "'=1"]
    assert out["cat"].tolist()[:2] == ["'=c", "b"]
    assert list(out.columns)[-1] == "'=col"
    assert df["ticker"].iloc[0] == HOSTILE[0]  # the input is not modified
    back = pd.read_csv(io.StringIO(out.to_csv(index=False)))
    assert all(str(v).startswith("'") for v in back["ticker"].iloc[:4])


def test_escape_markdown_renders_names_literally() -> None:
    assert escape_markdown("![x](http://e/x.png)") == r"\!\[x\]\(http\://e/x.png\)"
    assert escape_markdown("[link](u)") == r"\[link\]\(u\)"
    assert escape_markdown("**bold**\n# title") == r"\*\*bold\*\* \# title"
    assert escape_markdown(":red[x] $x$ <b>") == r"\:red\[x\] \$x\$ \<b\>"
    assert escape_markdown("- item") == r"\- item" and escape_markdown("1. one") == r"1\. one"
    assert escape_markdown("AAPL") == "AAPL" and escape_markdown("prices.2024.csv") == "prices.2024.csv"
    assert escape_markdown(5) == "5"


def test_evaluate_csv_export_goes_through_safe_csv_frame(tmp_path: Path) -> None:
    from finmt_core.commands._output import write_frame

    out = tmp_path / "preds.csv"
    write_frame(pd.DataFrame({"ticker": HOSTILE[:4], "pred": [0.1, -0.2, 0.3, 0.4]}), out)
    lines = out.read_text().splitlines()
    assert lines[1].startswith("\"'=HYPERLINK") and lines[2].startswith("'+cmd") and lines[3] == "'-2+3,0.3"


@pytest.mark.parametrize("name", ["m.csv", "m.csv.gz"])
def test_synth_csv_writer_goes_through_safe_csv_frame(tmp_path: Path, name: str) -> None:
    from finmt_core.commands.data import _write_table

    _write_table(pd.DataFrame({"ticker": ["@SUM(1)", "OK"], "close": [1.0, 2.0]}), tmp_path / name)
    back = pd.read_csv(tmp_path / name)
    assert back["ticker"].tolist() == ["'@SUM(1)", "OK"]
