"""Feedback events: validation (pure), recording against the real Postgres, the CLI and the JSON API."""

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from starlette.testclient import TestClient

from gfl_dagster.cli.main import cli
from gfl_dagster.feedback.events import Event, EventError, search_event, validate_event
from gfl_dagster.feedback.record import record_events
from gfl_dagster.listings.load import load_listings_csv
from gfl_dagster_tests.conftest import BUNDLED_CSV
from gfl_dagster_tests.test_search_page import app_for, synced_slice

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("raw, problem", [
    ({"kind": "like", "user_id": "u1", "listing_id": 1}, "kind 'like' is not one of"),
    ({"kind": "view", "listing_id": 1}, "user_id is missing"),
    ({"kind": "view", "user_id": "   ", "listing_id": 1}, "user_id is missing"),
    ({"kind": "view", "user_id": "u1"}, "a view event needs a listing_id"),
    ({"kind": "click", "user_id": "u1", "listing_id": "abc"}, "listing_id must be a whole number"),
    ({"kind": "click", "user_id": "u1", "listing_id": -3}, "listing_id must be positive"),
    ({"kind": "search", "user_id": "u1"}, "a search event needs its query"),
    ({"kind": "book", "user_id": "u1", "listing_id": 1, "occurred_at": "2027-01-01T00:00:00Z"}, "in the future"),
    ({"kind": "book", "user_id": "u1", "listing_id": 1, "occurred_at": "yesterday"}, "ISO 8601"),
    ({"kind": "view", "user_id": "u1", "listing_id": 1, "price": 1}, "unknown field(s) price"),
    ({"kind": "view", "user_id": "u" * 200, "listing_id": 1}, "at most 128 characters"),
    (["view"], "an event is an object"),
    ({"kind": "view", "user_id": "u1", "listing_id": 1, "impression_id": 7}, "impression_id must be the text"),
    ({"kind": "view", "user_id": "u1", "listing_id": 1, "impression_id": "x" * 201}, "at most 200 characters"),
    ({"kind": "click", "user_id": "u1", "listing_id": 1, "propensity": 0.5}, "propensity belongs to impression"),
    ({"kind": "impression", "user_id": "u1", "listing_id": 1, "propensity": 0}, "propensity must be a number"),
    ({"kind": "impression", "user_id": "u1", "listing_id": 1, "propensity": "nan"}, "propensity must be a number"),
    ({"kind": "impression", "user_id": "u1", "listing_id": 1, "propensity": True}, "propensity must be a number"),
])
def test_invalid_events_are_refused_naming_the_field(raw, problem):
    with pytest.raises(EventError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        validate_event(raw, NOW)


def test_a_valid_event_keeps_its_fields_and_a_small_clock_skew_is_accepted():
    event = validate_event({"kind": "CLICK", "user_id": " u1 ", "listing_id": "2595", "ad_id": 7,
                            "occurred_at": (NOW + timedelta(seconds=30)).isoformat()}, NOW)
    assert (event.kind, event.user_id, event.listing_id, event.ad_id) == ("click", "u1", 2595, 7)
    assert event.occurred_at == NOW + timedelta(seconds=30)


def test_a_search_is_recorded_as_one_event_its_impressions_are_the_drawers():
    event = search_event(" u1 ", "quiet loft " + "x" * 600)
    assert (event.kind, event.user_id, event.listing_id, len(event.query)) == ("search", "u1", None, 500)


def _count(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM feedback_events")).scalar_one()


def test_events_about_unknown_listings_store_nothing(engine):
    load_listings_csv(engine, BUNDLED_CSV, limit=5)
    with engine.connect() as connection:
        known = connection.execute(text("SELECT min(id) FROM listings")).scalar_one()
    good = Event("view", "u1", known)
    with pytest.raises(EventError, match="unknown listing_id 999999999999"):
        record_events(engine, [good, Event("click", "u1", 999999999999)])
    assert _count(engine) == 0, "a batch is stored whole or not at all"
    assert record_events(engine, [good]) == 1 and _count(engine) == 1


def test_a_burst_of_ten_thousand_events_is_one_cheap_insert(engine):
    load_listings_csv(engine, BUNDLED_CSV, limit=20)
    with engine.connect() as connection:
        ids = [row[0] for row in connection.execute(text("SELECT id FROM listings"))]
    events = [Event("impression", f"user-{n % 50}", ids[n % len(ids)]) for n in range(10_000)]
    started = time.perf_counter()
    assert record_events(engine, events) == 10_000
    seconds = time.perf_counter() - started
    print(f"10,000 events recorded in {seconds:.2f}s")
    assert _count(engine) == 10_000


def test_cli_records_an_event_and_refuses_a_bad_one(engine):
    load_listings_csv(engine, BUNDLED_CSV, limit=5)
    with engine.connect() as connection:
        listing_id = connection.execute(text("SELECT min(id) FROM listings")).scalar_one()
    runner = CliRunner()
    done = runner.invoke(cli, ["feedback", "click", "--user", "u9", "--listing", str(listing_id)])
    assert done.exit_code == 0, done.output
    assert "recorded 1 event" in done.output
    refused = runner.invoke(cli, ["feedback", "book", "--user", "u9", "--listing", "1",
                                 "--at", "2999-01-01T00:00:00"])
    assert refused.exit_code == 2 and "in the future" in refused.output
    assert _count(engine) == 1


def test_cli_file_is_validated_whole_before_anything_is_stored(engine, tmp_path):
    load_listings_csv(engine, BUNDLED_CSV, limit=5)
    with engine.connect() as connection:
        listing_id = connection.execute(text("SELECT min(id) FROM listings")).scalar_one()
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"kind": "view", "user_id": "u1", "listing_id": listing_id}) + "\n"
                    + json.dumps({"kind": "view", "listing_id": listing_id}) + "\n")
    done = CliRunner().invoke(cli, ["feedback", "--file", str(path)])
    assert done.exit_code == 2 and "line 2: user_id is missing" in done.output
    assert _count(engine) == 0


def test_api_records_events_and_searches_and_refuses_bad_ones(engine, resources):
    synced_slice(engine, resources, rows=40)
    with TestClient(app_for(resources)) as client:
        hits = client.get("/api/search", params={"text": "quiet room", "limit": 3, "user": "u2"}).json()["hits"]
        listing_id, seen = hits[0]["id"], hits[0]["impression_id"]
        ok = client.post("/api/events", json=[
            {"kind": "view", "user_id": "u1", "listing_id": listing_id, "impression_id": seen},
            {"kind": "save", "user_id": "u1", "listing_id": listing_id, "impression_id": seen}])
        assert ok.status_code == 200 and ok.json() == {"recorded": 2, "refused": 0}
        for body, problem in (({"kind": "view", "user_id": "u1", "listing_id": 424242424242}, "impression_id"),
                              ({"kind": "nope", "user_id": "u1"}, "kind 'nope'"),
                              ({"kind": "view", "listing_id": listing_id}, "user_id is missing")):
            refused = client.post("/api/events", json=body)
            assert refused.status_code == 400 and problem in refused.json()["error"]
            assert refused.json()["refused"] == 1
        assert client.post("/api/events", content=b"{not json").status_code == 400
        assert client.post("/api/events", content=b"[" + b" " * 70_000 + b"]").status_code == 413
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT kind, user_id, listing_id FROM feedback_events "
                                       "WHERE user_id = 'u2' ORDER BY id")).all()
    assert [row.kind for row in rows] == ["search"], "the page posts the impressions of what it drew"
    assert _count(engine) == 1 + 2


def test_a_clients_budget_refills_over_time_and_is_its_own():
    from gfl_dagster.web.rate_limit import RateLimit

    now = [0.0]
    budget = RateLimit(per_second=2.0, burst=3, clock=lambda: now[0])
    assert [budget.wait_s("a") for _ in range(3)] == [None, None, None]
    wait = budget.wait_s("a")
    assert wait == pytest.approx(0.5) and RateLimit.retry_after(wait) == "1"
    assert budget.wait_s("b") is None, "another client has its own budget"
    now[0] += 0.5
    assert budget.wait_s("a") is None and budget.wait_s("a") is not None


def test_the_event_api_answers_429_with_retry_after_past_the_budget(engine, resources):
    from gfl_dagster.web.app import create_app
    from gfl_dagster.web.rate_limit import RateLimit

    synced_slice(engine, resources, rows=20)
    app = create_app(database=resources["database"], embedder=resources["embedder"],
                     vector_store=resources["vector_store"], model_client=resources["model_client"],
                     event_budget=RateLimit(per_second=0.01, burst=5))
    with TestClient(app) as client:
        hits = client.get("/api/search", params={"text": "room", "limit": 5}).json()["hits"]
        events = [{"kind": "impression", "user_id": "u1", "listing_id": hit["id"], "impression_id": hit["impression_id"]}
                  for hit in hits]
        assert len(events) == 5
        first = client.post("/api/events", json=events[:2])
        over = client.post("/api/events", json=events[2:5])  # 3 events; 3 of the 5 are left: passes
        last = client.post("/api/events", json=events[:1])  # none left
        too_many = client.post("/api/events", json=events * 2)  # 10 events never fit a budget of 5
    assert [r.status_code for r in (first, over, last, too_many)] == [200, 200, 429, 429]
    assert int(last.headers["retry-after"]) >= 1 and "too many" in last.json()["error"]
    assert last.json()["refused"] == 1 and too_many.json()["refused"] == 10
    assert "10 events in one request are over this client's budget of 5" in too_many.json()["error"]
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM feedback_events WHERE kind = 'impression'")).scalar()
    assert stored == 5, "the budget counts events, and a refused request stores nothing"
