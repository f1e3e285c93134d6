"""Figure 7 — dashboard page render time with a finished run (AppTest), and a what-if slider.

A ``tgcn`` run is trained (one epoch) and evaluated on the synthetic market, then every page
is opened through the real router (``dashboard/app.py``) the way the dashboard tests do:
``AppTest`` with ``FINMT_RUNS_DIR`` pointing at the run and ``?run=`` selecting it. One
untimed Home render first imports everything (a running server has done that). Per page:

* ``dashboard_<page>_first_s``: the first render of the page in this process — its
  ``st.cache_data`` / ``st.cache_resource`` entries are still cold (pages are visited in
  navigation order, so caches shared with an earlier page are warm);
* ``dashboard_<page>_s``: later renders in new sessions (caches warm: a person coming back).

Both have the 1.5 s target. The slider figure is one what-if interaction: move the return
shock slider and rerun (``at.slider(key="wi_return").set_value(v).run()``), target 0.3 s.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from benchmarks.fixtures import finished_run
from benchmarks.harness import Result

TARGET_PAGE_S = 1.5
TARGET_SLIDER_S = 0.3
REPO_ROOT = Path(__file__).resolve().parent.parent
APP = REPO_ROOT / "dashboard" / "app.py"
#: navigation order of dashboard/app.py (file stems under pages/)
PAGES = ("home", "data", "train", "curves", "evaluation", "explain", "backtest", "signals", "whatif", "report")
PRESET = "tgcn"


def _open(run_name: str) -> Any:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=600)
    at.query_params["run"] = run_name
    return at


def _render(run_name: str, page: str) -> tuple[float, Any]:
    """Seconds to render ``page`` in a new session (the Home render that opens a session is
    not timed: the page switch is what a person waits for)."""
    at = _open(run_name)
    if page == "home":
        t0 = time.perf_counter()
        at.run()
        return time.perf_counter() - t0, at
    at.run()
    at.switch_page(f"../pages/{page}.py")
    t0 = time.perf_counter()
    at.run()
    return time.perf_counter() - t0, at


def _check(at: Any, page: str) -> None:
    if at.exception:
        raise RuntimeError(f"page {page} raised: {[e.value for e in at.exception][:1]}")


def run(workdir: str, n_stocks: int, n_days: int, repeats: int, pages: list[str] | None) -> list[Result]:
    run_dir = finished_run(workdir, PRESET, n_stocks, n_days, evaluate=True)
    os.environ["FINMT_RUNS_DIR"] = str(run_dir.parent)
    os.environ["FINMT_DEMO"] = "0"
    selected = [p for p in PAGES if p in set(pages)] if pages else list(PAGES)
    _, at = _render(run_dir.name, "home")  # imports streamlit, plotly and finmt (untimed)
    _check(at, "home")

    results: list[Result] = []
    note = (f"{PRESET} run (1 epoch, evaluated) on {n_stocks} stocks x {n_days} days; AppTest through "
            f"dashboard/app.py; pages in order {', '.join(selected)}: a *_first_s figure includes what that page "
            "is the first to import or cache in this process (e.g. torch_geometric with the first model page)")
    for page in selected:
        first, at = _render(run_dir.name, page)
        _check(at, page)
        warm = [_render(run_dir.name, page)[0] for _ in range(repeats)]
        results += [
            Result(f"dashboard_{page}_first_s", "s", [first], TARGET_PAGE_S, "lower", note=note if page == selected[0] else ""),
            Result(f"dashboard_{page}_s", "s", warm, TARGET_PAGE_S, "lower"),
        ]
    if "whatif" in selected:
        results.append(_slider(run_dir.name, repeats))
    return results


def _slider(run_name: str, repeats: int) -> Result:
    """What-if return-shock slider: each timed call is one ``set_value(v).run()``."""
    _, at = _render(run_name, "whatif")
    _check(at, "whatif")
    values = [-5.0, 2.5, 7.5, -10.0, 0.5, 12.0]
    times = []
    for i in range(max(3, 2 * repeats)):
        t0 = time.perf_counter()
        at.slider(key="wi_return").set_value(values[i % len(values)]).run()
        times.append(time.perf_counter() - t0)
        _check(at, "whatif (slider)")
    return Result("dashboard_whatif_slider_s", "s", times, TARGET_SLIDER_S, "lower",
                  note="what-if page: move the return-shock slider, rerun (AppTest)")
