"""Every setting gfl_dagster reads from the environment, with its default.

Configuration is the only switch between the embedded default (nothing set) and
production backends (Postgres via DATABASE_URL, OpenAI, Weaviate). The README's
settings table mirrors this module.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT_DIR = PACKAGE_DIR.parent

# Environment variable names, in one place so the README, the resources and the CLI agree.
DATABASE_URL = "DATABASE_URL"
GFL_HOME = "GFL_HOME"
GFL_CSV = "GFL_CSV"
OPENAI_API_KEY = "OPENAI_API_KEY"
OPENAI_BASE_URL = "OPENAI_BASE_URL"
GFL_DESCRIBER = "GFL_DESCRIBER"
GFL_CHAT_MODEL = "GFL_CHAT_MODEL"
GFL_EMBEDDER = "GFL_EMBEDDER"
GFL_EMBEDDING_MODEL = "GFL_EMBEDDING_MODEL"
WEAVIATE_URL = "WEAVIATE_URL"
WEAVIATE_API_KEY = "WEAVIATE_API_KEY"
GFL_SENSOR_INTERVAL = "GFL_SENSOR_INTERVAL"

DEFAULT_CHAT_MODEL = "gpt-4o-mini"
DEFAULT_OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"


def gfl_home() -> Path:
    """Project-local state folder: the embedded Postgres and the Dagster instance live here.

    In a source checkout it sits beside pyproject.toml, so `gfl`, `dagster dev`,
    the daemon and run workers started from anywhere share one database.
    """
    configured = os.environ.get(GFL_HOME)
    if configured:
        return Path(configured).expanduser().resolve()
    if (_CHECKOUT_DIR / "pyproject.toml").exists():
        return _CHECKOUT_DIR / ".gfl"
    return Path.cwd() / ".gfl"


def default_csv_path() -> Path:
    """The dataset every command uses unless told otherwise."""
    configured = os.environ.get(GFL_CSV)
    if configured:
        return Path(configured).expanduser().resolve()
    bundled = _CHECKOUT_DIR / "data" / "AB_NYC_2023.csv"
    return bundled if bundled.exists() else Path.cwd() / "data" / "AB_NYC_2023.csv"


def is_set(name: str) -> bool:
    return bool(os.environ.get(name, "").strip())
