"""The soak's audit: source, vector store and sync progress compared by (id, version), poison rows with
their reasons, and what Dagster's runs went through. Pure comparison first, reading after."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Iterable

from sqlalchemy import Engine

from gfl_dagster.db import queries

SHOWN = 10  # ids and poison rows listed per finding; the counts are complete


@dataclass
class Audit:
    source_rows: int = 0
    store_objects: int = 0
    lost: list[int] = field(default_factory=list)  # in the source, absent from the store
    stale: list[int] = field(default_factory=list)  # stored at an older version than the source's
    duplicate: list[int] = field(default_factory=list)  # stored more than once
    resurrected: list[int] = field(default_factory=list)  # deleted in the source, still (or again) stored
    # Progress that claims more than the store holds: such a change is never synced again (silent loss).
    progress_ahead: list[int] = field(default_factory=list)
    poison: list[dict] = field(default_factory=list)  # sync_failures at or past the poison threshold
    failures: int = 0  # every sync_failures row, poison or not yet

    @property
    def clean(self) -> bool:
        return not (self.lost or self.stale or self.duplicate or self.resurrected or self.progress_ahead)

    def figures(self) -> dict:
        """Counts, and the first ids of each finding (sorted) for whoever chases them."""
        counted = {name: value for name, value in asdict(self).items() if isinstance(value, list)}
        return {"source_rows": self.source_rows, "store_objects": self.store_objects, "clean": self.clean,
                **{name: len(ids) for name, ids in counted.items() if name != "poison"},
                "poison_rows": len(self.poison), "failures": self.failures,
                "poison": self.poison[:SHOWN],
                "examples": {name: sorted(ids)[:SHOWN] for name, ids in counted.items() if ids and name != "poison"}}


def compare(source: dict[int, int], deleted: set[int], stored: Iterable[tuple[int, int]],
            progress: dict[int, int]) -> Audit:
    """`stored`: every (id, version) object of the store, duplicates included."""
    stored = list(stored)
    counts = Counter(listing_id for listing_id, _ in stored)
    store = {listing_id: version for listing_id, version in stored}
    return Audit(
        source_rows=len(source), store_objects=len(stored),
        lost=[i for i in source if i not in store],
        stale=[i for i, version in source.items() if i in store and store[i] < version],
        duplicate=[i for i, count in counts.items() if count > 1],
        resurrected=[i for i in deleted if i in store and i not in source],
        progress_ahead=[i for i, version in progress.items() if i in source and version > store.get(i, -1)],
    )


def audit(engine: Engine, store, poison_attempts: int) -> Audit:
    """Reads the source, its deletions, the progress and the store (through the store contract, area by area)."""
    with engine.connect() as connection:
        source = dict(connection.execute(queries.SOAK_SOURCE_VERSIONS).all())
        deleted = {row[0] for row in connection.execute(queries.SOAK_DELETED_VERSIONS)}
        progress = dict(connection.execute(queries.SOAK_PROGRESS_VERSIONS).all())
        areas = [row[0] for row in connection.execute(queries.SOAK_AREAS)]
        failures = [dict(row) for row in connection.execute(queries.SOAK_FAILURES).mappings()]
    stored = [pair for area in areas for pair in store.versions(area).items()]
    result = compare(source, deleted, stored, progress)
    result.failures = len(failures)
    result.poison = [failure for failure in failures if failure["attempts"] >= poison_attempts]
    return result


def run_figures(instance, job_name: str) -> dict:
    """The sync runs by status (a run still STARTED at the end lost its worker), and step retries."""
    from dagster import DagsterEventType, EventRecordsFilter, RunsFilter

    runs = instance.get_runs(filters=RunsFilter(job_name=job_name))
    statuses = Counter(run.status.value for run in runs)
    retries = instance.get_event_records(EventRecordsFilter(event_type=DagsterEventType.STEP_UP_FOR_RETRY),
                                         limit=100_000)
    return {"runs": len(runs), "by_status": dict(sorted(statuses.items())),
            "failed": statuses.get("FAILURE", 0), "step_retries": len(retries),
            "re_requested": sum(run.tags.get("gfl/trigger") == "pending" for run in runs)}
