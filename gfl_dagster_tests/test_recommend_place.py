"""The recommender's place signal on the real embedded Postgres: the listings nearest a user's are the ones a
brute-force scan finds, through listings_place_idx, and a listing's facts (its reviews included) come back
as ranking.Facts in one read."""

import time

from sqlalchemy import text

from gfl_dagster.db import queries
from gfl_dagster.listings.load import load_listings_csv
from gfl_dagster.recommendations import ranking
from gfl_dagster.recommendations.refresh import ProjectSources
from gfl_dagster_tests.conftest import BUNDLED_CSV


def test_the_listings_nearest_a_users_come_from_the_place_index(engine):
    load_listings_csv(engine, BUNDLED_CSV)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, latitude, longitude, room_type, price, number_of_reviews FROM listings")).all()
        places = [(rows[0].latitude, rows[0].longitude), (rows[len(rows) // 2].latitude, rows[len(rows) // 2].longitude)]
        sources = ProjectSources(connection, store=None)
        sources.near(places, 30)  # warm
        started = time.perf_counter()
        found = sources.near(places, 30)
        seconds = time.perf_counter() - started
        plan = "\n".join(row[0] for row in connection.execute(
            text(f"EXPLAIN {queries.LISTINGS_NEAR.text}"),
            {"latitudes": [lat for lat, _ in places], "longitudes": [lon for _, lon in places], "count": 30}))
        facts = sources.facts([rows[0].id, -1])
    expected = set()
    for latitude, longitude in places:
        by_distance = sorted(rows, key=lambda row: ((row.longitude - longitude) ** 2 + (row.latitude - latitude) ** 2,
                                                    row.id))
        expected |= {row.id for row in by_distance[:30]}
    assert found == expected and 30 < len(found) <= 60, "the 30 nearest each place, together"
    assert "listings_place_idx" in plan, plan
    assert seconds < 0.5, f"a nearest-listings query took {seconds:.3f}s"
    first = rows[0]
    assert facts == {first.id: ranking.Facts(first.latitude, first.longitude, first.room_type,
                                             float(first.price) if first.price is not None else None,
                                             float(first.number_of_reviews or 0))}
