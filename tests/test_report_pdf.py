"""``finmt report RUN --pdf``: the print stylesheet and the PDF printed by headless Chromium,
checked by reading the PDF back (pypdfium2): A4 pages, the sections' text, page breaks
before the sections with charts, and each page rendered to an image."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent / "evaluation"))

import compare_world  # tests/evaluation/compare_world.py
import run_factory  # tests/run_factory.py

from finmt_core.cli import app
from finmt_core.errors import ConfigError
from finmt_core.report_pdf import CHROMIUM_ENV, chromium_command, find_chromium

#: A4 in PDF points (1/72 inch)
A4_PT = (595.0, 842.0)
#: where the rendered pages go (look at them: the stylesheet's job is how they look)
RENDERED = Path(os.environ.get("TMPDIR", "/tmp")) / "finmt-report-pdf"


def test_no_chromium_is_a_clear_error_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CHROMIUM_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to find
    with pytest.raises(ConfigError, match="headless Chromium was not found"):
        find_chromium()
    res = CliRunner().invoke(app, ["report", "no-such-run", "--pdf", "--run-dir", str(tmp_path)])
    assert res.exit_code == 2 and "headless Chromium was not found" in res.output  # not "no such run": checked first
    monkeypatch.setenv(CHROMIUM_ENV, str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="not an executable file"):
        find_chromium()


def test_command_prints_a_file_uri_with_a_private_profile(tmp_path: Path) -> None:
    cmd = chromium_command("/usr/bin/chromium", tmp_path / "r.html", tmp_path / "r.pdf", tmp_path / "p")
    assert cmd[0] == "/usr/bin/chromium" and "--headless" in cmd and "--no-pdf-header-footer" in cmd
    assert f"--print-to-pdf={tmp_path / 'r.pdf'}" in cmd and f"--user-data-dir={tmp_path / 'p'}" in cmd
    assert cmd[-1] == (tmp_path / "r.html").as_uri()


def test_template_has_a_print_stylesheet() -> None:
    from finmt_core.report import TEMPLATE

    html = TEMPLATE.read_text(encoding="utf-8")
    assert "@media print" in html and "@page" in html and "break-before: page" in html and "break-inside: avoid" in html


@pytest.mark.slow
def test_report_pdf_pages(tmp_path: Path) -> None:
    pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 reads the PDF back (pip install -e '.[dev]')")
    if not (shutil.which("chromium") or shutil.which("chromium-browser") or os.environ.get(CHROMIUM_ENV)):
        pytest.skip("headless Chromium not found (apt-get install chromium)")
    run = run_factory.make_run(tmp_path, "rf-pdf", tasks=[{"target": "direction"}, {"target": "return"}])
    (run.path / "evaluation.json").write_text(json.dumps(compare_world.evaluation("rf-pdf", 0.53, 0.02)))
    out = tmp_path / "report.html"
    res = CliRunner().invoke(app, ["report", str(run.path), "--out", str(out), "--pdf", "--no-explain"])
    assert res.exit_code == 0, res.output
    pdf = out.with_suffix(".pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-" and not list(tmp_path.glob(".*.tmp-*"))  # no temp file left
    doc = pdfium.PdfDocument(str(pdf))
    assert len(doc) > 1
    texts = []
    RENDERED.mkdir(parents=True, exist_ok=True)
    for i in range(len(doc)):
        page = doc[i]
        assert page.get_size() == pytest.approx(A4_PT, abs=1.0)
        texts.append(page.get_textpage().get_text_range())
        image = page.render(scale=1.0).to_pil()
        image.save(RENDERED / f"page-{i + 1:02d}.png")
        # something is drawn on every page (no blank page from a stray break)
        assert image.convert("L").getextrema()[0] < 200
    assert "rf-pdf" in texts[0] and "What was trained on what data" in texts[0]  # header and first section together
    assert any(t.lstrip().startswith("Results: model vs baselines") for t in texts)  # a section starts a page
    assert any(t.lstrip().startswith("Backtest with costs") for t in texts)
    assert "naive_majority" in "".join(texts) and "0.53" in "".join(texts)
