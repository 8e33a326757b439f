"""Repairing drift between the source and the vector store, per area.

Drift is what the progress table does not know about: objects removed or rewritten
in the store behind the sync's back, a store restored from an old backup. Repair
forgets the progress of missing or stale listings (so the next sync rewrites them)
and deletes objects whose listing is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from gfl_dagster.db import queries
from gfl_dagster.stores.contract import VectorStore
from gfl_dagster.change_capture.drift import Drift, compare_versions


@dataclass
class ReconcileReport:
    areas: int = 0
    missing: int = 0
    stale: int = 0
    extra: int = 0
    repaired_areas: list[str] = field(default_factory=list)
    poison_retried: int = 0
    # Every area's drift as found (before repair): the nightly evaluation of the checks reports it.
    drifts: dict[str, Drift] = field(default_factory=dict)

    def summary(self) -> str:
        retried = f"; {self.poison_retried} poison rows given another chance" if self.poison_retried else ""
        if not self.repaired_areas:
            return f"{self.areas} areas checked: no drift{retried}"
        return (f"{self.areas} areas checked; repaired {self.missing} missing, {self.stale} stale and "
                f"{self.extra} extra vector objects in {', '.join(self.repaired_areas)}{retried}")


def reconcile(engine: Engine, store: VectorStore, poison_attempts: int = 3) -> ReconcileReport:
    report = ReconcileReport()
    with engine.begin() as connection:
        report.poison_retried = connection.execute(queries.RETRY_OLD_POISON,
                                                   {"poison_attempts": poison_attempts}).rowcount
    with engine.connect() as connection:
        areas = [row.area for row in connection.execute(queries.LIST_AREAS)]
        synced_areas = {row.area for row in connection.execute(queries.SYNCED_AREAS)}
    for area in sorted(set(areas) | synced_areas):
        with engine.connect() as connection:
            source = {r.id: r.version for r in connection.execute(queries.SOURCE_VERSIONS_IN_AREA, {"area": area})}
        drift = compare_versions(source, store.versions(area))
        report.areas += 1
        report.drifts[area] = drift
        if drift.clean:
            continue
        if drift.extra:
            store.delete(drift.extra)
        with engine.begin() as connection:
            connection.execute(queries.FORGET_SYNC_STATE, {"ids": drift.missing + drift.stale + drift.extra})
        report.missing += len(drift.missing)
        report.stale += len(drift.stale)
        report.extra += len(drift.extra)
        report.repaired_areas.append(area)
    return report
