"""Real guests for `gfl bench recommend`: leave-last-out over the repeat guests of a reviews file (pure).

A review is a stay. Each guest's stays are ordered by (date, review id); a guest's *last new listing* is the
listing they reviewed for the first time last. It is hidden: the guest's reviews of it leave the training
data (every baseline's counts and co-reviews are built without it), and the recommender, given the rest of the
guest's reviews, should find it among the listings the guest has not reviewed. A guest whose reviews are all
of one listing has nothing to be judged on (no new listing after a first one) and is counted apart.

Guests are split into dev and test by a hash of their reviewer id, so the split is fixed before any tuning,
does not depend on the file's order, and a new guest in a later snapshot falls on the same side.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

SPLITS = ("dev", "test")


@dataclass(frozen=True)
class Stay:
    guest: int
    listing_id: int
    date: dt.date
    review_id: int


@dataclass(frozen=True)
class HeldOut:
    """One judged guest: what they did before (their training stays) and the listing hidden from it."""

    guest: int
    history: tuple[Stay, ...]  # oldest first, without any stay in the hidden listing
    hidden: int
    hidden_date: dt.date

    @property
    def reviewed(self) -> set[int]:
        return {stay.listing_id for stay in self.history}


@dataclass
class LeaveLastOut:
    judged: list[HeldOut] = field(default_factory=list)
    training: list[Stay] = field(default_factory=list)  # every stay but the judged guests' hidden ones
    repeat_guests: int = 0
    one_listing_guests: int = 0  # repeat guests who reviewed only one listing: nothing new to hide


def split_of(guest: int) -> str:
    """'dev' or 'test', by the first 8 hex digits of sha256("guest-<reviewer id>"): even is dev."""
    digest = hashlib.sha256(f"guest-{guest}".encode()).hexdigest()
    return SPLITS[int(digest[:8], 16) % 2]


def stays_from_reviews(rows: Iterable[Mapping]) -> list[Stay]:
    """Stays from parsed review rows (reviews/review_rows.py); a review without a reviewer is no one's stay."""
    return [Stay(int(row["reviewer_id"]), int(row["listing_id"]), row["date"], int(row["id"]))
            for row in rows if row.get("reviewer_id") is not None]


def leave_last_out(stays: Iterable[Stay]) -> LeaveLastOut:
    by_guest: dict[int, list[Stay]] = {}
    for stay in stays:
        by_guest.setdefault(stay.guest, []).append(stay)
    result = LeaveLastOut()
    for guest, own in sorted(by_guest.items()):
        own.sort(key=lambda stay: (stay.date, stay.review_id))
        if len(own) < 2:
            result.training += own
            continue
        result.repeat_guests += 1
        first_seen: dict[int, Stay] = {}
        for stay in own:
            first_seen.setdefault(stay.listing_id, stay)
        if len(first_seen) < 2:
            result.one_listing_guests += 1
            result.training += own
            continue
        hidden = max(first_seen.values(), key=lambda stay: (stay.date, stay.review_id))
        history = tuple(stay for stay in own if stay.listing_id != hidden.listing_id)
        result.training += history
        result.judged.append(HeldOut(guest, history, hidden.listing_id, hidden.date))
    return result


def split_fingerprint(judged: Sequence[HeldOut], split: str) -> str:
    """sha256 of one split's "guest,hidden listing" lines, sorted: what BENCHMARKS.md freezes."""
    lines = sorted(f"{case.guest},{case.hidden}" for case in judged if split_of(case.guest) == split)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def review_counts(stays: Iterable[Stay]) -> Counter:
    """{listing id: reviews}: most-reviewed, from the stays given (the training stays: nothing hidden)."""
    return Counter(stay.listing_id for stay in stays)


def hit_at(ranked: Sequence[int], hidden: int, k: int) -> float:
    return 1.0 if hidden in ranked[:k] else 0.0


def ndcg_at(ranked: Sequence[int], hidden: int, k: int) -> float:
    """One relevant listing: 1 / log2(1 + its rank) when it is in the top k (the ideal ranking scores 1)."""
    top = list(ranked[:k])
    return 1.0 / math.log2(top.index(hidden) + 2) if hidden in top else 0.0
