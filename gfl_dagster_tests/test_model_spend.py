"""Model spend on a real chat model server (SmolLM2 behind the fault proxy): tokens and the estimated cost per
run in the materialization's metadata and in `gfl status`, and a daily budget that pauses generation (the rows
wait, neither failed nor templated) while the vectors of the same rows keep syncing."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from dagster import DagsterInstance, materialize
from sqlalchemy import text

from gfl_dagster import settings
from gfl_dagster.cli.main import cli
from gfl_dagster.generation.spend import cost_usd, parse_prices, tracked_spend
from gfl_dagster.listings.assets import listing_descriptions
from gfl_dagster.listings.describe import describe_area
from gfl_dagster.listings.embed import embed_area
from gfl_dagster.listings.load import load_listings_csv
from gfl_dagster.listings.partitions import register_areas
from gfl_dagster.listings.source import LISTINGS
from gfl_dagster.resources.embedder import EmbedderResource
from gfl_dagster.stores.pgvector import PgVectorStore
from gfl_dagster_bench.fault_proxy import CHAT, FaultProxy
from gfl_dagster_tests.conftest import BUNDLED_CSV
from gfl_dagster_tests.model_servers import CHAT_MODEL, chat_client, usage

pytest_plugins = ["gfl_dagster_tests.model_servers"]

PRICE = f"{CHAT_MODEL}=1000/2000"  # USD per million tokens: absurd, so a few requests cost visible money
FAITHFUL = "An entire home in Midtown, Manhattan, at $150 per night for stays of 30 nights or more."


def test_prices_parse_and_refuse_by_entry():
    assert parse_prices("a=1/2, b=0.5") == {"a": (1.0, 2.0), "b": (0.5, 0.0)}
    assert parse_prices(None) == {} and parse_prices(" ") == {}
    for bad in ("a", "a=x", "=1", "a=1/2/3", "a=-1"):
        with pytest.raises(settings.SettingError, match="GFL_MODEL_PRICES"):
            parse_prices(bad)
    assert cost_usd("a", 1_000_000, 500_000, {"a": (1.0, 2.0)}) == pytest.approx(2.0)
    assert cost_usd("unpriced", 10, 10, {"a": (1.0, 2.0)}) is None


def test_a_run_reports_tokens_and_cost_and_status_sums_them(engine, database, chat_proxy: FaultProxy, monkeypatch):
    monkeypatch.setenv(settings.GFL_MODEL_PRICES, PRICE)
    load_listings_csv(engine, BUNDLED_CSV, limit=3)  # two listings in Manhattan
    chat_proxy.chat(FAITHFUL, None, None, None, None, None)
    model = chat_client(chat_proxy, attempts=1, concurrency=1)
    instance = DagsterInstance.ephemeral()
    register_areas(instance, ["Manhattan"])
    result = materialize([listing_descriptions], partition_key="Manhattan", instance=instance,
                         resources={"database": database, "model_client": model})
    metadata = {key: value.value for key, value in
                result.asset_materializations_for_node("listing_descriptions")[0].metadata.items()}
    prompt, completion = usage(chat_proxy, "prompt_tokens"), usage(chat_proxy, "completion_tokens")
    expected = (prompt * 1000 + completion * 2000) / 1_000_000
    assert (metadata["model_requests"], metadata["prompt_tokens"], metadata["completion_tokens"]) == (
        len(chat_proxy.to(CHAT)), prompt, completion)
    assert metadata["estimated_cost_usd"] == pytest.approx(expected, abs=1e-6) and expected > 0
    assert metadata["models_without_price"] == "none"

    with engine.connect() as connection:
        stored = connection.execute(text("SELECT asset, requests, prompt_tokens, cost_usd FROM model_usage "
                                         "WHERE model = :model"), {"model": CHAT_MODEL}).one()
    assert (stored.asset, stored.requests, stored.prompt_tokens) == ("listing_descriptions", 2, prompt)
    assert float(stored.cost_usd) == pytest.approx(expected, abs=1e-6)
    shown = CliRunner().invoke(cli, ["status"])
    assert shown.exit_code == 0, shown.output
    assert f"{CHAT_MODEL}: 2 requests, {prompt} prompt + {completion} completion tokens, ${expected:.4f}" in shown.output


def test_a_spent_budget_pauses_descriptions_but_not_the_sync(engine, chat_proxy: FaultProxy, monkeypatch):
    monkeypatch.setenv(settings.GFL_MODEL_PRICES, PRICE)
    monkeypatch.setenv(settings.GFL_DAILY_BUDGET_USD, "0.000001")  # the first answer spends it
    load_listings_csv(engine, BUNDLED_CSV, limit=3)
    chat_proxy.chat(FAITHFUL, None, None)
    model = chat_client(chat_proxy, attempts=1, concurrency=1)
    with tracked_spend(engine, model.usage, "listing_descriptions"):
        report = describe_area(engine, model, "Manhattan")
    assert (report.generated, report.failed, report.fallbacks, report.waiting_for_budget) == (1, 0, 0, 1)
    assert "GFL_DAILY_BUDGET_USD=1e-06 USD) is spent" in report.budget_message
    assert len(chat_proxy.to(CHAT)) == 1, "no request once the budget was spent"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM listing_descriptions")).scalar_one() == 1
        assert connection.execute(text("SELECT count(*) FROM sync_failures")).scalar_one() == 0

    embedded = embed_area(engine, EmbedderResource(), PgVectorStore(engine, LISTINGS), "Manhattan")
    assert embedded.embedded == 2, "the waiting listing is searchable by its facts"
    shown = CliRunner().invoke(cli, ["status"])
    assert "(reached: generation waits)" in shown.output, shown.output

    monkeypatch.setenv(settings.GFL_DAILY_BUDGET_USD, "1000")  # a larger budget: the waiting row is described
    with tracked_spend(engine, model.usage, "listing_descriptions"):
        resumed = describe_area(engine, model, "Manhattan")
    assert (resumed.generated, resumed.waiting_for_budget) == (1, 0)
