"""Listings of one area + their descriptions -> the vector store, with per-row progress.

For each listing the embedding text is hashed: a changed hash (or model) means
embed and upsert; a newer version with the same hash means a filterable-only
change, so properties are updated without an embedding call. Each batch is
written to the store first and then recorded in `listing_sync`, so a crash in
between only replays an idempotent upsert.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime, timezone
from dataclasses import dataclass
from typing import Callable, Iterator

from sqlalchemy import Connection, Engine

from gfl_dagster.db import queries, tables
from gfl_dagster.change_capture.area_lock import area_lock
from gfl_dagster.change_capture.poison import POISON_AFTER_ATTEMPTS, is_poison
from gfl_dagster.listings.embedding_text import embedding_text
from gfl_dagster.listings.facts import description_input, vector_properties
from gfl_dagster.listings.identity import content_hash
from gfl_dagster.resources.embedder import EmbedderResource
from gfl_dagster.stores.contract import RefusedWrites, VectorItem, VectorStore

STAGE = "vector"
BATCH_SIZE = 64


@dataclass
class EmbedReport:
    area: str
    rows_seen: int = 0
    embedded: int = 0
    properties_updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    failed: int = 0
    max_change_age_s: float = 0.0  # commit-to-synced lag of the oldest change this run wrote
    oldest_pending_s: float = 0.0  # what is still waiting in this area after the run
    embed_seconds: float = 0.0
    seconds: float = 0.0


@dataclass(frozen=True)
class PlannedItem:
    item: VectorItem
    text: str
    needs_vector: bool


def wanted_item(row, stored_description, model: str, guest_summary: str | None = None) -> tuple[VectorItem, str]:
    """What the store should hold for a listing now (version, embed hash, properties; no vector) and the
    text it embeds. `stored_description`: its listing_descriptions row (description, input_hash), or None;
    `guest_summary`: what its guests say (guest_summaries), or None."""
    # A description written for other facts is stale: never let it speak for the listing.
    current = stored_description is not None and stored_description.input_hash == content_hash(description_input(row))
    description = stored_description.description if current else None
    text = embedding_text(row, description, guest_summary)
    embed_hash = content_hash([text, model])
    return VectorItem(row["id"], row["version"], embed_hash, vector_properties(row, description, guest_summary)), text


def plan_area(rows, descriptions, sync_state, failures, model: str,
              guest_summaries: dict | None = None) -> tuple[list[PlannedItem], int]:
    """What each listing needs in the store; returns (work, unchanged or poison count)."""
    planned, unchanged = [], 0
    for row in rows:
        item, text = wanted_item(row, descriptions.get(row["id"]), model, (guest_summaries or {}).get(row["id"]))
        embed_hash = item.embed_hash
        state = sync_state.get(row["id"])
        failure = failures.get(row["id"])
        if is_poison(failure, embed_hash):
            unchanged += 1  # a poison row: recorded in sync_failures, retried when its content changes
            continue
        if state is None or state.embedding_model != model or state.embed_hash != embed_hash:
            planned.append(PlannedItem(item, text, True))
        else:
            # Same text, chosen by the query all the same: its version moved, or its description or summary was
            # written after its sync, where the text may not change (a description equal to the template the
            # text falls back to) while the stored properties must.
            planned.append(PlannedItem(item, text, False))
    return planned, unchanged


@contextmanager
def committing_embedding_input(engine: Engine, area: str) -> Iterator[Connection]:
    """A transaction writing what an area's vectors are embedded from (descriptions, guest summaries), committed
    under the area's vector lock. A run tells a vector behind its input by generated_at > synced_at (both now()):
    that holds only if no input commits between the run's reads and its progress, which the lock forbids."""
    with area_lock(engine, STAGE, area), engine.begin() as connection:
        yield connection


def embed_area(
    engine: Engine,
    embedder: EmbedderResource,
    store: VectorStore,
    area: str,
    progress: Callable[[str], None] = lambda message: None,
) -> EmbedReport:
    with area_lock(engine, STAGE, area):
        report = _embed_area(engine, embedder, store, area, progress)
    with engine.connect() as connection:
        oldest = connection.execute(queries.PENDING_IN_AREA,
                                    {"area": area, "poison_attempts": POISON_AFTER_ATTEMPTS}).scalar()
    report.oldest_pending_s = float(oldest or 0.0)
    return report


def _embed_area(engine: Engine, embedder: EmbedderResource, store: VectorStore, area: str, progress) -> EmbedReport:
    started = time.monotonic()
    report = EmbedReport(area)
    model = embedder.model_name
    store.ensure(embedder.dimension(), model)
    with engine.connect() as connection:
        rows = [dict(r) for r in connection.execute(queries.LISTINGS_NEEDING_VECTORS,
                                                     {"area": area, "model": model}).mappings()]
        ids = [row["id"] for row in rows]
        descriptions = {r.listing_id: r for r in connection.execute(queries.DESCRIPTIONS_FOR, {"ids": ids})}
        sync_state = {r.listing_id: r for r in connection.execute(queries.SYNC_STATE_FOR, {"ids": ids})}
        failures = {r.listing_id: r for r in connection.execute(queries.FAILURES_FOR, {"stage": STAGE, "ids": ids})}
        summaries = {r.listing_id: r.summary for r in connection.execute(queries.GUEST_SUMMARIES_FOR, {"ids": ids})}
    report.rows_seen = len(rows)
    planned, report.unchanged = plan_area(rows, descriptions, sync_state, failures, model, summaries)
    _confirm_current(engine, {row["id"] for row in rows if row["id"] in sync_state} - {p.item.key for p in planned})

    planned_ids = {p.item.key for p in planned}
    changed_at = [row["updated_at"] for row in rows if row["id"] in planned_ids]
    if changed_at:
        report.max_change_age_s = max(0.0, (datetime.now(timezone.utc) - min(changed_at)).total_seconds())
    to_embed = [p for p in planned if p.needs_vector]
    for start in range(0, len(to_embed), BATCH_SIZE):
        batch = to_embed[start:start + BATCH_SIZE]
        tick = time.monotonic()
        written = _embed_and_upsert(engine, embedder, store, area, batch, report)
        report.embed_seconds += time.monotonic() - tick
        _record_progress(engine, area, model, written)
        report.embedded += len(written)
        progress(f"{area}: embedded {min(start + BATCH_SIZE, len(to_embed))}/{len(to_embed)} listings")

    properties_only = [p.item for p in planned if not p.needs_vector]
    for start in range(0, len(properties_only), 500):
        batch = properties_only[start:start + 500]
        written = _isolating(engine, area, batch, report,
                             lambda part, failures: _written(store.update_properties, part, failures))
        _record_progress(engine, area, model, written)
        report.properties_updated += len(written)

    with engine.connect() as connection:
        gone = [r.listing_id for r in connection.execute(queries.DELETED_IN_AREA, {"area": area})]
    if gone:
        store.delete(gone)
        with engine.begin() as connection:
            connection.execute(queries.DELETE_SYNC_STATE, {"ids": gone})
            connection.execute(queries.DELETE_DESCRIPTIONS, {"ids": gone})
        report.deleted = len(gone)
    report.seconds = time.monotonic() - started
    return report


def _embed_and_upsert(engine, embedder, store, area, batch: list[PlannedItem], report: EmbedReport) -> list[VectorItem]:
    def embed_and_write(part: list[PlannedItem], failures: list) -> list[VectorItem]:
        embedded = _each_or_all(lambda some: embedder.embed_documents([p.text for p in some]), part, failures)
        items = [VectorItem(p.item.key, p.item.version, p.item.embed_hash, p.item.properties, vector)
                 for p, vector in embedded]
        return _written(store.upsert, items, failures)

    return _isolating(engine, area, batch, report, embed_and_write)


def _isolating(engine, area, batch: list, report: EmbedReport, work) -> list:
    """work(batch, failures): what was done, isolating rows that fail on their own (poison rows) in `failures`.

    When every row of a batch fails, the rows are not the cause (the embedder or the
    store is down): raise, so progress does not advance and the run is retried.
    """
    failures: list[tuple[PlannedItem | VectorItem, Exception]] = []
    try:
        done = work(batch, failures)
    except Exception as error:
        if len(batch) == 1:
            # Alone, a row cannot tell poison from outage: count the attempt (a poison row
            # stops after a few) and fail the run (an outage is retried with backoff).
            _record_failures(engine, area, [(batch[0], error)])
        raise
    if failures:
        _record_failures(engine, area, failures)
        report.failed += len(failures)
    return done


def _written(write, items: list[VectorItem], failures: list) -> list[VectorItem]:
    """The items a store write wrote. Listings the store refused join `failures` with its reason;
    a batch refused whole or failing otherwise is tried one listing at a time (_each_or_all)."""
    def attempt(part: list[VectorItem]) -> list[bool]:
        try:
            write(part)
        except RefusedWrites as error:
            if len(error.refused) == len(part):
                raise
            failures.extend((item, RefusedWrites(f"listing {item.key}: {error.refused[item.key]}",
                                                 {item.key: error.refused[item.key]}))
                            for item in part if item.key in error.refused)
            return [item.key not in error.refused for item in part]
        return [True] * len(part)

    return [item for item, was_written in _each_or_all(attempt, items, failures) if was_written]


def _record_failures(engine: Engine, area: str, failures: list[tuple]) -> None:
    with engine.begin() as connection:
        connection.execute(tables.RECORD_FAILURE, [
            {"listing_id": _item(element).key, "stage": STAGE, "area": area,
             "input_hash": _item(element).embed_hash, "reason": f"{type(error).__name__}: {error}"}
            for element, error in failures])


def _item(element: PlannedItem | VectorItem) -> VectorItem:
    return element.item if isinstance(element, PlannedItem) else element


def _each_or_all(work, batch: list, failures: list) -> list[tuple]:
    """(element, result) pairs: the whole batch at once, else one by one, keeping the failures."""
    try:
        return list(zip(batch, work(batch)))
    except Exception:
        if len(batch) == 1:
            raise
    done, errors = [], []
    for element in batch:
        try:
            done.extend(zip([element], work([element])))
        except Exception as error:
            errors.append((element, error))
    if not done:
        raise errors[-1][1]
    failures.extend(errors)
    return done


def _confirm_current(engine: Engine, ids: set[int]) -> None:
    """Listings read because something they are embedded from was rewritten (a guest summary regenerated) whose
    text came out the same: the store holds what they need now, so they stop being pending."""
    if ids:
        with engine.begin() as connection:
            connection.execute(queries.CONFIRM_SYNC_STATE, {"ids": sorted(ids)})


def _record_progress(engine: Engine, area: str, model: str, items: list[VectorItem]) -> None:
    if not items:
        return
    with engine.begin() as connection:
        connection.execute(tables.UPSERT_SYNC_STATE, [
            {"listing_id": i.key, "area": area, "synced_version": i.version, "embed_hash": i.embed_hash,
             "embedding_model": model} for i in items
        ])
        connection.execute(queries.CLEAR_FAILURES, {"stage": STAGE, "ids": [i.key for i in items]})

