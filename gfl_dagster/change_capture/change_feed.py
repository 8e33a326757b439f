"""Which areas need a sync run now: the decision behind the change sensor, kept pure.

Two signals feed it. The transaction-id watermark finds new changes cheaply and in
commit-safe order. The pending view (source version ahead of the synced version,
kept in Postgres) is the ground truth: it re-requests areas whose run failed or was
killed, and areas whose changes arrived while their run was busy.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Iterable, Optional

SWEEP_EVERY_S = 30.0
HOLD_WARNING_S = 1.0  # a writer open longer than this is worth naming in the tick message


@dataclass
class FeedCursor:
    horizon: str = "0"  # xid8 as text: every change below it has been seen
    deferred: list[str] = field(default_factory=list)  # areas with changes that were busy last tick
    swept_at: float = 0.0  # epoch seconds of the last pending-view sweep
    tick: int = 0

    @staticmethod
    def parse(raw: Optional[str]) -> "FeedCursor":
        if not raw:
            return FeedCursor()
        return FeedCursor(**json.loads(raw))

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class TickPlan:
    run_areas: list[str]
    deferred: list[str]
    sweep: bool


def should_sweep(cursor: FeedCursor, now: float) -> bool:
    return bool(cursor.deferred) or now - cursor.swept_at >= SWEEP_EVERY_S


def wanted_areas(changed: Iterable[str], pending: Iterable[str], deferred: Iterable[str], sweep: bool) -> set[str]:
    """Areas with rows pending at tick time: changed (or deferred) ones still pending, and on a sweep every
    pending one. A change the fast path synced before the tick asks for no run (it would find nothing)."""
    pending = set(pending)
    return ((set(changed) | set(deferred)) & pending) | (pending if sweep else set())


def plan_tick(wanted: Iterable[str], busy: Iterable[str]) -> TickPlan:
    """One run per wanted area, never for an area a run (or the fast path) is working on: that one waits
    for the next tick, which asks again only if rows are still pending then."""
    wanted, busy = set(wanted), set(busy)
    return TickPlan(run_areas=sorted(wanted - busy), deferred=sorted(wanted & busy), sweep=False)


def lag_message(pending_by_area: dict[str, tuple[int, float]], open_transaction_s: Optional[float]) -> str:
    """Human summary of what is waiting and what holds the watermark back."""
    parts = []
    if pending_by_area:
        oldest_area, (_, oldest_s) = max(pending_by_area.items(), key=lambda item: item[1][1])
        total = sum(count for count, _ in pending_by_area.values())
        parts.append(f"{total} pending changes in {len(pending_by_area)} areas; oldest {oldest_s:.1f}s ({oldest_area})")
    else:
        parts.append("nothing pending")
    if open_transaction_s is not None and open_transaction_s >= HOLD_WARNING_S:
        parts.append(f"watermark held back by a transaction open for {open_transaction_s:.0f}s "
                     "(its changes, and later ones, arrive when it ends)")
    return "; ".join(parts)
