"""The ``finmt`` command. Each command group lives in ``finmt_core/commands/<group>.py`` and
exposes ``register(app)``; heavy imports (torch, streamlit) happen inside the commands so
``finmt --help`` stays fast."""

from __future__ import annotations

import importlib
import logging

import typer

app = typer.Typer(
    name="finmt",
    help="finmt: multi-task learning on market data (data, train, evaluate, backtest, dashboard).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: command modules, registered in this order (a missing module is skipped with a debug log).
COMMAND_MODULES = ("data", "train", "evaluate", "backtest", "predict", "report", "dashboard", "bench", "tune", "learning",
                   "serve", "compare", "export", "ensemble")

for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"finmt_core.commands.{_name}")
    except ModuleNotFoundError as _exc:  # a command group not installed in this checkout
        if _exc.name != f"finmt_core.commands.{_name}":
            raise
        logging.getLogger(__name__).debug("command group %s not available", _name)
        continue
    _mod.register(app)


def main() -> None:
    from finmt_core.runtime import tune_allocator

    tune_allocator()  # large tensors reuse freed heap instead of faulting in fresh pages
    app()


if __name__ == "__main__":
    main()
