"""A simulated market with a hidden truth: who clicks which ad, by audience and angle.

The truth is a click model, a click probability per audience and angle (market_truth.toml, or any
file in its format: one table per audience slug, `angle = probability`). It lives here and only
here: the learner (gfl_dagster/ads) never imports this module, and a test reads their imports to
show it. Each listing also has a hidden appeal (a multiplier around 1, seeded), so that one
listing's ads draw more clicks than another's whatever they say, as real listings do.

A market hands out impressions: an audience, a listing that audience may be shown, and a uniform
number that decides the click, so that every policy judged on one seed meets the same people with
the same whims (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Hashable, Iterator, Mapping, Sequence

import numpy as np

from gfl_dagster.toml_reader import read_toml

DEFAULT_TRUTH = Path(__file__).with_name("market_truth.toml")


@dataclass(frozen=True)
class ClickModel:
    """{audience: {angle: click probability}}: the market's truth."""

    probabilities: Mapping[str, Mapping[str, float]]

    def probability(self, audience: str, angle: str) -> float:
        table = self.probabilities[audience]
        return table.get(angle, min(table.values()))

    def best_angle(self, audience: str, angles: Sequence[str]) -> str:
        """The angle of `angles` people of this audience click most (ties: the first listed)."""
        return max(angles, key=lambda angle: self.probability(audience, angle))


def load_click_model(path: Path | str | None, audiences: Sequence[str], angles: Sequence[str]) -> ClickModel:
    """The truth in `path` (default: market_truth.toml). Every audience slug and angle must be one the project
    knows; a table may leave angles out (they are clicked as rarely as its least-clicked angle)."""
    path = Path(path) if path is not None else DEFAULT_TRUTH
    document = read_toml(path, "preferences")
    if not document:
        raise ValueError(f"{path}: no audiences: expected one table per audience slug, `angle = probability`")
    probabilities: dict[str, dict[str, float]] = {}
    for audience, table in document.items():
        if audience not in audiences:
            raise ValueError(f"{path}: unknown audience {audience!r} (known: {', '.join(audiences)})")
        if not isinstance(table, dict) or not table:
            raise ValueError(f"{path}: [{audience}] must be a table of `angle = probability`, got {table!r}")
        for angle, value in table.items():
            if angle not in angles:
                raise ValueError(f"{path}: [{audience}] unknown angle {angle!r} (known: {', '.join(angles)})")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{path}: [{audience}] {angle} must be a probability between 0 and 1, "
                                 f"got {value!r}")
        probabilities[audience] = {angle: float(value) for angle, value in table.items()}
    return ClickModel(probabilities)


def random_click_model(audiences: Sequence[str], angles: Sequence[str], rng: np.random.Generator,
                       margin: float = 0.2) -> ClickModel:
    """A truth nobody wrote: per audience, click probabilities between 1% and 8%, the best angle ahead of
    the second by at least `margin` (relative), so that "the best angle" is a fact to find, not a coin toss."""
    probabilities = {}
    for audience in audiences:
        while True:
            values = rng.uniform(0.01, 0.08, len(angles))
            top, second = np.sort(values)[::-1][:2]
            if top >= second * (1 + margin):
                break
        probabilities[audience] = {angle: round(float(v), 4) for angle, v in zip(angles, values)}
    return ClickModel(probabilities)


@dataclass(frozen=True)
class Impression:
    audience: str
    listing_id: Hashable
    chance: float  # uniform in [0, 1): the person clicks if it falls below the ad's click probability


class Market:
    """People of each audience meeting listings; the click model and each listing's appeal decide clicks."""

    def __init__(self, truth: ClickModel, listings: Mapping[str, Sequence[Hashable]], seed: int,
                 appeal_spread: float = 0.25):
        self.truth = truth
        self.listings = {audience: list(ids) for audience, ids in listings.items() if audience in truth.probabilities}
        rng = np.random.default_rng([seed, 1])
        every = sorted({listing for ids in self.listings.values() for listing in ids}, key=str)
        appeal = rng.lognormal(-appeal_spread ** 2 / 2, appeal_spread, len(every))  # mean 1
        self.appeal = dict(zip(every, appeal))
        self.seed = seed

    def click_probability(self, impression: Impression, angle: str) -> float:
        return min(1.0, self.truth.probability(impression.audience, angle) * self.appeal[impression.listing_id])

    def clicked(self, impression: Impression, angle: str) -> bool:
        return impression.chance < self.click_probability(impression, angle)

    def rounds(self, impressions: int, rounds: int) -> Iterator[list[Impression]]:
        """`impressions` per audience in `rounds` rounds; in each, the audiences' impressions interleaved."""
        rng = np.random.default_rng([self.seed, 2])
        audiences = sorted(self.listings)
        for number in range(rounds):
            count = impressions * (number + 1) // rounds - impressions * number // rounds
            people = [(audience, listing, chance) for audience in audiences
                      for listing, chance in zip(rng.choice(len(self.listings[audience]), count),
                                                 rng.random(count))]
            order = rng.permutation(len(people))
            yield [Impression(people[i][0], self.listings[people[i][0]][people[i][1]], float(people[i][2]))
                   for i in order]

