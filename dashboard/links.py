"""Every view is a link: widgets whose value lives in the URL.

Each ``url_*`` function draws one Streamlit widget whose value is read from the URL's query
parameter ``?<key>=`` (through :func:`dashboard.state.get_param`, which also remembers it
across pages) and written back after the widget runs, so that copying the address bar and
opening it in a fresh browser shows the same view. The widget's session key is the parameter
name, so tests address the widget by the same name the URL uses.

* A value equal to the widget's default is left out of the URL (short links); a URL value that
  is not valid for the widget (out of range, not an option, not a number) is ignored and the
  default shown.
* Numbers are written with ``repr``-exact text (``0.55``, ``10``), booleans as ``1``/``0``,
  lists comma-joined (options never contain commas: run names, tasks and tags cannot).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import streamlit as st

from dashboard import state

T = TypeVar("T")
_TRUE = ("1", "true", "yes", "on")
_EMPTY = "-"


def _num_text(value: float | int) -> str:
    """``10.0`` -> ``10``, ``0.55`` -> ``0.55`` (the shortest text that reads back the same)."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def read(key: str, parse: Callable[[str], T], valid: Callable[[T], bool] = lambda _v: True) -> T | None:
    """The URL's (or the remembered) value of ``key`` parsed, or None when absent or invalid."""
    raw = state.get_param(key)
    if raw is None:
        return None
    try:
        value = parse(raw)
    except (TypeError, ValueError):
        return None
    return value if valid(value) else None


def write(key: str, value: Any, default: Any, dump: Callable[[Any], str] = str) -> None:
    """Put ``value`` in the URL as ``?key=``; the default is left out (and an old value removed)."""
    if value is None or value == default:
        state.set_param(key, None)
    else:
        state.set_param(key, dump(value))


def url_slider(container: Any, label: str, min_value: float, max_value: float, default: float, step: float,
               *, key: str, **kwargs: Any) -> float:
    """A number slider (int when ``default`` and ``step`` are ints) kept in ``?key=``."""
    integer = isinstance(default, int) and isinstance(step, int)
    parse: Callable[[str], float] = (lambda s: int(float(s))) if integer else float
    wanted = read(key, parse, lambda v: min_value <= v <= max_value)
    value = container.slider(label, min_value, max_value, default if wanted is None else wanted, step, key=key, **kwargs)
    write(key, value, default, _num_text)
    return value


def url_number(container: Any, label: str, *, key: str, default: float, min_value: float | None = None,
               max_value: float | None = None, **kwargs: Any) -> float:
    """A number input kept in ``?key=``."""
    def ok(v: float) -> bool:
        return (min_value is None or v >= min_value) and (max_value is None or v <= max_value)

    parse: Callable[[str], float] = (lambda s: int(float(s))) if isinstance(default, int) else float
    wanted = read(key, parse, ok)
    value = container.number_input(label, min_value=min_value, max_value=max_value,
                                   value=default if wanted is None else wanted, key=key, **kwargs)
    write(key, value, default, _num_text)
    return value


def url_toggle(container: Any, label: str, *, key: str, default: bool = False, **kwargs: Any) -> bool:
    """A toggle kept in ``?key=1`` / ``?key=0``."""
    wanted = read(key, lambda s: s.strip().lower() in _TRUE)
    value = bool(container.toggle(label, value=default if wanted is None else wanted, key=key, **kwargs))
    write(key, value, default, lambda b: "1" if b else "0")
    return value


def url_choice(container: Any, label: str, options: Sequence[Any], *, key: str, default: Any = None,
               widget: str = "selectbox", **kwargs: Any) -> Any:
    """One of ``options`` (a ``selectbox``, ``segmented_control``, ``radio`` or ``select_slider``)
    kept in ``?key=`` as the option's text. ``default`` (else the first option) when the URL names
    none of them."""
    options = list(options)
    if not options:
        return None
    by_text = {str(o): o for o in options}
    fallback = default if default in options else options[0]
    wanted = read(key, lambda s: by_text[s], lambda _v: True) if state.get_param(key) in by_text else None
    pick = fallback if wanted is None else wanted
    draw = getattr(container, widget)
    if widget == "selectbox" or widget == "radio":
        value = draw(label, options, index=options.index(pick), key=key, **kwargs)
    elif widget == "segmented_control":
        value = draw(label, options, default=pick, key=key, **kwargs)
        value = fallback if value is None else value  # a segmented control can be cleared
    else:
        value = draw(label, options=options, value=pick, key=key, **kwargs)
    write(key, value, fallback, str)
    return value


def url_multiselect(container: Any, label: str, options: Sequence[Any], *, key: str,
                    default: Sequence[Any] = (), **kwargs: Any) -> list[Any]:
    """Several of ``options`` kept in ``?key=a,b`` (unknown names in the URL are dropped)."""
    options = list(options)
    by_text = {str(o): o for o in options}
    raw = state.get_param(key)
    if raw is not None:
        wanted = [by_text[s] for s in raw.split(",") if s in by_text]
    else:
        wanted = [d for d in default if d in options]
    value = list(container.multiselect(label, options, default=wanted, key=key, **kwargs))
    # an emptied selection is written as "-" (an empty parameter would read back as the default)
    write(key, ",".join(map(str, value)) or _EMPTY, ",".join(map(str, default)) or _EMPTY, str)
    return value


def url_text(container: Any, label: str, *, key: str, default: str = "", **kwargs: Any) -> str:
    """A text input kept in ``?key=``."""
    wanted = state.get_param(key)
    value = str(container.text_input(label, value=default if wanted is None else wanted, key=key, **kwargs))
    write(key, value.strip(), default, str)
    return value.strip()


def bound_keys() -> dict[str, str]:
    """The query parameters now in the URL (for a "copy link" caption and tests)."""
    return {k: str(st.query_params.get(k)) for k in st.query_params}
