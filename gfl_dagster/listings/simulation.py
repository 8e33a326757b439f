"""A stream of realistic changes to `listings`: the seed's populate script, made continuous."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Sequence

from sqlalchemy import Engine

from gfl_dagster.db import queries

# Shares of each operation in the stream.
MIX = (("update_price", 0.45), ("update_availability", 0.25), ("insert", 0.2), ("delete", 0.1))

@dataclass
class SimulationCounts:
    counts: dict[str, int] = field(default_factory=lambda: {name: 0 for name, _ in MIX})

    def summary(self) -> str:
        return ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in self.counts.items())


def choose_operation(rng: random.Random, mix: Sequence[tuple[str, float]] = MIX) -> str:
    """An operation's name, drawn with the shares of `mix`."""
    roll, total = rng.random(), 0.0
    for name, share in mix:
        total += share
        if roll < total:
            return name
    return mix[-1][0]


def apply_change(engine: Engine, rng: random.Random, counts: SimulationCounts) -> str:
    """One change, committed on its own: as an application would write it."""
    operation = choose_operation(rng)
    with engine.begin() as connection:
        listing_id = connection.execute(queries.SIMULATE_PICK).scalar()
        if listing_id is None:
            return "none"
        if operation == "update_price":
            connection.execute(queries.SIMULATE_UPDATE_PRICE, {"factor": rng.uniform(0.8, 1.25), "id": listing_id})
        elif operation == "update_availability":
            connection.execute(queries.SIMULATE_UPDATE_AVAILABILITY, {"days": rng.randint(0, 365), "id": listing_id})
        elif operation == "insert":
            connection.execute(queries.SIMULATE_INSERT, {"jitter": rng.uniform(-0.001, 0.001), "id": listing_id})
        else:
            connection.execute(queries.SIMULATE_DELETE, {"id": listing_id})
    counts.counts[operation] += 1
    return operation
