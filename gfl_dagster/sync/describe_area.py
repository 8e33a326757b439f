"""`listings` rows of one area -> validated descriptions in `listing_descriptions`.

Only rows whose description input, model or prompt version changed are sent to
the describer. A row that keeps failing is recorded in `sync_failures` and
skipped (a poison row never blocks its area); it is retried when its input changes.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Engine

from gfl_dagster.db import queries
from gfl_dagster.sync.area_lock import area_lock
from gfl_dagster.listings.facts import description_input
from gfl_dagster.listings.identity import content_hash
from gfl_dagster.listings.prompt import PROMPT_VERSION
from gfl_dagster.resources.describer import DescriberResource, DescribeOutcome

STAGE = "description"
POISON_AFTER_ATTEMPTS = 3
COMMIT_EVERY = 32


@dataclass
class DescribeReport:
    area: str
    rows_seen: int = 0
    changed: int = 0
    generated: int = 0
    failed: int = 0
    skipped_poison: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


def rows_needing_description(
    rows: list[dict[str, Any]],
    stored: dict[int, Any],
    failures: dict[int, Any],
    model: str,
) -> tuple[list[tuple[dict[str, Any], dict[str, Any], str]], int]:
    """(row, facts, input hash) for each row to (re)generate, and the count of poison rows skipped."""
    todo, poison = [], 0
    for row in rows:
        facts = description_input(row)
        input_hash = content_hash(facts)
        current = stored.get(row["id"])
        if current is not None and (current.input_hash, current.model, current.prompt_version) == (
            input_hash, model, PROMPT_VERSION
        ):
            continue
        failure = failures.get(row["id"])
        if failure is not None and failure.input_hash == input_hash and failure.attempts >= POISON_AFTER_ATTEMPTS:
            poison += 1
            continue
        todo.append((row, facts, input_hash))
    return todo, poison


def describe_area(
    engine: Engine,
    describer: DescriberResource,
    area: str,
    progress: Callable[[str], None] = lambda message: None,
) -> DescribeReport:
    with area_lock(engine, STAGE, area):
        return _describe_area(engine, describer, area, progress)


def _describe_area(engine: Engine, describer: DescriberResource, area: str, progress) -> DescribeReport:
    started = time.monotonic()
    report = DescribeReport(area)
    with engine.connect() as connection:
        rows = [dict(r) for r in connection.execute(queries.LISTINGS_NEEDING_DESCRIPTION, {
            "area": area, "model": describer.model_name, "prompt_version": PROMPT_VERSION}).mappings()]
        ids = [row["id"] for row in rows]
        stored = {r.listing_id: r for r in connection.execute(queries.DESCRIPTIONS_FOR, {"ids": ids})}
        failures = {r.listing_id: r for r in connection.execute(queries.FAILURES_FOR, {"stage": STAGE, "ids": ids})}
        known_areas = [r[0] for r in connection.execute(queries.AREA_NAMES)]
    report.rows_seen = len(rows)
    todo, report.skipped_poison = rows_needing_description(rows, stored, failures, describer.model_name)
    report.changed = len(todo)
    regenerating = {row["id"] for row, _, _ in todo}
    still_fitting = [{"listing_id": row["id"], "version": row["version"]} for row in rows
                     if row["id"] not in regenerating and row["id"] in stored]
    if still_fitting:
        with engine.begin() as connection:
            connection.execute(queries.CONFIRM_DESCRIPTIONS, still_fitting)

    client = describer._client() if describer.backend == "openai" else None
    workers = describer.concurrency if client is not None else 1

    def generate(item: tuple[dict[str, Any], dict[str, Any], str]) -> DescribeOutcome:
        row, facts, _ = item
        try:
            return describer.describe(facts, row, known_areas, client=client)
        except Exception as error:  # one row's failure is recorded, never fails the area
            return DescribeOutcome(None, f"{type(error).__name__}: {error}")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(todo), COMMIT_EVERY):
            batch = todo[start:start + COMMIT_EVERY]
            outcomes = list(pool.map(generate, batch))
            _save(engine, area, describer.model_name, batch, outcomes, report)
            progress(f"{area}: described {min(start + COMMIT_EVERY, len(todo))}/{len(todo)} changed listings")
    report.seconds = time.monotonic() - started
    return report


def _save(engine: Engine, area: str, model: str, batch, outcomes, report: DescribeReport) -> None:
    saved, failed = [], []
    for (row, _, input_hash), outcome in zip(batch, outcomes):
        report.prompt_tokens += outcome.prompt_tokens
        report.completion_tokens += outcome.completion_tokens
        if outcome.text is not None:
            saved.append({
                "listing_id": row["id"], "area": area, "description": outcome.text, "input_hash": input_hash,
                "model": model, "prompt_version": PROMPT_VERSION, "source_version": row["version"],
                "prompt_tokens": outcome.prompt_tokens, "completion_tokens": outcome.completion_tokens,
            })
        else:
            failed.append({"listing_id": row["id"], "stage": STAGE, "area": area, "input_hash": input_hash,
                           "reason": outcome.problem or "no description produced"})
    with engine.begin() as connection:
        if saved:
            connection.execute(queries.UPSERT_DESCRIPTION, saved)
            connection.execute(queries.CLEAR_FAILURES, {"stage": STAGE, "ids": [s["listing_id"] for s in saved]})
        if failed:
            connection.execute(queries.RECORD_FAILURE, failed)
    report.generated += len(saved)
    report.failed += len(failed)
