"""The HTTP API of ``finmt serve`` (FastAPI): routes, and finmt errors as clear 4xx answers.

=============  ====================================================================
GET  /health   liveness: ``{"status": "ok", "runs": n, "uptime_s": s}``
GET  /runs     the served runs: model, tasks, window, tickers, dates of the data
POST /predict  the latest (or a given date's) calls for tickers, batched in one pass
POST /whatif   one stock's predictions before and after shocks
GET  /docs     the OpenAPI page (``/openapi.json`` the schema)
=============  ====================================================================

Errors: a malformed body -> 422 with FastAPI's field list; an unknown run -> 404; an unknown
ticker, a bad shock, a date without data -> 422; any other finmt error -> 400. The body is
always ``{"detail": ...}`` and never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from finmt_core.errors import DataError, FinmtError
from finmt_core.serve.schemas import (
    ErrorBody,
    Health,
    PredictRequest,
    PredictResponse,
    RunInfo,
    WhatIfRequest,
    WhatIfResponse,
)
from finmt_core.serve.service import ModelService, UnknownRun

log = logging.getLogger(__name__)

ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "Unknown run"},
          422: {"model": ErrorBody, "description": "Invalid request (field errors, unknown ticker, bad shock, no data)"}}


def status_of(exc: FinmtError) -> int:
    """HTTP status of a finmt error: 404 unknown run, 422 bad data in the request, 400 else."""
    if isinstance(exc, UnknownRun):
        return 404
    return 422 if isinstance(exc, DataError) else 400


def create_app(service: ModelService) -> FastAPI:
    """The API over an already loaded :class:`ModelService` (models load before serving).

    Route handlers are plain functions: FastAPI runs them in its thread pool, and the
    predictor's lock keeps a what-if's temporary input swap away from concurrent predictions."""
    app = FastAPI(
        title="finmt prediction service",
        description="Predictions of trained finmt runs: the same numbers as `finmt predict`. "
        "Served runs are listed by GET /runs.",
        version="1",
    )
    app.state.service = service

    @app.exception_handler(FinmtError)
    def _finmt_error(_request: Request, exc: FinmtError) -> JSONResponse:
        return JSONResponse(status_code=status_of(exc), content={"detail": str(exc)})

    @app.get("/health", response_model=Health, summary="Liveness")
    def health() -> dict:
        return {"status": "ok", "runs": len(service.runs), "uptime_s": round(service.uptime_s(), 3)}

    @app.get("/runs", response_model=list[RunInfo], summary="The served runs")
    def runs() -> list[dict]:
        return service.describe()

    @app.post("/predict", response_model=PredictResponse, responses=ERRORS, summary="Calls for tickers")
    def predict(req: PredictRequest) -> dict:
        return service.predict(req.run, req.tickers, req.date, req.threshold)

    @app.post("/whatif", response_model=WhatIfResponse, responses=ERRORS, summary="Shock one stock's inputs")
    def whatif(req: WhatIfRequest) -> dict:
        return service.what_if(req.run, req.ticker, req.shocks, req.date)

    return app
