"""Values formatted for a person: percentages, numbers, dates, data sources, settings.

Missing values show as an em dash (``—``), with the reason where there is one, never as
``None``, ``nan`` or ``nan – nan``; settings dicts become ``cost 10 bps · threshold 0.60``
instead of Python's ``{'cost_bps': 10.0, ...}``; a data file is shown by its name, never its
server path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DASH = "—"
BUILTIN_SOURCES = {"demo": "bundled demo data", "synthetic": "synthetic market"}


def missing(value: Any) -> bool:
    """None, NaN or ±inf."""
    if value is None:
        return True
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def pct(value: Any, digits: int = 1, reason: str | None = None) -> str:
    """``0.532`` -> ``53.2 %``; missing -> ``—`` (``— (reason)``)."""
    if missing(value):
        return DASH + (f" ({reason})" if reason else "")
    return f"{float(value) * 100:.{digits}f} %"


def num(value: Any, spec: str = ".3f", reason: str | None = None) -> str:
    """A number with a format spec (``"+.4f"``, ``",.0f"``); missing -> ``—``."""
    if missing(value):
        return DASH + (f" ({reason})" if reason else "")
    return format(float(value), spec)


def interval(low: Any, high: Any, spec: str = ".4f", reason: str = "not computed") -> str:
    """``0.1200 – 0.3400``; either end missing -> ``— (reason)``."""
    if missing(low) or missing(high):
        return f"{DASH} ({reason})"
    return f"{format(float(low), spec)} – {format(float(high), spec)}"


def source_name(source: Any) -> str:
    """A data source as a person reads it: "bundled demo data", or a file's name (never a path)."""
    text = str(source or "")
    if text in BUILTIN_SOURCES:
        return BUILTIN_SOURCES[text]
    if not text:
        return DASH
    name = Path(text).name
    return name[:-8] if name.endswith(".parquet") and "/.uploads/" in text.replace("\\", "/") else name


#: settings keys -> (label, how to show the value)
_SETTINGS: dict[str, tuple[str, str]] = {
    "strategy": ("strategy", "{}"), "cost_bps": ("cost", "{:g} bps"), "slippage_bps": ("slippage", "{:g} bps"),
    "threshold": ("gate threshold", "{:.2f}"), "k": ("k", "{:d}"), "max_gross": ("max gross", "{:.1f}×"),
    "max_net": ("max net", "{:.1f}×"), "return": ("last return", "{:+.1%}"), "volatility": ("volatility", "{:.1f}×"),
    "volume": ("volume", "{:.1f}×"),
}


def settings_text(settings: Mapping[str, Any]) -> str:
    """``{"cost_bps": 10.0, "threshold": 0.6}`` -> ``cost 10 bps · gate threshold 0.60``."""
    parts = []
    for key, value in settings.items():
        label, spec = _SETTINGS.get(key, (str(key).replace("_", " "), "{}"))
        try:
            shown = spec.format(int(value) if spec == "{:d}" else value)
        except (TypeError, ValueError):
            shown = str(value)
        if key == "strategy":
            shown = str(value).replace("_", " ")
        parts.append(f"{label} {shown}")
    return " · ".join(parts) if parts else DASH


def shocks_text(shocks: Mapping[str, float]) -> str:
    """What-if shocks in words; feature edits as ``feature = value``."""
    parts = []
    for key, value in shocks.items():
        if key in ("return", "volatility", "volume"):
            parts.append(settings_text({key: value}))
        else:
            parts.append(f"{key} = {value:g}")
    return " · ".join(parts) if parts else "none"
