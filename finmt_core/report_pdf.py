"""The HTML report printed to PDF by headless Chromium (``finmt report RUN --pdf``).

Chromium prints the report with its print stylesheet (templates/report.html: A4 pages, a new
page for every section with a chart or table, nothing split). The window is as wide as the
printable A4 width, so the plotly charts are drawn at the paper's width, and a virtual-time
budget lets them finish drawing before the page is printed. The PDF is written to a temporary
file next to the target and moved into place, so a failed print never leaves half a file.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from finmt_core.errors import ConfigError, RunError

log = logging.getLogger(__name__)

#: environment variable naming the Chromium/Chrome binary (else found on PATH).
CHROMIUM_ENV = "FINMT_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
#: CSS pixels of the printable A4 width (210 mm - 22 mm margins at 96 px per inch).
PRINT_WIDTH_PX = 710
#: milliseconds of virtual time Chromium gives the page (plotly draws) before printing.
VIRTUAL_TIME_MS = 20000
TIMEOUT_S = 180


def find_chromium() -> str:
    """Path of a Chromium binary: ``$FINMT_CHROMIUM`` or the first of :data:`CHROMIUM_NAMES` on PATH.

    Raises:
        ConfigError: none is installed (the message says how to install one or print by hand).
    """
    wanted = os.environ.get(CHROMIUM_ENV)
    if wanted:
        if Path(wanted).is_file() and os.access(wanted, os.X_OK):
            return wanted
        raise ConfigError(f"{CHROMIUM_ENV}={wanted} is not an executable file; point it at a Chromium or Chrome binary")
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError("headless Chromium was not found, so the PDF cannot be printed: install it "
                      "(Debian/Ubuntu: apt-get install chromium) or set FINMT_CHROMIUM=/path/to/chrome; "
                      "or open the HTML report in a browser and use Print -> Save as PDF")


def chromium_command(chromium: str, html: Path, pdf: Path, profile: Path) -> list[str]:
    """The headless print command (flags as in tests/e2e: no network services, no GPU, own profile)."""
    return [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
        f"--user-data-dir={profile}", f"--window-size={PRINT_WIDTH_PX},1000",
        "--run-all-compositor-stages-before-draw", f"--virtual-time-budget={VIRTUAL_TIME_MS}",
        "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.resolve().as_uri(),
    ]


def html_to_pdf(html: str | Path, pdf: str | Path, *, chromium: str | None = None, timeout_s: float = TIMEOUT_S) -> Path:
    """Print the HTML file ``html`` to ``pdf`` with headless Chromium; returns ``pdf``.

    Raises:
        ConfigError: no Chromium (see :func:`find_chromium`).
        RunError: the HTML file is missing, Chromium fails or times out, or writes no PDF.
    """
    html, pdf = Path(html), Path(pdf)
    if not html.is_file():
        raise RunError(f"cannot print {html}: the file does not exist; write the HTML report first")
    binary = chromium or find_chromium()
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="finmt-chromium-") as profile:
        tmp = pdf.with_name(f".{pdf.name}.tmp-{os.getpid()}")
        cmd = chromium_command(binary, html, tmp, Path(profile))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            tmp.unlink(missing_ok=True)
            raise RunError(f"Chromium did not finish printing {html} within {timeout_s:.0f} s; try again on a "
                           "quieter machine or print the HTML from a browser") from None
        ok = tmp.is_file() and tmp.stat().st_size > 0 and tmp.read_bytes()[:5] == b"%PDF-"
        if proc.returncode != 0 or not ok:
            tmp.unlink(missing_ok=True)
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RunError(f"Chromium ({binary}) could not print {html} to PDF (exit {proc.returncode}): "
                           f"{detail[0][:300]}")
        os.replace(tmp, pdf)
    log.info("printed %s to %s (%.1f MB)", html, pdf, pdf.stat().st_size / 1e6)
    return pdf
