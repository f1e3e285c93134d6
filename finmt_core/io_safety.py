"""Text that leaves finmt for another program: CSV cells a spreadsheet could run, Markdown a page could render.

Ticker names come from users' files and are data, never markup or formulas:

* :func:`safe_csv_frame` -- every CSV finmt writes for a person goes through it. A text cell
  that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (``=HYPERLINK(...)``,
  ``+cmd|' /C calc'!A0``, ``-2+3``, ``@SUM(...)``) is prefixed with ``'`` so that Excel,
  LibreOffice and Google Sheets show it as text instead of evaluating it (OWASP "CSV
  injection"). Numeric columns are untouched; text column headers are treated the same way.
* :func:`escape_markdown` -- a name interpolated into Markdown (``st.markdown``, captions,
  titles) renders as the literal text: ``![x](url)`` is not an image, ``[a](b)`` not a link.
"""

from __future__ import annotations

import re

import pandas as pd

#: first characters that make a spreadsheet treat a cell as a formula
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
_FORMULA = re.compile(r"^[=+\-@\t\r]")
#: characters that open Markdown (or Streamlit's :icon: / :color[...] / $math$) anywhere in a line
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#!|~$:])")
#: what opens a list item or a heading at the start of a line: "- ", "+ ", "1. ", "1) "
_MD_LINE_START = re.compile(r"^(\s*)([-+=]|\d+\.)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def neutralise_cell(value: str) -> str:
    """``"=1+1"`` -> ``"'=1+1"``; other strings unchanged."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def safe_csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and text column names cannot run as spreadsheet formulas.

    Text (object / string / categorical) columns are vectorised: only the cells that start with
    a formula character get a leading ``'``. The index is kept (write with ``index=False``, or
    reset it first, so index labels go through here too).
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats = pd.Index([neutralise_cell(c) if isinstance(c, str) else c for c in s.cat.categories])
            if not cats.equals(s.cat.categories) and cats.is_unique:
                out[col] = s.cat.rename_categories(cats)
            elif not cats.is_unique:
                out[col] = _neutralise_text(s.astype(object))
        elif pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
            out[col] = _neutralise_text(s)
    out.columns = [neutralise_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


def _neutralise_text(s: pd.Series) -> pd.Series:
    risky = s.astype("string").str.match(_FORMULA).fillna(False).to_numpy(dtype=bool)
    if pd.api.types.is_object_dtype(s) and risky.any():  # numbers in a mixed column stay numbers
        risky[risky] = [isinstance(v, str) for v in s.to_numpy()[risky]]
    if not risky.any():
        return s
    s = s.copy()
    s[risky] = "'" + s[risky].astype(str)
    return s


def escape_markdown(text: object) -> str:
    """``text`` as Markdown that renders literally: the Markdown special characters are
    backslash-escaped (a leading ``-``, ``+``, ``=`` or ``1.`` too), control characters (line
    breaks included) become spaces. Plain names (``AAPL``, ``prices.2024.csv``) stay as they are."""
    flat = _MD_SPECIAL.sub(r"\\\1", _CONTROL.sub(" ", str(text)))
    start = _MD_LINE_START.match(flat)
    if start:  # "- x", "+ x", "1. x" would open a list, "=" underline a heading
        lead, token = start.groups()
        escaped = "\\" + token if not token[0].isdigit() else token[:-1] + "\\" + token[-1]
        flat = lead + escaped + flat[start.end():]
    return flat
