"""Listings of one area + their descriptions -> ad copy per eligible audience, and ads that learn from clicks.

Per listing and audience the area keeps up to `learning.variants` active ads, each with
its own angle (the fact it leads with: ads/angles.py), drawn among the angles the
audience's clicks have not judged worse. An ad is written again only when what it was
written from changed (the listing's facts, its stored description, the audience, the
generator): one listing's change costs that listing's ads, nothing else. Eligibility
is checked before generation (an ineligible listing gets no ad, and loses the ones it
had) and after it (`check_ad`, which also checks the ad leads with its angle). Then the
learning step (ads/learning.py): a variant the clicks have judged worse than its
listing's best angle is retired, and a replacement explores another angle, written
with the audience's best ads as examples; the run records what it retired, why, and
which examples it used.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
from sqlalchemy import Engine

from gfl_dagster.ads.ad_check import check_ad
from gfl_dagster.ads.ad_prompt import PROMPT_VERSION, TEMPLATE_NAME, ad_messages, template_ad
from gfl_dagster.ads.angles import Angle, angle_facts, available_angles, load_angles
from gfl_dagster.ads.audiences import Audience, ineligible_reason, load_audiences
from gfl_dagster.ads.bandit import Bandit
from gfl_dagster.ads.learning import AdStats, next_angles, plan_retirements, smoothed_ctr
from gfl_dagster.change_capture.area_lock import area_lock
from gfl_dagster.db import queries, tables
from gfl_dagster.generation.generate import Generated, Template, generate_validated
from gfl_dagster.listings.facts import description_input
from gfl_dagster.listings.identity import content_hash
from gfl_dagster.resources.model_client import ModelClientResource

STAGE = "ads"


@dataclass
class AdsReport:
    area: str
    listings_seen: int = 0
    generated: int = 0
    reused: int = 0  # active ads still written from the current facts: kept, no model call
    retired: int = 0
    fallbacks: int = 0
    failed: int = 0
    retirements: list[str] = field(default_factory=list)  # "ad 12 (listing 5, family): ctr ... (examples 3, 9)"
    best_ctr: dict[str, float] = field(default_factory=dict)  # per audience, smoothed
    best_angle: dict[str, str] = field(default_factory=dict)  # per audience: its judged angle of highest posterior
    seconds: float = 0.0


@dataclass(frozen=True)
class AdJob:
    listing: dict[str, Any]
    audience: Audience
    angle: Angle
    variant: int
    input_hash: str
    examples: tuple[int, ...] = ()
    example_texts: tuple[str, ...] = ()
    notes: str = ""


def generator_name(model: ModelClientResource) -> str:
    return model.chat_model if model.has_chat else TEMPLATE_NAME


def ad_input_hash(facts: dict[str, Any], description: Optional[str], audience: Audience) -> str:
    return content_hash([facts, description or "", audience.slug, audience.description, PROMPT_VERSION])


def write_ad(model: ModelClientResource, job: AdJob, known_areas: list[str], known_places: list[str]) -> Generated:
    facts = description_input(job.listing)
    description = job.listing.get("description")
    return generate_validated(
        model, ad_messages(job.audience, facts, description, job.example_texts, job.angle),
        lambda text: check_ad(text, job.audience, job.listing, description, known_areas, known_places, job.angle),
        Template(TEMPLATE_NAME, lambda: template_ad(job.audience, angle_facts(job.listing), job.angle)),
        max_tokens=160)


def write_ads(engine: Engine, model: ModelClientResource, area: str,
              progress: Callable[[str], None] = lambda message: None) -> AdsReport:
    with area_lock(engine, STAGE, area):
        return _write_ads(engine, model, area, progress)


def _write_ads(engine: Engine, model: ModelClientResource, area: str, progress) -> AdsReport:
    started = time.monotonic()
    report = AdsReport(area)
    audiences, learning = load_audiences()
    angles = {angle.slug: angle for angle in load_angles()}
    generator = generator_name(model)
    with engine.connect() as connection:
        rows = [dict(r) for r in connection.execute(queries.LISTINGS_NEEDING_ADS, {"area": area}).mappings()]
        active: dict[tuple[int, str], list[Any]] = defaultdict(list)
        for ad in connection.execute(queries.ACTIVE_ADS_FOR, {"ids": [row["id"] for row in rows]}):
            active[(ad.listing_id, ad.audience)].append(ad)
        orphans = [r.id for r in connection.execute(queries.ORPHAN_ADS_IN_AREA, {"area": area})]
        known_areas = [r[0] for r in connection.execute(queries.AREA_NAMES)]
        known_places = [r[0] for r in connection.execute(queries.PLACE_NAMES)]
        stat_rows = connection.execute(queries.AD_STATS).all()
        pooled = {(r.audience, r.angle): (r.impressions, r.clicks) for r in connection.execute(queries.ANGLE_STATS)}
    stats = [AdStats(r.ad_id, r.listing_id, r.audience, r.variant, r.impressions, r.clicks, r.text, r.angle)
             for r in stat_rows]
    # The retirement probabilities are a function of the evidence; seeded, so are the angles the
    # replacements explore: a run repeated without a new click decides the same.
    bandit = Bandit(stats, pooled, learning, np.random.default_rng(0))
    report.listings_seen = len(rows)
    retire: dict[int, str] = {ad_id: "its listing left the area or the source" for ad_id in orphans}
    jobs: list[AdJob] = []
    by_slug = {audience.slug: audience for audience in audiences}
    for row in rows:
        facts = description_input(row)
        offered = [angle.slug for angle in available_angles(angles.values(), angle_facts(row))]
        for audience in audiences:
            ads = active.get((row["id"], audience.slug), [])
            reason = ineligible_reason(audience, row)
            if reason:
                retire.update({ad.id: f"no longer eligible: {reason}" for ad in ads})
                continue
            wanted = ad_input_hash(facts, row.get("description"), audience)
            current = [ad for ad in ads if ad.input_hash == wanted and ad.model == generator and ad.angle in offered]
            retire.update({ad.id: "written from facts, a description, a generator or an angle that changed"
                           for ad in ads if ad not in current})
            report.reused += len(current)
            for angle in next_angles(bandit, audience.slug, offered, [ad.angle for ad in current],
                                     learning.variants - len(current)):
                jobs.append(AdJob(row, audience, angles[angle], 0, wanted))

    # Learning: clicks judge this area's variants (pooled by audience and angle, then each ad's own).
    rows_by_id = {row["id"]: row for row in rows}
    every_angle = list(angles)
    worse = {slug: bandit.judged_worse(slug, every_angle) for slug in by_slug}
    report.best_angle = {slug: bandit.best_angle(slug, every_angle) for slug in by_slug
                         if any(bandit.judged(slug, angle) for angle in every_angle)}
    judged = {r.listing_id for r in stat_rows if r.area == area and r.audience in worse
              and (r.impressions or r.angle in worse[r.audience])} - set(rows_by_id)
    if judged:  # a listing whose ads clicks may have judged may not have changed: read it too
        with engine.connect() as connection:
            rows_by_id.update({r["id"]: dict(r) for r in connection.execute(
                queries.LISTINGS_WITH_DESCRIPTIONS_FOR, {"ids": sorted(judged)}).mappings() if r["area"] == area})
    available = {listing_id: [a.slug for a in available_angles(angles.values(), angle_facts(row))]
                 for listing_id, row in rows_by_id.items()}
    texts = {ad.ad_id: ad.text for ad in stats}
    writing = {(job.listing["id"], job.audience.slug, job.angle.slug) for job in jobs}
    for retirement in plan_retirements([ad for ad in stats if ad.ad_id not in retire], bandit, learning, available):
        row = rows_by_id[retirement.listing_id]
        if retirement.audience not in by_slug:
            continue
        audience = by_slug[retirement.audience]
        retire[retirement.ad_id] = retirement.reason
        report.retirements.append(f"ad {retirement.ad_id} (listing {retirement.listing_id}, {audience.slug}, "
                                  f"{retirement.angle}): {retirement.reason}; "
                                  f"examples {', '.join(map(str, retirement.examples)) or 'none'}")
        if retirement.replacement_angle is not None and (
                retirement.listing_id, retirement.audience, retirement.replacement_angle) not in writing:
            jobs.append(AdJob(row, audience, angles[retirement.replacement_angle], 0,
                              ad_input_hash(description_input(row), row.get("description"), audience),
                              tuple(retirement.examples), tuple(texts[i] for i in retirement.examples if i in texts),
                              f"replaces ad {retirement.ad_id}: {retirement.reason}"))
    for ad in stats:
        audience_best = smoothed_ctr(ad.clicks, ad.impressions, learning)
        report.best_ctr[ad.audience] = round(max(report.best_ctr.get(ad.audience, 0.0), audience_best), 4)

    if retire:
        with engine.begin() as connection:
            for reason in set(retire.values()):
                connection.execute(queries.RETIRE_ADS, {"ids": [i for i, r in retire.items() if r == reason],
                                                        "reason": reason})
        report.retired = len(retire)
    for start in range(0, len(jobs), 32):
        _save(engine, model, area, generator, jobs[start:start + 32], known_areas, known_places, report)
        progress(f"{area}: wrote {min(start + 32, len(jobs))}/{len(jobs)} ads")
    report.seconds = time.monotonic() - started
    return report


def _save(engine: Engine, model: ModelClientResource, area: str, generator: str, jobs: list[AdJob],
          known_areas: list[str], known_places: list[str], report: AdsReport) -> None:
    rows = []
    next_variant: dict[tuple[int, str], int] = {}  # variants are numbered per listing and audience, never reused
    with engine.connect() as connection:
        for job in jobs:
            key = (job.listing["id"], job.audience.slug)
            if key not in next_variant:
                next_variant[key] = connection.execute(queries.NEXT_VARIANT, {
                    "listing_id": key[0], "audience": key[1]}).scalar_one()
            variant, next_variant[key] = next_variant[key], next_variant[key] + 1
            job = AdJob(job.listing, job.audience, job.angle, variant, job.input_hash, job.examples,
                        job.example_texts, job.notes)
            try:
                written = write_ad(model, job, known_areas, known_places)
            except Exception as error:  # the service failed for this ad: the next run writes it
                report.failed += 1
                report.retirements.append(f"listing {job.listing['id']} ({job.audience.slug}): not written, "
                                          f"{type(error).__name__}: {error}")
                continue
            if written.text is None:
                report.failed += 1
                continue
            report.fallbacks += written.fell_back
            notes = "; ".join(filter(None, [job.notes, "the template stood in: " + "; ".join(written.problems)
                                            if written.fell_back else ""]))
            rows.append({"listing_id": job.listing["id"], "area": area, "audience": job.audience.slug,
                         "variant": variant, "angle": job.angle.slug, "text": written.text, "model": generator,
                         "written_by": written.model,
                         "prompt_version": PROMPT_VERSION, "input_hash": job.input_hash,
                         "source_version": job.listing["version"], "examples": list(job.examples),
                         "notes": notes or None, "prompt_tokens": written.prompt_tokens,
                         "completion_tokens": written.completion_tokens})
    if rows:
        with engine.begin() as connection:
            connection.execute(tables.listing_ads.insert(), rows)
        report.generated += len(rows)
