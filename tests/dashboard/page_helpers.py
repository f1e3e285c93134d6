"""Helpers of the dashboard page tests (imported as ``page_helpers``: tests/dashboard is put
on sys.path by its conftest)."""

from __future__ import annotations

#: every page file of the router, in navigation order (pages/<name>.py)
PAGES = ("home", "data", "train", "curves", "evaluation", "explain", "backtest", "signals", "whatif", "report")


def charts(at: object) -> int:
    """Number of plotly charts on the page."""
    return len(at.get("plotly_chart"))  # type: ignore[attr-defined]


def no_exception(at: object) -> None:
    """The page raised nothing (a Streamlit exception element would hold the traceback)."""
    assert not at.exception, [e.value for e in at.exception]  # type: ignore[attr-defined]


def texts(at: object) -> str:
    """Every markdown, caption, info, warning, error and title text of the page, joined."""
    parts: list[str] = []
    for kind in ("title", "markdown", "caption", "info", "warning", "error", "success", "subheader"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)
