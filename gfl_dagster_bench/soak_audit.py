"""The soak's audit: every object of the vector store, listed whole (every area, every copy of a key),
against what the sync would write for the source now (version, properties, embedding-text hash), the
deletions and the sync progress; poison rows with their reasons, and what Dagster's runs went through.
Pure comparison first, reading after."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Iterable, Mapping

from sqlalchemy import Engine

from gfl_dagster.db import queries
from gfl_dagster.listings.embed import wanted_item
from gfl_dagster.listings.source import LISTINGS
from gfl_dagster.stores.contract import StoredObject, VectorStore, comparable_properties

SHOWN = 10  # ids, objects and poison rows listed per finding; the counts are complete
SOURCE_PAGE = 2000  # source rows fetched per round trip (a server-side cursor): memory stays flat
FINDINGS = ("lost", "stale", "duplicate", "resurrected", "orphan", "wrong_properties", "wrong_text",
            "progress_ahead")


@dataclass(frozen=True)
class Wanted:
    """What the store should hold for one source row: what the sync would write for it now."""

    version: int
    embed_hash: str  # the hash of the embedding text (and model) the sync would embed
    properties: dict[str, Any]  # comparable_properties of the spec's fields


@dataclass
class Audit:
    source_rows: int = 0
    store_objects: int = 0  # every object listed, every copy counted
    lost: list[int] = field(default_factory=list)  # in the source, absent from the store
    stale: list[int] = field(default_factory=list)  # its newest object is older than the source's version
    duplicate: list[int] = field(default_factory=list)  # more than one object for the key, in any area or id
    resurrected: list[int] = field(default_factory=list)  # deleted in the source, still (or again) stored
    # Stored, yet neither in the source nor deleted from it (an object without a key: its vector id).
    orphan: list[int | str] = field(default_factory=list)
    # At the source's version, but its properties or embedded text are not what the source says now.
    wrong_properties: list[int] = field(default_factory=list)
    wrong_text: list[int] = field(default_factory=list)
    # Progress that claims more than the store holds: such a change is never synced again (silent loss).
    progress_ahead: list[int] = field(default_factory=list)
    poison: list[dict] = field(default_factory=list)  # sync_failures at or past the poison threshold
    failures: int = 0  # every sync_failures row, poison or not yet
    # For the first ids of each finding about stored objects: the objects (vector id, area, version) or the
    # properties that differ ({field: [stored, wanted]}).
    objects: dict[str, dict] = field(default_factory=lambda: defaultdict(dict))

    @property
    def clean(self) -> bool:
        return not any(getattr(self, finding) for finding in FINDINGS)

    def figures(self) -> dict:
        """Counts, and the first ids of each finding (sorted) for whoever chases them."""
        found = {finding: _sorted(getattr(self, finding)) for finding in FINDINGS}
        return {"source_rows": self.source_rows, "store_objects": self.store_objects, "clean": self.clean,
                **{finding: len(ids) for finding, ids in found.items()},
                "poison_rows": len(self.poison), "failures": self.failures, "poison": self.poison[:SHOWN],
                "examples": {finding: ids[:SHOWN] for finding, ids in found.items() if ids},
                "objects": {finding: {str(key): self.objects[finding][key] for key in found[finding][:SHOWN]
                                      if key in self.objects[finding]}
                            for finding in FINDINGS if self.objects.get(finding)}}

    def _note(self, finding: str, key: int | str, detail: Any) -> None:
        getattr(self, finding).append(key)
        self.objects[finding][key] = detail


def _sorted(ids: list) -> list:
    return sorted(ids, key=lambda i: (isinstance(i, str), i))


def _where(objects: list[StoredObject]) -> list[list]:
    return [[obj.vector_id, obj.partition, obj.version] for obj in objects]


def _same(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, float) and isinstance(wanted, float):
        return math.isclose(stored, wanted, rel_tol=1e-9, abs_tol=1e-9)
    return stored == wanted


def compare(wanted: Mapping[int, Wanted], deleted: set[int], stored: Iterable[StoredObject],
            progress: Mapping[int, int]) -> Audit:
    """`stored`: every object of the store (StoredObject), in any order, copies included."""
    copies: dict[int, list[StoredObject]] = defaultdict(list)
    found = Audit(source_rows=len(wanted))
    for obj in stored:
        found.store_objects += 1
        if obj.key is None:
            found._note("orphan", obj.vector_id, _where([obj]))
        else:
            copies[obj.key].append(obj)
    for key, objects in copies.items():
        if len(objects) > 1:
            found._note("duplicate", key, _where(objects))
        if key not in wanted:
            found._note("resurrected" if key in deleted else "orphan", key, _where(objects))
    for key, want in wanted.items():
        objects = copies.get(key, [])
        newest = max((obj.version if obj.version is not None else -1 for obj in objects), default=-1)
        if progress.get(key, -1) > newest:
            found.progress_ahead.append(key)
        if not objects:
            found.lost.append(key)
            continue
        if newest < want.version:
            found._note("stale", key, _where(objects))
        current = [obj for obj in objects if obj.version is not None and obj.version >= want.version]
        differing = {name: [obj.properties.get(name), value] for obj in current
                     for name, value in want.properties.items() if not _same(obj.properties.get(name), value)}
        if differing:
            found._note("wrong_properties", key, differing)
        wrong_hash = [obj for obj in current if obj.embed_hash != want.embed_hash]
        if wrong_hash:
            found._note("wrong_text", key, _where(wrong_hash))
    return found


def wanted_listings(engine: Engine, model: str) -> dict[int, Wanted]:
    """Each listing as the sync would write it now (listings/embed.py's wanted_item), read in pages."""
    wanted: dict[int, Wanted] = {}
    with engine.connect() as connection:
        rows = connection.execution_options(yield_per=SOURCE_PAGE).execute(queries.SOAK_SOURCE_ROWS).mappings()
        for row in rows:
            described = None if row["description_input_hash"] is None else SimpleNamespace(
                description=row["generated_description"], input_hash=row["description_input_hash"])
            item, _ = wanted_item(row, described, model, row["guest_summary"])
            wanted[item.key] = Wanted(item.version, item.embed_hash, comparable_properties(LISTINGS, item.properties))
    return wanted


def audit(engine: Engine, store: VectorStore, model: str, poison_attempts: int) -> Audit:
    """Reads the source, its deletions, the progress and the whole store (VectorStore.objects, paged).
    `model`: the configured embedding model (the store's live one, during a model switch, wins)."""
    wanted = wanted_listings(engine, store.live_model() or model)
    with engine.connect() as connection:
        deleted = {row[0] for row in connection.execute(queries.SOAK_DELETED_VERSIONS)}
        progress = dict(connection.execute(queries.SOAK_PROGRESS_VERSIONS).all())
        failures = [dict(row) for row in connection.execute(queries.SOAK_FAILURES).mappings()]
    result = compare(wanted, deleted, store.objects(), progress)
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
