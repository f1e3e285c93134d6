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


def num(value: Any, spec: str = ".3f", reason: str | None = None, dash: str = DASH) -> str:
    """A number with a format spec (``"+.4f"``, ``",.0f"``); missing -> ``dash`` (``—``)."""
    if missing(value):
        return dash + (f" ({reason})" if reason else "")
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


def table_text(frame: Any) -> Any:
    """A frame's cells as text for a person: numbers to 4 decimals, whole counts (>= 2) as
    integers with thousands separators, missing cells as a dash (never ``None``/``nan``)."""
    import numpy as np

    def cell(v: object) -> str:
        if isinstance(v, (int, float, np.number)) and not missing(v) and float(v).is_integer() and abs(v) >= 2:
            return f"{int(v):,}"
        return num(v, ".4f") if isinstance(v, (int, float, np.number)) or v is None else str(v)

    return frame.map(cell)


def significance_table(sig: Any) -> Any:
    """:func:`finmt_core.evaluation.tables.significance_frame` worded: the model's value and the
    edge to 4 decimals, each 95 % interval as ``low – high`` (a dash with "too few dates" where
    the bootstrap had too few dates)."""
    import pandas as pd

    few = "too few dates"
    return pd.DataFrame({
        "task": sig["task"], "metric": sig["metric"], "model": sig["model"].map(lambda v: num(v, ".4f")),
        "model 95% CI": [interval(lo, hi, reason=few) for lo, hi in zip(sig["model_ci_low"], sig["model_ci_high"])],
        "vs": sig["vs"], "edge": sig["edge"].map(lambda v: num(v, "+.4f", reason=few)),
        "edge 95% CI": [interval(lo, hi, reason=few) for lo, hi in zip(sig["edge_ci_low"], sig["edge_ci_high"])],
        "significant": sig["significant"].astype(bool),
    })


def metric_cells(values: Any, counts: Any) -> Any:
    """Metric values as text: 4 decimals, whole numbers with thousands separators on the rows
    where ``counts`` is true (row counts), a dash where a value is missing (e.g. the IC of a
    constant baseline). ``values``: a frame; ``counts``: a boolean mask of its rows."""
    text = values.map("{:.4f}".format)
    text[counts] = values[counts].map("{:,.0f}".format)
    return text.where(values.notna(), DASH)


def cell_or_dash(value: Any) -> str:
    """A config value as text; None / NaN (a key a run does not set) as a dash."""
    return DASH if value is None or (isinstance(value, float) and value != value) else str(value)


def labelled_metrics(columns: Mapping[str, Mapping[str, Any]], labels: Mapping[str, tuple[str, str]]) -> Any:
    """Several metric dicts side by side as text: one row per key of ``labels`` that any
    column has (in ``labels`` order, shown as its label), each value formatted with its spec;
    None / NaN -> a dash (an infinite profit factor stays ``inf``). ``labels``: key -> (label,
    ``str.format`` spec)."""
    import pandas as pd

    keys = [k for k in labels if any(k in col for col in columns.values())]
    return pd.DataFrame({name: [labels[k][1].format(col[k]) if pd.notna(col.get(k)) else DASH for k in keys]
                         for name, col in columns.items()}, index=[labels[k][0] for k in keys])
