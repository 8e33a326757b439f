"""`gfl bench loop`: do the ads learn what each audience responds to? Measured against a hidden truth.

A simulated market (feedback/market.py: a click probability per audience and angle, and a hidden
appeal per listing) meets three policies on the same people (common random numbers per seed):

- uniform: every angle a listing can lead with, shown in turn (at random, equally);
- learner: the project's own ads learner (ads/in_memory.py: the bandit, retirement and replacement
  that write_ads runs), starting from `variants` ads per listing and learning round by round;
- oracle: always the truth's best angle for the listing's audience.

It reports the click-through of each over the final quarter of impressions and over all of them,
the learner's and uniform's regret against the oracle (expected clicks lost, from the truth), the
learner's favoured angle per audience against the truth's best, its lift over uniform with a 95%
interval over seeds, and an off-policy estimate (IPW) of the learner's final-quarter click-through
from the uniform policy's logged propensities, beside the click-through measured.

Every impression, under every policy, goes through the serving path a person's does: the ad is chosen
(the learner's by `choose_ad`, the page's choice), the impression and its ad get impression ids from
`served` (the propensity signed in), the person sends back the ad's impression (and its click, if
any) as the page does, and `check_served`, the API's check, vouches for them before they are recorded:
the propensity the logs keep is the one the token carries. The events are kept in memory
(feedback/record.py's EventLog, to record_events' rule: one event per impression and kind), not in
Postgres: a round trip per impression would turn minutes into hours. The learner reads its evidence
from that log once per round, counted per ad as AD_STATS counts the table. Not exercised here: the
search that finds the listings (the market draws them) and the HTTP layer.
"""

from __future__ import annotations

import math
import secrets
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Hashable, Optional, Sequence

import click
import numpy as np

from gfl_dagster.ads.angles import Angle, angle_facts, available_angles, load_angles
from gfl_dagster.ads.audiences import Audience, Learning, ineligible_reason, load_audiences
from gfl_dagster.ads.in_memory import InMemoryLearner
from gfl_dagster.cli.common import print_json
from gfl_dagster.feedback.events import Event
from gfl_dagster.feedback.impressions import Signer, check_served, served
from gfl_dagster.feedback.market import ClickModel, Impression, Market, load_click_model
from gfl_dagster.feedback.record import EventLog
from gfl_dagster_bench.common import machine

POLICIES = ("uniform", "learner", "oracle")
GOALS = {"learner_vs_oracle": 0.85, "learner_vs_uniform": 1.3, "best_angle_found": 4, "ope_error": 0.15}
# Two-sided 95% Student t quantiles by degrees of freedom (no scipy for one table).
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        15: 2.131, 20: 2.086, 30: 2.042}


def market_rows(csv_path: Path, per_audience: int, audiences: Sequence[Audience], seed: int = 0) -> list[dict]:
    """Listings for the market: up to `per_audience` eligible ones for each audience, drawn from the file."""
    from gfl_dagster.listings.csv_rows import parse_csv

    rows = [{**row, "area": row["neighbourhood_group"] or row["neighbourhood"]} for row in parse_csv(csv_path).rows]
    rng = np.random.default_rng(seed)
    chosen: dict[Any, dict] = {}
    for audience in audiences:
        eligible = [row for row in rows if ineligible_reason(audience, row) is None]
        for index in rng.permutation(len(eligible))[:per_audience]:
            chosen[eligible[index]["id"]] = eligible[index]
    return list(chosen.values())


def _t95(df: int) -> float:
    return _T95.get(df) or next((_T95[k] for k in sorted(_T95) if k >= df), 1.96)


def interval(values: Sequence[float]) -> dict[str, float]:
    """Mean and its 95% interval over seeds (Student t); one seed: no interval."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return {"mean": mean, "low": mean, "high": mean}
    half = _t95(len(values) - 1) * float(np.std(values, ddof=1)) / math.sqrt(len(values))
    return {"mean": mean, "low": mean - half, "high": mean + half}


def serve(signer: Signer, log: EventLog, impression: Impression, ad_id: int, propensity: float,
          clicked: bool) -> float:
    """One impression through the serving path: a session, the listing and its ad served with impression ids,
    the ad's impression (and click) sent back and checked as the API checks them, recorded. Returns the
    propensity recorded: the one the impression id vouches for."""
    session = signer.new_session()
    hit = {"id": impression.listing_id, "ad": {"id": ad_id, "propensity": propensity}}
    served(signer, session, [hit])
    user, token = f"sim-{impression.audience}", hit["ad"]["impression_id"]
    sent = [Event("impression", user, impression.listing_id, ad_id, None, None, token, propensity)]
    if clicked:
        sent.append(Event("click", user, impression.listing_id, ad_id, None, None, token))
    checked, problems = check_served(sent, signer, session, may_book=False)
    if problems:
        raise RuntimeError(f"the market served what the API refuses: {problems}")
    log.record(checked)
    return checked[0].propensity


class _Run:
    """One policy's impressions: clicks per round, expected clicks lost against the oracle, angles shown."""

    def __init__(self, rounds: int):
        self.clicks = np.zeros(rounds)
        self.shown = np.zeros(rounds)
        self.regret = 0.0
        self.angles: list[Counter] = [Counter() for _ in range(rounds)]

    def ctr(self, rounds: slice) -> float:
        return float(self.clicks[rounds].sum() / max(self.shown[rounds].sum(), 1))


def run_seed(rows: Sequence[dict], audiences: Sequence[Audience], angles: Sequence[Angle], learning: Learning,
             truth: ClickModel, impressions: int, rounds: int, seed: int) -> dict[str, Any]:
    """The three policies on one seed's market; figures for that seed."""
    simulated = [a for a in audiences if a.slug in truth.probabilities]
    offered = {row["id"]: [a.slug for a in available_angles(angles, angle_facts(row))] for row in rows}
    listings = {a.slug: [row["id"] for row in rows if ineligible_reason(a, row) is None] for a in simulated}
    market = Market(truth, {slug: ids for slug, ids in listings.items() if ids}, seed)
    best = {(slug, listing): truth.best_angle(slug, offered[listing]) for slug, ids in listings.items()
            for listing in ids}
    final = slice(rounds - max(1, rounds // 4), rounds)
    rng = np.random.default_rng([seed, 4])

    def uniform(impression: Impression) -> tuple[str, float]:
        choices = offered[impression.listing_id]
        return choices[int(rng.integers(len(choices)))], 1 / len(choices)

    def oracle(impression: Impression) -> tuple[str, float]:
        return best[(impression.audience, impression.listing_id)], 1.0

    learner = InMemoryLearner(rows, simulated, angles, learning, seed)

    def learned(impression: Impression) -> tuple[Any, float]:
        return learner.choose(impression.audience, impression.listing_id)

    # Uniform and the oracle show one fixed ad per listing and angle; the learner, its own.
    fixed_ads = {key: number for number, key in enumerate(
        ((listing, angle) for listing in offered for angle in offered[listing]), start=1)}
    signer = Signer(secrets.token_bytes(32))
    logs: list[tuple[Impression, str, float, bool]] = []
    snapshots: list[dict[tuple[str, Hashable], dict[str, float]]] = []

    def play(choose: Callable, end_round: Optional[Callable[[EventLog], Any]] = None, log: bool = False,
             snapshot: bool = False) -> _Run:
        run, events = _Run(rounds), EventLog()
        for number, people in enumerate(market.rounds(impressions, rounds)):
            if snapshot and number >= final.start:
                snapshots.append({(slug, listing): learner.policy(slug, listing)
                                  for slug, ids in market.listings.items() for listing in ids})
            for impression in people:
                shown, propensity = choose(impression)
                angle, ad_id = (shown, fixed_ads[(impression.listing_id, shown)]) if isinstance(shown, str) \
                    else (shown.angle, shown.id)
                clicked = market.clicked(impression, angle)
                recorded = serve(signer, events, impression, ad_id, propensity, clicked)
                run.clicks[number] += clicked
                run.shown[number] += 1
                run.angles[number][(impression.audience, angle)] += 1
                run.regret += (market.click_probability(impression, best[(impression.audience, impression.listing_id)])
                               - market.click_probability(impression, angle))
                if log:
                    logs.append((impression, angle, recorded, clicked))
            if end_round:
                end_round(events)
        return run

    started = time.monotonic()
    runs = {"uniform": play(uniform, log=True),
            "learner": play(learned, lambda events: learner.end_round(events.ad_counts()), snapshot=True),
            "oracle": play(oracle)}
    seconds = time.monotonic() - started

    shown_final = Counter()
    for counter in runs["learner"].angles[final]:
        shown_final.update(counter)
    favoured = {slug: max((angle for (a, angle) in shown_final if a == slug),
                          key=lambda angle: (shown_final[(slug, angle)], angle)) for slug in market.listings}
    reachable = {slug: sorted({a for listing in ids for a in offered[listing]})
                 for slug, ids in market.listings.items()}
    truth_best = {slug: truth.best_angle(slug, reachable[slug]) for slug in market.listings}

    # Off-policy: the learner's final-quarter policies, weighed on the uniform policy's logs (IPW).
    weights = np.array([np.mean([snapshot[(imp.audience, imp.listing_id)].get(angle, 0.0) for snapshot in snapshots])
                        / propensity for imp, angle, propensity, _ in logs])
    rewards = np.array([clicked for *_, clicked in logs], dtype=float)
    terms = weights * rewards
    ipw = float(terms.mean())
    measured = runs["learner"].ctr(final)
    every = slice(0, rounds)
    total_shown = runs["oracle"].shown.sum()
    return {
        "seed": seed,
        "ctr": {name: runs[name].ctr(final) for name in POLICIES},
        "cumulative_ctr": {name: runs[name].ctr(every) for name in POLICIES},
        "ctr_per_round": {name: (runs[name].clicks / np.maximum(runs[name].shown, 1)).tolist() for name in POLICIES},
        "regret": {name: {"expected_clicks_lost": runs[name].regret,
                          "per_1000_impressions": 1000 * runs[name].regret / total_shown}
                   for name in ("learner", "uniform")},
        "favoured_angle": favoured,
        "best_angle": truth_best,
        "best_angle_found": sum(favoured[slug] == truth_best[slug] for slug in favoured),
        "ope": {"estimator": "IPW", "learner_ctr_estimated": ipw,
                "interval_95": [ipw - 1.96 * float(terms.std(ddof=1)) / math.sqrt(len(terms)),
                                ipw + 1.96 * float(terms.std(ddof=1)) / math.sqrt(len(terms))],
                "learner_ctr_measured": measured,
                "relative_error": (ipw - measured) / measured if measured else None,
                "logged_impressions": len(logs), "snapshots": len(snapshots)},
        "retirements": len(learner.retirements),
        "ads_written": len(learner.ads),
        "seconds": seconds,
    }


def summarize(per_seed: Sequence[dict], audiences: int, settings: dict) -> dict[str, Any]:
    """The figures over seeds, and the goals met or not."""
    mean = lambda key, name: float(np.mean([s[key][name] for s in per_seed]))  # noqa: E731
    ctr = {name: mean("ctr", name) for name in POLICIES}
    lift = interval([s["ctr"]["learner"] / s["ctr"]["uniform"] for s in per_seed])
    vs_oracle = interval([s["ctr"]["learner"] / s["ctr"]["oracle"] for s in per_seed])
    ope_error = [abs(s["ope"]["relative_error"]) for s in per_seed]
    found = [s["best_angle_found"] for s in per_seed]
    return {
        **settings,
        "ctr": ctr,
        "cumulative_ctr": {name: mean("cumulative_ctr", name) for name in POLICIES},
        "regret": {name: {key: float(np.mean([s["regret"][name][key] for s in per_seed]))
                          for key in ("expected_clicks_lost", "per_1000_impressions")}
                   for name in ("learner", "uniform")},
        "favoured_angle": per_seed[0]["favoured_angle"] if len(per_seed) == 1 else
        {slug: Counter(s["favoured_angle"][slug] for s in per_seed).most_common(1)[0][0]
         for slug in per_seed[0]["favoured_angle"]},
        "best_angle": per_seed[0]["best_angle"],
        "best_angle_found": {"per_seed": found, "audiences": audiences},
        "lift_vs_uniform": lift,
        "learner_vs_oracle": vs_oracle,
        "ope": {"estimator": "IPW on the uniform policy's logs (propensity 1/angles offered)",
                "learner_ctr_estimated": float(np.mean([s["ope"]["learner_ctr_estimated"] for s in per_seed])),
                "learner_ctr_measured": ctr["learner"],
                "relative_error_per_seed": [s["ope"]["relative_error"] for s in per_seed],
                "per_seed": [s["ope"] for s in per_seed]},
        "goals": {
            f"learner >= {GOALS['learner_vs_oracle']}x oracle (final quarter)":
                vs_oracle["mean"] >= GOALS["learner_vs_oracle"],
            f"learner >= {GOALS['learner_vs_uniform']}x uniform (final quarter)":
                lift["mean"] >= GOALS["learner_vs_uniform"],
            f"best angle found for >= {GOALS['best_angle_found']} of {audiences} audiences (every seed)":
                min(found) >= min(GOALS["best_angle_found"], audiences),
            f"OPE within {GOALS['ope_error']:.0%} of measured (every seed)": max(ope_error) <= GOALS["ope_error"],
        },
        "ctr_per_round": {name: np.mean([s["ctr_per_round"][name] for s in per_seed], axis=0).tolist()
                          for name in POLICIES},
        "retirements_per_seed": [s["retirements"] for s in per_seed],
        "seconds_per_seed": [round(s["seconds"], 1) for s in per_seed],
    }


def bench_loop_figures(impressions: int, seeds: int, preferences: Optional[Path], rounds: int,
                       listings: int, csv_path: Optional[Path] = None,
                       progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    from gfl_dagster import settings

    audiences, learning = load_audiences()
    angles = load_angles()
    truth = load_click_model(preferences, [a.slug for a in audiences], [a.slug for a in angles])
    rows = market_rows(csv_path or settings.default_csv_path(), listings, audiences)
    per_seed = []
    for seed in range(seeds):
        per_seed.append(run_seed(rows, audiences, angles, learning, truth, impressions, rounds, seed))
        progress(f"seed {seed}: ctr {', '.join(f'{k} {v:.4f}' for k, v in per_seed[-1]['ctr'].items())}, "
                 f"favoured {per_seed[-1]['favoured_angle']} ({per_seed[-1]['seconds']:.0f}s)")
    return summarize(per_seed, len([a for a in audiences if a.slug in truth.probabilities]), {
        "impressions_per_audience": impressions, "seeds": seeds, "rounds": rounds,
        "listings": len(rows), "preferences": str(preferences) if preferences else "default (market_truth.toml)",
        "machine": machine()})


def write_png(figures: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(8, 4.5))
    for name in POLICIES:
        series = figures["ctr_per_round"][name]
        axes.plot(range(1, len(series) + 1), [100 * v for v in series], label=name)
    axes.set_xlabel(f"round ({figures['impressions_per_audience'] // figures['rounds']:,} impressions per audience)")
    axes.set_ylabel("click-through (%)")
    axes.set_title(f"Ads that learn: click-through per round, mean of {figures['seeds']} seed(s)")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot.close(figure)


@click.command("loop")
@click.option("--impressions", default=20_000, show_default=True, type=click.IntRange(min=100),
              help="Impressions per audience, per policy and seed.")
@click.option("--seeds", default=5, show_default=True, type=click.IntRange(min=1), help="Seeds (markets) to run.")
@click.option("--preferences", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The market's hidden truth: TOML, one table per audience slug, `angle = probability` "
                   "(default: gfl_dagster/feedback/market_truth.toml).")
@click.option("--rounds", default=40, show_default=True, type=click.IntRange(min=4),
              help="Rounds: the learner re-reads its evidence and retires and replaces ads after each.")
@click.option("--listings", default=200, show_default=True, type=click.IntRange(min=1),
              help="Eligible listings per audience drawn from the listings file.")
@click.option("--csv", "csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Listings file (default: the bundled one).")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a chart of click-through per round for the three policies here.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_loop(impressions: int, seeds: int, preferences: Optional[Path], rounds: int, listings: int,
               csv_path: Optional[Path], png_path: Optional[Path], as_json: bool) -> None:
    """The ads learner in a simulated market with a hidden truth, against uniform rotation and the oracle.

    Runs in memory (no database, no model), every impression through the serving path's own
    functions (choose_ad, impression ids, the API's check): the truth is a click probability per
    audience and angle that only the market reads. Goals: learner >= 0.85x oracle and >= 1.3x uniform
    over the final quarter, the best angle found for >= 4 of 5 audiences, the off-policy (IPW)
    estimate within 15% of the learner's measured click-through.
    """
    try:
        figures = bench_loop_figures(impressions, seeds, preferences, rounds, listings, csv_path,
                                     lambda line: click.echo(line, err=True))
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if png_path:
        write_png(figures, png_path)
        figures["png"] = str(png_path)
    if as_json:
        print_json(figures)
        return
    ctr = figures["ctr"]
    click.echo(
        f"{figures['impressions_per_audience']:,} impressions per audience x {figures['seeds']} seed(s), "
        f"{figures['listings']} listings, on {figures['machine']}\n"
        f"  final-quarter ctr: uniform {ctr['uniform']:.2%}, learner {ctr['learner']:.2%}, "
        f"oracle {ctr['oracle']:.2%}\n"
        f"  learner / oracle {figures['learner_vs_oracle']['mean']:.3f}; lift vs uniform "
        f"{figures['lift_vs_uniform']['mean']:.3f} (95% {figures['lift_vs_uniform']['low']:.3f}.."
        f"{figures['lift_vs_uniform']['high']:.3f})\n"
        f"  favoured angle: {figures['favoured_angle']}\n  truth's best:   {figures['best_angle']}\n"
        f"  OPE (IPW) {figures['ope']['learner_ctr_estimated']:.2%} vs measured "
        f"{figures['ope']['learner_ctr_measured']:.2%}\n"
        + "\n".join(f"  {'met' if met else 'MISSED'}: {goal}" for goal, met in figures["goals"].items()))
