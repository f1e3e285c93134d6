"""Request and response bodies of the prediction service (pydantic; they make the OpenAPI page).

Requests are validated before any model runs: a malformed body is a 422 naming the field.
What only a loaded run can judge (does the ticker exist, is the shock one of its features) is
checked by :mod:`finmt_core.serve.service` and answered 404 / 422 with a sentence.
"""

from __future__ import annotations

import math
from datetime import date as Date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: at most this many tickers per /predict request (a whole universe is one batch)
MAX_TICKERS = 5000


class PredictRequest(BaseModel):
    """``POST /predict``: the model's calls for ``tickers`` on ``date`` (default: the latest)."""

    model_config = ConfigDict(extra="forbid")

    run: str | None = Field(None, description="Run name (see GET /runs); may be left out when one run is served.",
                            examples=["demo-tgcn"])
    tickers: list[str] | None = Field(None, min_length=1, max_length=MAX_TICKERS,
                                      description="Tickers to predict; left out = every ticker with a full window.",
                                      examples=[["AAPL", "MSFT"]])
    date: Date | None = Field(None, description="Prediction date (YYYY-MM-DD); left out = the latest date of the data.")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="Signal-gating threshold (runs with a gating head).")

    @field_validator("tickers")
    @classmethod
    def _distinct(cls, tickers: list[str] | None) -> list[str] | None:
        if tickers is None:
            return None
        cleaned = list(dict.fromkeys(t.strip() for t in tickers))
        if any(not t for t in cleaned):
            raise ValueError("tickers must be non-empty strings")
        return cleaned


class Prediction(BaseModel):
    """One (date, ticker) row: every output column of the run (``<task>_pred``,
    ``<task>_prob_<Class>``, ``<task>_q<NN>``, and ``gate`` / ``confidence`` where the run gates
    its signals); probabilities in [0, 1], returns as log returns over the task's horizon."""

    model_config = ConfigDict(extra="allow")

    date: Date
    ticker: str


class PredictResponse(BaseModel):
    run: str
    model: str
    date: Date = Field(description="The date predicted from (features up to its close).")
    predictions: list[Prediction]
    missing: list[str] = Field([], description="Requested tickers without a full input window on that date.")


class WhatIfRequest(BaseModel):
    """``POST /whatif``: one stock's predictions before and after ``shocks``."""

    model_config = ConfigDict(extra="forbid")

    run: str | None = Field(None, description="Run name; may be left out when one run is served.")
    ticker: str = Field(..., min_length=1, examples=["AAPL"])
    date: Date | None = Field(None, description="Date to shock (default: the ticker's latest full window).")
    shocks: dict[str, float] = Field(
        ..., min_length=1,
        description="'return': log return added to the close on the date; 'volatility': factor on the daily "
        "return deviations over the window; 'volume': factor on the volume over the window; any stock-level "
        "feature name of the run: its new raw value on the date.",
        examples=[{"return": -0.05, "volatility": 1.5}],
    )

    @field_validator("shocks")
    @classmethod
    def _finite(cls, shocks: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in shocks.items() if not math.isfinite(v)]
        if bad:
            raise ValueError(f"shock values must be finite numbers (not for {', '.join(bad)})")
        for k in ("volatility", "volume"):
            if k in shocks and shocks[k] < 0:
                raise ValueError(f"the {k} shock is a factor and must be >= 0 (1 = unchanged), got {shocks[k]}")
        return shocks


class OutputChange(BaseModel):
    before: float | None
    after: float | None
    difference: float | None


class WhatIfResponse(BaseModel):
    run: str
    ticker: str
    date: Date
    shocks: dict[str, float]
    outputs: dict[str, OutputChange] = Field(description="Every output (as in /predict) before and after.")
    features: dict[str, OutputChange] = Field(description="The stock's raw features on the date that the shocks moved.")
    elapsed_ms: float
    notes: list[str] = []


class TaskInfo(BaseModel):
    name: str
    kind: str
    horizon: int
    classes: list[str] = []


class RunInfo(BaseModel):
    name: str
    model: str
    tasks: list[TaskInfo]
    window: int = Field(description="Input window in trading days.")
    tickers: int = Field(description="Tickers in the data the run serves.")
    first_date: Date
    last_date: Date = Field(description="Latest date of the data: what /predict predicts from by default.")
    data: str = Field(description="Where the served data came from.")


class Health(BaseModel):
    status: str
    runs: int
    uptime_s: float


class ErrorBody(BaseModel):
    detail: Any = Field(description="What was wrong and how to fix it (a list of field errors for a malformed body).")
