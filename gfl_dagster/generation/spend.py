"""Model spend: tokens per model, an estimated cost from configured prices, and the daily budget.

Every request to the model service is counted where it is made (resources/model_client.py); a step that calls
models runs inside `tracked_spend`, which gives its client what is left of the day's budget and writes what it
used to `model_usage` when it ends, failed or not. Prices are configuration (GFL_MODEL_PRICES): a model
without a price is counted in tokens, and its cost reported as unknown, never as zero.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Iterator, Optional

from gfl_dagster import settings

# USD per million tokens (input, output): OpenAI's list prices for its common models; GFL_MODEL_PRICES overrides.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00), "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40), "gpt-4.1": (2.00, 8.00),
    "text-embedding-3-small": (0.02, 0.0), "text-embedding-3-large": (0.13, 0.0),
}


def today() -> date:
    """The budget's day: the UTC date, the same on every worker whatever its time zone."""
    return datetime.now(timezone.utc).date()


class BudgetReached(RuntimeError):
    """Today's model budget is spent: generation waits for tomorrow (or a larger GFL_DAILY_BUDGET_USD)."""


def parse_prices(raw: Optional[str]) -> dict[str, tuple[float, float]]:
    """'gpt-4o-mini=0.15/0.60, my-embedder=0.02' (USD per million input/output tokens) -> {model: (in, out)}."""
    prices: dict[str, tuple[float, float]] = {}
    for entry in filter(None, (part.strip() for part in (raw or "").split(","))):
        model, _, rates = entry.partition("=")
        try:
            numbers = [float(rate) for rate in rates.split("/")]
            if not model.strip() or not 1 <= len(numbers) <= 2 or min(numbers) < 0:
                raise ValueError
        except ValueError:
            raise settings.SettingError(
                f"{settings.GFL_MODEL_PRICES}: {entry!r} is not model=input/output (USD per million tokens, "
                "e.g. gpt-4o-mini=0.15/0.60)") from None
        prices[model.strip()] = (numbers[0], numbers[1] if len(numbers) == 2 else 0.0)
    return prices


def model_prices() -> dict[str, tuple[float, float]]:
    return {**DEFAULT_PRICES, **parse_prices(settings.value(settings.GFL_MODEL_PRICES))}


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int,
             prices: dict[str, tuple[float, float]]) -> Optional[float]:
    """The estimated cost; None when no price is configured for `model`."""
    if model not in prices:
        return None
    per_input, per_output = prices[model]
    return (prompt_tokens * per_input + completion_tokens * per_output) / 1_000_000


@dataclass
class Tally:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class ModelUsage:
    """What one process asked the model service for; thread-safe. `allowance_usd`: what it may still spend
    today (None: no budget); chat requests beyond it raise BudgetReached."""

    prices: dict[str, tuple[float, float]] = field(default_factory=model_prices)
    allowance_usd: Optional[float] = None
    by_model: dict[str, Tally] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, model: str, prompt_tokens: int, completion_tokens: int) -> None:
        with self._lock:
            tally = self.by_model.setdefault(model, Tally())
            tally.requests += 1
            tally.prompt_tokens += prompt_tokens
            tally.completion_tokens += completion_tokens

    def cost_usd(self) -> Optional[float]:
        """The known part of the cost; None when nothing used has a price."""
        with self._lock:
            costs = [cost_usd(model, t.prompt_tokens, t.completion_tokens, self.prices)
                     for model, t in self.by_model.items()]
        known = [c for c in costs if c is not None]
        return sum(known) if known else None

    def check_budget(self) -> None:
        if self.allowance_usd is not None and (self.cost_usd() or 0.0) >= self.allowance_usd:
            raise BudgetReached(f"today's model budget ({settings.GFL_DAILY_BUDGET_USD}="
                                f"{settings.daily_budget_usd():g} USD) is spent: generation waits until tomorrow "
                                "or a larger budget; filterable fields keep syncing")

    def take(self) -> dict[str, Tally]:
        """What was used since the last take, emptied."""
        with self._lock:
            taken, self.by_model = self.by_model, {}
        return taken


@dataclass
class StepSpend:
    """What one step asked the model service for; complete once its `tracked_spend` block has ended."""

    prices: dict[str, tuple[float, float]]
    by_model: dict[str, Tally] = field(default_factory=dict)

    def rows(self, asset: str) -> list[dict]:
        return [{"day": today(), "model": model, "asset": asset, "requests": t.requests,
                 "prompt_tokens": t.prompt_tokens, "completion_tokens": t.completion_tokens,
                 "cost_usd": cost_usd(model, t.prompt_tokens, t.completion_tokens, self.prices)}
                for model, t in self.by_model.items()]

    def metadata(self) -> dict[str, object]:
        """For the materialization: requests, tokens and the estimated cost (or why it is unknown)."""
        tallies = self.by_model.values()
        costs = [cost_usd(model, t.prompt_tokens, t.completion_tokens, self.prices) for model, t in self.by_model.items()]
        unpriced = sorted(model for model, cost in zip(self.by_model, costs) if cost is None)
        return {"model_requests": sum(t.requests for t in tallies),
                "prompt_tokens": sum(t.prompt_tokens for t in tallies),
                "completion_tokens": sum(t.completion_tokens for t in tallies),
                "estimated_cost_usd": round(sum(c for c in costs if c is not None), 6),
                "models_without_price": ", ".join(unpriced) or "none"}


@contextmanager
def tracked_spend(engine, usage: ModelUsage, asset: str) -> Iterator[StepSpend]:
    """A step's model calls: held to what is left of today's budget, added to model_usage when the step ends
    (failed or not). Calls made before the block belong to no step and are not counted here."""
    from gfl_dagster.db import queries, tables

    usage.take()
    budget = settings.daily_budget_usd()
    if budget is not None:
        with engine.connect() as connection:
            spent = float(connection.execute(queries.SPENT_TODAY, {"day": today()}).scalar() or 0)
        usage.allowance_usd = max(0.0, budget - spent)
    spend = StepSpend(usage.prices)
    try:
        yield spend
    finally:
        spend.by_model = usage.take()
        usage.allowance_usd = None
        rows = spend.rows(asset)
        if rows:
            with engine.begin() as connection:
                connection.execute(tables.ADD_MODEL_USAGE, rows)
