"""Charts and their data, ready for slides: every chart downloads as SVG or high-resolution PNG,
and the table or series it is drawn from downloads as CSV.

* :func:`show` draws a plotly figure with the modebar's camera button set to the viewer's chosen
  image format (sidebar: SVG, the vector default for slides and papers, or PNG at
  :data:`PNG_SCALE`× the on-screen size), the modebar kept clear of the chart's title, and the
  app's light or dark theme applied (Streamlit restyles the figure; the theme is switched in
  the app's menu).
* :func:`csv_download` offers a frame as a CSV file (dates as ``YYYY-MM-DD``).
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

#: image formats offered in the sidebar -> plotly's toImageButtonOptions
IMAGE_FORMATS = {"SVG (vector)": "svg", "PNG (3× resolution)": "png"}
PNG_SCALE = 3
#: width of the vertical modebar (px) kept free at the right edge of every chart
MODEBAR_PX = 36
_FORMAT_KEY = "chart_image_format"


def image_format_picker() -> None:
    """The sidebar choice of the chart download format (a viewer preference, kept in the session)."""
    st.sidebar.selectbox("Chart downloads", list(IMAGE_FORMATS), key=_FORMAT_KEY,
                         help="The camera button on each chart saves it in this format: SVG for slides and papers "
                              "(sharp at any size), or PNG at three times the on-screen resolution.")


def image_format() -> str:
    """``"svg"`` or ``"png"``: the format the camera button saves."""
    return IMAGE_FORMATS.get(str(st.session_state.get(_FORMAT_KEY, "")), "svg")


def safe_file_name(text: str) -> str:
    """``"AAA: calls x confidence"`` -> ``"AAA-calls-x-confidence"`` (letters, digits, ``._-``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.")[:80] or "chart"


def chart_config(file_name: str) -> dict[str, Any]:
    """plotly ``config``: the camera button saves ``file_name`` as SVG or a 3× PNG; the toolbar
    shows on hover."""
    fmt = image_format()
    return {
        "displaylogo": False,
        # the toolbar appears while the pointer is over the chart: a still chart (a screenshot,
        # a presentation) shows its title, legend and colour bar uncovered
        "displayModeBar": "hover",
        "toImageButtonOptions": {"format": fmt, "filename": safe_file_name(file_name),
                                 "scale": PNG_SCALE if fmt == "png" else 1},
    }


def show(fig: go.Figure, key: str, *, file_name: str | None = None, container: Any = None) -> None:
    """Draw ``fig`` (``key`` is its element key and, without ``file_name``, its download name)."""
    title = fig.layout.title.text if fig.layout.title and fig.layout.title.text else key
    # the modebar stands vertically in a widened right margin: it never covers the title (top
    # left), the legend (top right of the plot area) or a colour bar
    right = fig.layout.margin.r if fig.layout.margin.r is not None else 20
    fig.update_layout(modebar={"orientation": "v"}, margin={"r": right + MODEBAR_PX})
    (container or st).plotly_chart(fig, key=key, config=chart_config(file_name or str(title)))


def csv_download(frame: pd.DataFrame | pd.Series, file_name: str, *, key: str, label: str = "CSV",
                 container: Any = None, index: bool = False, help: str | None = None) -> None:
    """A download button with ``frame`` as CSV (``file_name`` gets ``.csv`` appended)."""
    data = frame.to_frame() if isinstance(frame, pd.Series) else frame
    csv = data.to_csv(index=index, date_format="%Y-%m-%d").encode("utf-8")
    (container or st).download_button(label, csv, file_name=f"{safe_file_name(file_name)}.csv", mime="text/csv",
                                      key=key, icon=":material/download:", help=help or "The data behind this view, as CSV.")
