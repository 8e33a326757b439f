"""The simulated market and `gfl bench loop`: the learner's outcome follows a hidden truth it never reads.

Small budgets (the benchmark runs 20,000 impressions per audience and 5 seeds; BENCHMARKS.md), fixed seeds.
"""

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import gfl_dagster
from gfl_dagster.ads.angles import load_angles
from gfl_dagster.ads.audiences import load_audiences
from gfl_dagster.feedback.market import load_click_model, random_click_model
from gfl_dagster_bench.cli import bench
from gfl_dagster_bench.loop import market_rows, run_seed
from gfl_dagster_tests.conftest import BUNDLED_CSV

AUDIENCES, LEARNING = load_audiences()
ANGLES = load_angles()
SLUGS = [a.slug for a in AUDIENCES]
ROWS = market_rows(BUNDLED_CSV, 60, AUDIENCES)
REACHABLE = ["price", "place", "space", "reviews", "stay"]  # the summary file has no amenities
IMPRESSIONS, ROUNDS = 10_000, 12

TRUTHS = Path(__file__).with_name("truths")  # written by hand for the tests and the benchmark
# The default truth (feedback/market_truth.toml) and truths/reversed.toml: each audience favours another angle.
FAVOURS_DEFAULT = {"young_couple": "place", "family_with_kids": "space", "business_traveller": "stay",
                   "budget_backpacker": "price", "older_couple": "reviews"}
FAVOURS_REVERSED = {"young_couple": "price", "family_with_kids": "stay", "business_traveller": "place",
                    "budget_backpacker": "reviews", "older_couple": "space"}


def run(truth, seed=0):
    return run_seed(ROWS, AUDIENCES, ANGLES, LEARNING, truth, IMPRESSIONS, ROUNDS, seed)


def load(path):
    return load_click_model(path, SLUGS, [a.slug for a in ANGLES])


def test_the_favoured_angles_follow_the_truth_when_the_truth_changes():
    default, reversed_ = run(load(None)), run(load(TRUTHS / "reversed.toml"))
    assert default["best_angle"] == FAVOURS_DEFAULT and reversed_["best_angle"] == FAVOURS_REVERSED
    for outcome, favours in ((default, FAVOURS_DEFAULT), (reversed_, FAVOURS_REVERSED)):
        assert sum(outcome["favoured_angle"][s] == favours[s] for s in SLUGS) >= 4, outcome["favoured_angle"]
        ctr = outcome["ctr"]
        assert ctr["learner"] >= 0.85 * ctr["oracle"] and ctr["learner"] >= 1.3 * ctr["uniform"], ctr
    assert sum(default["favoured_angle"][s] != reversed_["favoured_angle"][s] for s in SLUGS) >= 4


def test_truths_nobody_wrote():
    for seed in (21, 22):
        outcome = run(random_click_model(SLUGS, REACHABLE, np.random.default_rng(seed)), seed=1)
        ctr = outcome["ctr"]
        assert outcome["best_angle_found"] >= 4, (outcome["favoured_angle"], outcome["best_angle"])
        assert ctr["learner"] >= 0.85 * ctr["oracle"] and ctr["learner"] > ctr["uniform"], ctr
        # Off-policy: the uniform logs estimate the learner's click-through without showing its ads.
        assert abs(outcome["ope"]["relative_error"]) <= 0.2, outcome["ope"]
        assert outcome["regret"]["learner"]["expected_clicks_lost"] < outcome["regret"]["uniform"][
            "expected_clicks_lost"] / 2


def test_a_close_call_is_not_lost_on_a_small_budget():
    """truths/close_call.toml: the best angle 15% ahead at 1.5% to 3.5% click-through. 10,000 impressions per
    audience cannot always tell 3.5% from 3.0%: whatever it favours, the learner must not lose."""
    outcome = run(load(TRUTHS / "close_call.toml"), seed=1)
    ctr = outcome["ctr"]
    assert ctr["learner"] >= 0.85 * ctr["oracle"] and ctr["learner"] > ctr["uniform"], ctr
    assert outcome["regret"]["learner"]["expected_clicks_lost"] < outcome["regret"]["uniform"]["expected_clicks_lost"]


def test_the_same_seed_gives_the_same_outcome():
    truth = load(None)
    first, again = [run_seed(ROWS[:80], AUDIENCES, ANGLES, LEARNING, truth, 2000, 6, 3) for _ in range(2)]
    assert {k: first[k] for k in ("ctr", "favoured_angle", "retirements", "ope")} == \
        {k: again[k] for k in ("ctr", "favoured_angle", "retirements", "ope")}


def test_the_learner_never_reads_the_market():
    """The hidden truth stays hidden: no module of the ads learner or the recommender imports the market or the
    simulated people's personas, or names their files."""
    package = Path(gfl_dagster.__file__).parent
    learner = list((package / "ads").glob("*.py")) + list((package / "recommendations").glob("*.py"))
    assert len(learner) > 5
    for path in learner:
        source = path.read_text(encoding="utf-8")
        imported = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported |= {node.module or ""} | {f"{node.module}.{alias.name}" for alias in node.names}
        assert not [name for name in imported if "market" in name or "personas" in name], (path, imported)
        assert "market_truth" not in source and "personas.toml" not in source, path


@pytest.mark.parametrize("content, message", [
    ("[tourists]\nprice = 0.1\n", "unknown audience 'tourists'"),
    ("[young_couple]\nview = 0.1\n", "[young_couple] unknown angle 'view'"),
    ("[young_couple]\nprice = 1.5\n", "[young_couple] price must be a probability between 0 and 1"),
    ("[young_couple]\nprice = \n", "not valid TOML"),
    ("", "no audiences"),
])
def test_a_bad_preferences_file_gives_a_clear_error(tmp_path, content, message):
    path = tmp_path / "truth.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as error:
        load(path)
    assert str(path) in str(error.value) and message in str(error.value), str(error.value)
    result = CliRunner().invoke(bench, ["loop", "--preferences", str(path), "--impressions", "100"])
    assert result.exit_code == 2 and message in result.output, result.output


def test_a_truth_may_leave_angles_out_and_covers_only_its_audiences(tmp_path):
    path = tmp_path / "truth.toml"
    path.write_text("[young_couple]\nstay = 0.09\nprice = 0.02\n", encoding="utf-8")
    truth = load(path)
    assert truth.probability("young_couple", "place") == 0.02 and truth.best_angle("young_couple", REACHABLE) == "stay"
    outcome = run_seed(ROWS, AUDIENCES, ANGLES, LEARNING, truth, 2000, 6, 0)
    assert set(outcome["favoured_angle"]) == {"young_couple"}


def test_gfl_bench_loop_prints_the_figures_and_draws_the_chart(tmp_path):
    png = tmp_path / "loop.png"
    result = CliRunner().invoke(bench, ["loop", "--impressions", "800", "--seeds", "2", "--rounds", "4",
                                        "--listings", "15", "--json", "--png", str(png)])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert set(figures["ctr"]) == {"uniform", "learner", "oracle"} and set(figures["cumulative_ctr"]) == set(
        figures["ctr"])
    assert set(figures["regret"]) == {"learner", "uniform"} and set(figures["favoured_angle"]) == set(SLUGS)
    assert figures["lift_vs_uniform"]["low"] <= figures["lift_vs_uniform"]["mean"] <= figures["lift_vs_uniform"][
        "high"]
    assert figures["ope"]["learner_ctr_measured"] == figures["ctr"]["learner"]
    assert len(figures["goals"]) == 4 and len(figures["ctr_per_round"]["learner"]) == 4
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_simulated_person_views_by_fit_and_a_fact_the_listing_leaves_out_is_no_evidence():
    from gfl_dagster.feedback.personas import load_personas
    from gfl_dagster.feedback.simulated_users import User, fit

    personas = {persona.audience: persona for persona in load_personas()}
    family = User("sim-1", personas["family_with_kids"], "Brooklyn", "s")
    summary = {"neighbourhood_group": "Brooklyn", "neighbourhood": "Williamsburg", "room_type": "Entire home/apt",
               "price": 180}  # the summary file: no guests, rating or amenities
    assert fit(summary, family) == 1.0
    assert fit({**summary, "room_type": "Private room"}, family) == 0.5
    assert fit({**summary, "neighbourhood_group": "Queens"}, family) == 0.5
    detailed = {**summary, "accommodates": 2, "amenity_features": ["wifi"], "review_scores_rating": None}
    assert fit(detailed, family) == 0.5, "too small, no kitchen"
    assert fit({**detailed, "accommodates": 5, "amenity_features": ["kitchen", "wifi"]}, family) == 1.0
    backpacker = User("sim-2", personas["budget_backpacker"], "Brooklyn", "s")
    assert fit({**summary, "room_type": "Private room", "price": 60}, backpacker) == 1.0
    assert fit({**summary, "room_type": "Private room", "price": 95}, backpacker) == 2 / 3
    assert fit({**summary, "room_type": "Private room", "price": None}, backpacker) == 1.0


def test_the_event_log_counts_each_ads_evidence_and_refuses_a_replay():
    from gfl_dagster.feedback.events import Event, EventError
    from gfl_dagster.feedback.record import EventLog

    log = EventLog()
    log.record([Event("impression", "u", 1, 7, None, None, "i1", 0.5), Event("click", "u", 1, 7, None, None, "i1")])
    log.record([Event("impression", "u", 1, 7, None, None, "i2", 0.5), Event("impression", "u", 1, None, None, None,
                                                                            "i3")])
    for replay in ([Event("click", "u", 1, 7, None, None, "i1")],
                   [Event("click", "u", 1, 7, None, None, "i2"), Event("click", "u", 1, 7, None, None, "i2")]):
        with pytest.raises(EventError, match="already recorded: the click of impression_id i[12]"):
            log.record(replay)
    assert log.ad_counts() == {7: (2, 1)}, "a refused batch stores nothing"


def test_every_impression_of_the_market_passes_the_apis_check(monkeypatch):
    """`gfl bench loop` serves as the page does: each impression of each policy gets its impression id from
    `served` and comes back through `check_served`; the propensity the off-policy estimate weighs by is the
    one the token carries. A check that refused everything would stop the market, not be bypassed."""
    from gfl_dagster_bench import loop
    from gfl_dagster.feedback import impressions

    checked = []

    def counting(events, *args, **kwargs):
        checked.append(events)
        return impressions.check_served(events, *args, **kwargs)

    monkeypatch.setattr(loop, "check_served", counting)
    outcome = run_seed(ROWS[:80], AUDIENCES, ANGLES, LEARNING, load(None), 400, 4, 0)
    audiences = len(outcome["favoured_angle"])
    assert len(checked) == 3 * 400 * audiences, "one check per impression, for each policy"
    assert all(events[0].kind == "impression" and events[0].impression_id and 0 < events[0].propensity <= 1
               for events in checked)
    assert sum(len(events) == 2 and events[1].kind == "click" for events in checked) > 0

    def forged(events, signer, session, **kwargs):  # what a forger's client would send: another server's ids
        return impressions.check_served(events, impressions.Signer(b"forger" * 6), session, **kwargs)

    monkeypatch.setattr(loop, "check_served", forged)
    with pytest.raises(RuntimeError, match="the market served what the API refuses"):
        run_seed(ROWS[:80], AUDIENCES, ANGLES, LEARNING, load(None), 400, 4, 0)
