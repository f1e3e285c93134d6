"""``finmt serve``: trained runs behind an HTTP API (FastAPI + uvicorn).

:class:`~finmt_core.serve.service.ModelService` loads the runs once;
:func:`~finmt_core.serve.app.create_app` puts the API over it. FastAPI is imported only here,
so the rest of finmt_core does not need it.
"""

from __future__ import annotations

from finmt_core.serve.app import create_app
from finmt_core.serve.service import ModelService, ServedRun, UnknownRun, UnknownTicker

__all__ = ["ModelService", "ServedRun", "UnknownRun", "UnknownTicker", "create_app"]
