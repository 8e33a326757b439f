"""A stream of realistic changes to `listings`: the seed's populate script, made continuous."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

# Shares of each operation in the stream.
MIX = (("update_price", 0.45), ("update_availability", 0.25), ("insert", 0.2), ("delete", 0.1))

_PICK = text("SELECT id FROM listings ORDER BY random() LIMIT 1")
_UPDATE_PRICE = text(
    "UPDATE listings SET price = greatest(10, round(coalesce(price, 100) * :factor)) WHERE id = :id")
_UPDATE_AVAILABILITY = text("UPDATE listings SET availability_365 = :days WHERE id = :id")
_INSERT = text(
    "INSERT INTO listings (id, name, host_id, host_name, neighbourhood_group, neighbourhood, latitude, longitude, "
    "room_type, price, minimum_nights, number_of_reviews, availability_365) "
    "SELECT (SELECT max(id) FROM listings) + 1, 'New: ' || coalesce(name, 'listing'), host_id, host_name, "
    "neighbourhood_group, neighbourhood, latitude + :jitter, longitude - :jitter, room_type, price, minimum_nights, "
    "0, 365 FROM listings WHERE id = :id")
_DELETE = text("DELETE FROM listings WHERE id = :id")


@dataclass
class SimulationCounts:
    counts: dict[str, int] = field(default_factory=lambda: {name: 0 for name, _ in MIX})

    def summary(self) -> str:
        return ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in self.counts.items())


def choose_operation(rng: random.Random) -> str:
    roll, total = rng.random(), 0.0
    for name, share in MIX:
        total += share
        if roll < total:
            return name
    return MIX[-1][0]


def apply_change(engine: Engine, rng: random.Random, counts: SimulationCounts) -> str:
    """One change, committed on its own: as an application would write it."""
    operation = choose_operation(rng)
    with engine.begin() as connection:
        listing_id = connection.execute(_PICK).scalar()
        if listing_id is None:
            return "none"
        if operation == "update_price":
            connection.execute(_UPDATE_PRICE, {"factor": rng.uniform(0.8, 1.25), "id": listing_id})
        elif operation == "update_availability":
            connection.execute(_UPDATE_AVAILABILITY, {"days": rng.randint(0, 365), "id": listing_id})
        elif operation == "insert":
            connection.execute(_INSERT, {"jitter": rng.uniform(-0.001, 0.001), "id": listing_id})
        else:
            connection.execute(_DELETE, {"id": listing_id})
    counts.counts[operation] += 1
    return operation
