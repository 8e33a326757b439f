"""`listings` rows of one area -> validated descriptions in `listing_descriptions`.

A description generator is a prompt (description_prompt.py), a check
(description_check.py) and a template; `generate_validated` runs them. Only rows
whose description input, model or prompt version changed are sent to the model.
When every answer is rejected the template's text is stored with the reasons
(`fallback_reason`). A row whose generation fails (the service keeps erroring) is
recorded in `sync_failures` and retried; after a few failures at the same content
it is skipped as a poison row (it never blocks its area) until its input changes.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sqlalchemy import Connection, Engine

from gfl_dagster.clients.model_client import ModelSettingError
from gfl_dagster.db import queries, tables
from gfl_dagster.change_capture.area_lock import area_lock
from gfl_dagster.change_capture.poison import is_poison
from gfl_dagster.listings import embed
from gfl_dagster.listings.facts import description_input
from gfl_dagster.listings.identity import content_hash
from gfl_dagster.generation.generate import Generated, Template, generate_validated
from gfl_dagster.generation.spend import BudgetReached
from gfl_dagster.listings.description_check import check_description
from gfl_dagster.listings.description_prompt import (
    PROMPT_VERSION,
    TEMPLATE_MODEL,
    chat_messages,
    host_words,
    template_description,
)
from gfl_dagster.resources.model_client import ModelClientResource

STAGE = "description"
COMMIT_EVERY = 32


def describer_name(model: ModelClientResource) -> str:
    """What writes descriptions: the configured chat model, else the template."""
    return model.chat_model if model.has_chat else TEMPLATE_MODEL


def known_places(connection: Connection) -> tuple[list[str], list[str]]:
    """(areas, places) a description is checked against: naming another one is a claim."""
    return ([r[0] for r in connection.execute(queries.AREA_NAMES)],
            [r[0] for r in connection.execute(queries.PLACE_NAMES)])


def describe_listing(model: ModelClientResource, facts: dict[str, Any], listing: dict[str, Any],
                     known_areas: Iterable[str], known_places: Iterable[str] = ()) -> Generated:
    """One listing's description, checked against its facts.

    The template writes when no chat model is set, and stands in (fell_back, with the
    reasons) when every answer of the model is rejected: search never loses a listing.
    The host's own words (a detailed row's description) reach the model only as marked
    data; the check never takes them as evidence.
    """
    areas, places = list(known_areas), list(known_places)
    return generate_validated(model, chat_messages(facts, host_words(listing)),
                              lambda text: check_description(text, listing, areas, places),
                              template=Template(TEMPLATE_MODEL, lambda: template_description(facts)))


@dataclass
class DescribeReport:
    area: str
    rows_seen: int = 0
    changed: int = 0
    generated: int = 0
    failed: int = 0
    fallbacks: int = 0  # the template stood in for a model whose every answer was rejected
    skipped_poison: int = 0
    waiting_for_budget: int = 0  # today's model budget is spent: these wait, neither failed nor templated
    budget_message: str = ""
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
        if is_poison(failure, input_hash):
            poison += 1
            continue
        todo.append((row, facts, input_hash))
    return todo, poison


def describe_area(
    engine: Engine,
    model: ModelClientResource,
    area: str,
    progress: Callable[[str], None] = lambda message: None,
) -> DescribeReport:
    with area_lock(engine, STAGE, area):
        return _describe_area(engine, model, area, progress)


def _describe_area(engine: Engine, model: ModelClientResource, area: str, progress) -> DescribeReport:
    started = time.monotonic()
    report = DescribeReport(area)
    with engine.connect() as connection:
        rows = [dict(r) for r in connection.execute(queries.LISTINGS_NEEDING_DESCRIPTION, {
            "area": area, "model": describer_name(model), "prompt_version": PROMPT_VERSION}).mappings()]
        ids = [row["id"] for row in rows]
        stored = {r.listing_id: r for r in connection.execute(queries.DESCRIPTIONS_FOR, {"ids": ids})}
        failures = {r.listing_id: r for r in connection.execute(queries.FAILURES_FOR, {"stage": STAGE, "ids": ids})}
        areas, places = known_places(connection)
    report.rows_seen = len(rows)
    todo, report.skipped_poison = rows_needing_description(rows, stored, failures, describer_name(model))
    report.changed = len(todo)
    regenerating = {row["id"] for row, _, _ in todo}
    still_fitting = [{"listing_id": row["id"], "version": row["version"]} for row in rows
                     if row["id"] not in regenerating and row["id"] in stored]
    if still_fitting:
        with engine.begin() as connection:
            connection.execute(queries.CONFIRM_DESCRIPTIONS, still_fitting)

    workers = model.concurrency if model.has_chat else 1

    def generate(item: tuple[dict[str, Any], dict[str, Any], str]) -> Generated | BudgetReached:
        row, facts, _ = item
        try:
            return describe_listing(model, facts, row, areas, places)
        except BudgetReached as reached:
            return reached  # the row waits for budget: not a failure, and no template takes its place
        except ModelSettingError:
            raise  # a setting is wrong: every row would fail alike, so the run stops and says which
        except Exception as error:  # one row's failure is recorded, never fails the area
            return Generated(None, describer_name(model), [f"{type(error).__name__}: {error}"])

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(todo), COMMIT_EVERY):
            batch = todo[start:start + COMMIT_EVERY]
            outcomes = list(pool.map(generate, batch))
            done = [(item, outcome) for item, outcome in zip(batch, outcomes) if isinstance(outcome, Generated)]
            _save(engine, area, model, [item for item, _ in done], [outcome for _, outcome in done], report)
            if len(done) < len(batch):
                report.waiting_for_budget = len(todo) - start - len(done)
                report.budget_message = str(next(o for o in outcomes if isinstance(o, BudgetReached)))
                progress(f"{area}: {report.waiting_for_budget} listings wait: {report.budget_message}")
                break
            progress(f"{area}: described {min(start + COMMIT_EVERY, len(todo))}/{len(todo)} changed listings")
    report.seconds = time.monotonic() - started
    return report


def _save(engine: Engine, area: str, model: ModelClientResource, batch, outcomes, report: DescribeReport) -> None:
    saved, failed = [], []
    for (row, _, input_hash), outcome in zip(batch, outcomes):
        if outcome.text is not None:
            # Stored under the describer it answers for, so a stand-in template is not regenerated until the
            # listing changes; the reasons say why the model's answers were not stored.
            saved.append({
                "listing_id": row["id"], "area": area, "description": outcome.text, "input_hash": input_hash,
                "model": describer_name(model), "prompt_version": PROMPT_VERSION, "source_version": row["version"],
                "prompt_tokens": outcome.prompt_tokens, "completion_tokens": outcome.completion_tokens,
                "fallback_reason": "; ".join(outcome.problems) if outcome.fell_back else None,
            })
            report.fallbacks += outcome.fell_back
        else:
            failed.append({"listing_id": row["id"], "stage": STAGE, "area": area, "input_hash": input_hash,
                           "reason": _failure_reason(model, outcome)})
    with embed.committing_embedding_input(engine, area) as connection:  # why: its docstring
        if saved:
            connection.execute(tables.UPSERT_DESCRIPTION, saved)
            connection.execute(queries.CLEAR_FAILURES, {"stage": STAGE, "ids": [s["listing_id"] for s in saved]})
        if failed:
            connection.execute(tables.RECORD_FAILURE, failed)
    report.generated += len(saved)
    report.failed += len(failed)


def _failure_reason(model: ModelClientResource, outcome: Generated) -> str:
    problems = "; ".join(outcome.problems) or "no description produced"
    if model.has_chat and outcome.prompt_tokens:  # the model answered, and every answer was rejected
        return f"rejected after {model.attempts} attempts: {problems}"
    return problems
