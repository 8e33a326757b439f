"""CSV -> listings against the real embedded Postgres: upsert, idempotence, rejects, real files."""

import time

from sqlalchemy import text

from gfl_dagster.listings.load import load_listings_csv
from gfl_dagster_tests.conftest import BUNDLED_CSV, HEADER_18, shared_csv, write_csv


def _versions(engine):
    with engine.connect() as connection:
        return dict(connection.execute(text("SELECT id, version FROM listings")).all())


def test_load_is_an_idempotent_upsert(engine):
    first = load_listings_csv(engine, BUNDLED_CSV, limit=300)
    assert (first.rows_read, first.inserted, first.updated, first.rejected) == (300, 300, 0, 0)
    before = _versions(engine)
    again = load_listings_csv(engine, BUNDLED_CSV, limit=300)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 300)
    assert _versions(engine) == before, "reloading must not bump any version"
    assert set(first.areas) == {"Manhattan", "Brooklyn", "Queens", "Bronx", "Staten Island"}


def test_changed_rows_are_updated_and_get_a_new_version(engine, tmp_path):
    row = "5,Loft,1,H,Brooklyn,Bushwick,40.7,-73.9,Private room,{price},1,0,,,1,0,0,"
    load_listings_csv(engine, write_csv(tmp_path / "a.csv", HEADER_18, row.format(price=60)))
    version = _versions(engine)[5]
    report = load_listings_csv(engine, write_csv(tmp_path / "b.csv", HEADER_18, row.format(price=70)))
    assert (report.inserted, report.updated) == (0, 1)
    assert _versions(engine)[5] > version


def test_bad_rows_land_in_rejects_with_line_and_reason(engine, tmp_path):
    path = write_csv(tmp_path / "mixed.csv", HEADER_18,
                     "5,Loft,1,H,Brooklyn,Bushwick,40.7,-73.9,Private room,60,1,0,,,1,0,0,",
                     "x6,Bad id,1,H,Brooklyn,Bushwick,40.7,-73.9,Private room,60,1,0,,,1,0,0,",
                     "7,Bad lat,1,H,Brooklyn,Bushwick,140.7,-73.9,Private room,60,1,0,,,1,0,0,")
    report = load_listings_csv(engine, path)
    assert (report.inserted, report.rejected) == (1, 2)
    load_listings_csv(engine, path)  # loading again must not duplicate rejects
    with engine.connect() as connection:
        rejects = connection.execute(text(
            "SELECT line_number, listing_id, reason, raw->>'name' FROM listing_rejects ORDER BY line_number")).all()
    assert [(r[0], r[1], r[3]) for r in rejects] == [(3, "x6", "Bad id"), (4, "7", "Bad lat")]
    assert "id 'x6' is not a whole number" in rejects[0][2]
    assert "latitude '140.7' is outside" in rejects[1][2]


def test_sixteen_column_2019_file_loads_in_full(engine):
    started = time.monotonic()
    report = load_listings_csv(engine, shared_csv("AB_NYC_2019.csv"))
    seconds = time.monotonic() - started
    assert report.rows_read == 48895
    assert report.inserted + report.rejected == 48895
    assert report.rejected < 50, report.rejected
    assert "number_of_reviews_ltm" in report.missing_columns
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM listings")).scalar_one() == report.inserted
        rejected = connection.execute(text("SELECT count(*) FROM listing_rejects")).scalar_one()
    assert rejected == report.rejected
    print(f"loaded 48,895 rows in {seconds:.1f}s")


def test_barcelona_file_loads_with_districts_as_areas(engine):
    report = load_listings_csv(engine, shared_csv("insideairbnb_barcelona_2021-10.csv"))
    assert report.inserted + report.rejected == 16055
    assert "Eixample" in report.areas and "Gràcia" in report.areas
    assert len(report.areas) == 10


def test_a_city_without_groups_falls_back_to_neighbourhoods(engine, tmp_path):
    path = write_csv(tmp_path / "city.csv", HEADER_18,
                     "5,Loft,1,H,,Mitte,52.5,13.4,Private room,60,1,0,,,1,0,0,",
                     "6,Flat,1,H,,Kreuzberg,52.5,13.4,Entire home/apt,90,1,0,,,1,0,0,")
    assert load_listings_csv(engine, path).areas == ["Kreuzberg", "Mitte"]


def test_starting_a_process_takes_no_lock_behind_a_long_application_transaction(engine):
    """Every run worker applies the schema; with it already applied, that must not queue behind the app."""
    import threading

    from gfl_dagster.resources.database import apply_schema

    application = engine.connect()
    application.execute(text("SELECT count(*) FROM listings"))  # holds a lock on listings until it ends
    finished = threading.Event()
    worker = threading.Thread(target=lambda: (apply_schema(engine), finished.set()), daemon=True)
    worker.start()
    try:
        assert finished.wait(timeout=10), "schema application blocked behind an open transaction"
    finally:
        application.rollback()
        application.close()
        worker.join(timeout=10)


def test_threads_of_one_process_start_the_embedded_postgres_once(tmp_path):
    """Sensors are evaluated in threads: a fresh project folder must not be initialised twice."""
    import threading

    from gfl_dagster.db.embedded_postgres import start_embedded_postgres, stop_embedded_postgres

    home = tmp_path / "fresh"
    urls, errors = [], []

    def start():
        try:
            urls.append(start_embedded_postgres(home))
        except Exception as error:  # collected: a thread's exception would otherwise vanish
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == [] and len(set(urls)) == 1
    finally:
        stop_embedded_postgres(home)


def test_table_definitions_agree_with_the_live_schema(engine):
    """db/tables.py is the one column list the code writes with; schema.sql must create exactly those columns."""
    from gfl_dagster.db.tables import DERIVED_LISTING_COLUMNS, metadata
    from gfl_dagster.listings.csv_rows import _PARSERS
    from gfl_dagster.listings.detailed_rows import DETAILED_COLUMNS

    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            live = {row.column_name for row in connection.execute(text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = :t"), {"t": table.name})}
            defined = {column.name for column in table.columns}
            if table.name in ("listings", "reviews"):  # a source's stamps and partition, set by Postgres
                defined |= set(DERIVED_LISTING_COLUMNS)
            assert live == defined, f"{table.name}: schema.sql {sorted(live - defined)} vs tables.py {sorted(defined - live)}"
    assert set(_PARSERS) | set(DETAILED_COLUMNS) == {column.name for column in metadata.tables["listings"].columns}
