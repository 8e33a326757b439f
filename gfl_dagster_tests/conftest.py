"""Shared fixtures: one real embedded Postgres (with pgvector) per test session.

Every database test starts from empty tables. The larger real datasets (New York
2019, Barcelona 2021) are read from the folder named by GFL_SHARED_DATA, which
.ci/run sets; unset, the tests that need them are skipped with a reason.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest

warnings.filterwarnings("ignore", category=Warning, module="dagster")

PROJECT_DIR = Path(__file__).resolve().parent.parent
BUNDLED_CSV = PROJECT_DIR / "data" / "AB_NYC_2023.csv"
SHARED_DATA_SETTING = "GFL_SHARED_DATA"

_TABLES = ("listings", "listing_tombstones", "listing_rejects", "listing_descriptions", "listing_sync",
           "sync_failures", "vector_store_meta", "freshness_probes", "feedback_events", "listing_ads",
           "user_recommendations", "listing_co_bookings", "listing_co_bookings_built", "model_usage", "reviews",
           "review_tombstones", "review_rejects", "guest_summaries")


def shared_csv(name: str) -> Path:
    """A dataset from ../shared/data; skips when GFL_SHARED_DATA is unset, fails when the file is missing."""
    folder = os.environ.get(SHARED_DATA_SETTING)
    if not folder:
        pytest.skip(f"set {SHARED_DATA_SETTING}=/path/to/shared/data (the folder holding {name}) to run this test")
    path = Path(folder) / name
    if not path.is_file():
        pytest.fail(f"{SHARED_DATA_SETTING}={folder} does not contain {name}")
    return path


@pytest.fixture(scope="session", autouse=True)
def gfl_home():
    """Each test session gets its own project folder: its own embedded Postgres.

    Not under pytest's tmp_path: pytest prunes old base folders, which would pull
    the data directory from under a server another pytest session still runs.
    """
    home = Path(tempfile.mkdtemp(prefix="gfl-test-"))
    saved = {key: os.environ.get(key) for key in ("GFL_HOME", "DATABASE_URL", "DAGSTER_HOME", "WEAVIATE_URL",
                                                  "OPENAI_API_KEY", "OPENAI_BASE_URL")}
    os.environ["GFL_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    for key in ("DATABASE_URL", "WEAVIATE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        os.environ.pop(key, None)
    yield home
    from gfl_dagster.db.embedded_postgres import stop_embedded_postgres

    stop_embedded_postgres(home)
    shutil.rmtree(home, ignore_errors=True)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def database():
    from gfl_dagster.resources.database import PostgresResource

    database = PostgresResource()
    database.start()
    return database


def empty_database(engine):
    with engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {', '.join(_TABLES)}")
        connection.exec_driver_sql("DROP TABLE IF EXISTS listing_vectors")
        connection.exec_driver_sql("DROP SCHEMA IF EXISTS gfl_next CASCADE")
    return engine


@pytest.fixture()
def engine(database):
    """The real embedded Postgres, emptied for this test."""
    return empty_database(database.engine())


def synced_bundled(database, rows: int) -> SimpleNamespace:
    """A search module's data: the first `rows` listings of the bundled CSV on the emptied database, described
    (by the template) and embedded (offline) in every area; its engine, embedder, store and areas."""
    from gfl_dagster.cli.common import known_areas
    from gfl_dagster.listings.describe import describe_area
    from gfl_dagster.listings.embed import embed_area
    from gfl_dagster.listings.load import load_listings_csv
    from gfl_dagster.listings.source import LISTINGS
    from gfl_dagster.resources.embedder import EmbedderResource
    from gfl_dagster.resources.model_client import ModelClientResource
    from gfl_dagster.stores.pgvector import PgVectorStore

    engine = empty_database(database.engine())
    load_listings_csv(engine, BUNDLED_CSV, limit=rows)
    embedder, store = EmbedderResource(), PgVectorStore(engine, LISTINGS)
    areas = known_areas(engine)
    for area in areas:
        describe_area(engine, ModelClientResource(), area)
        embed_area(engine, embedder, store, area)
    return SimpleNamespace(engine=engine, embedder=embedder, store=store, areas=areas)


@pytest.fixture()
def resources(engine):
    """Offline resources as the embedded default configures them."""
    return offline_resources()


def offline_resources() -> dict:
    """The resources as the embedded default configures them (for module fixtures: `resources` is per test)."""
    from gfl_dagster.resources.model_client import ModelClientResource
    from gfl_dagster.resources.embedder import EmbedderResource
    from gfl_dagster.resources.database import PostgresResource
    from gfl_dagster.resources.vector_store import VectorStoreResource

    database = PostgresResource()
    return {
        "database": database,
        "model_client": ModelClientResource(),
        "embedder": EmbedderResource(),
        "vector_store": VectorStoreResource(database=database),
    }


def write_csv(path: Path, header: str, *lines: str) -> Path:
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


HEADER_18 = ("id,name,host_id,host_name,neighbourhood_group,neighbourhood,latitude,longitude,room_type,price,"
             "minimum_nights,number_of_reviews,last_review,reviews_per_month,calculated_host_listings_count,"
             "availability_365,number_of_reviews_ltm,license")


@pytest.fixture(scope="module")
def fake_weaviate():
    """A local stand-in for a Weaviate server (REST + gRPC), shared by the Weaviate test modules."""
    from gfl_dagster_tests.test_weaviate_store import FakeWeaviate

    fake = FakeWeaviate()
    fake.start()
    yield fake
    fake.stop()
