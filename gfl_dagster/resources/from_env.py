"""Builds the four resources from the environment: configuration is the only switch.

Secrets (DATABASE_URL, OPENAI_API_KEY, WEAVIATE_API_KEY) are passed as Dagster
`EnvVar`s, so the UI and run config show the variable's name, never its value.
"""

from __future__ import annotations

import os
from typing import Optional

from dagster import EnvVar

from gfl_dagster import settings
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.resources.describer import DescriberResource
from gfl_dagster.resources.embedder import EmbedderResource
from gfl_dagster.resources.vector_store import VectorStoreResource


class SettingError(ValueError):
    """A setting has a value gfl_dagster cannot use; the message names it."""


def _env(name: str) -> Optional[EnvVar]:
    return EnvVar(name) if settings.is_set(name) else None


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    value = os.environ.get(name, "").strip().lower() or default
    if value not in allowed:
        raise SettingError(f"{name}={value!r} is not one of: {', '.join(allowed)}")
    return value


def resources_from_env() -> dict[str, object]:
    openai_configured = settings.is_set(settings.OPENAI_API_KEY) or settings.is_set(settings.OPENAI_BASE_URL)
    remote = "openai" if openai_configured else None
    database = PostgresResource(database_url=_env(settings.DATABASE_URL))
    describer_backend = _choice(settings.GFL_DESCRIBER, ("template", "openai"), remote or "template")
    embedder_backend = _choice(settings.GFL_EMBEDDER, ("local", "openai"), remote or "local")
    openai = {"api_key": _env(settings.OPENAI_API_KEY), "base_url": os.environ.get(settings.OPENAI_BASE_URL) or None}
    return {
        "database": database,
        "describer": DescriberResource(
            backend=describer_backend,
            model=os.environ.get(settings.GFL_CHAT_MODEL) or settings.DEFAULT_CHAT_MODEL,
            **openai,
        ),
        "embedder": EmbedderResource(
            backend=embedder_backend,
            model=os.environ.get(settings.GFL_EMBEDDING_MODEL) or settings.DEFAULT_OPENAI_EMBEDDING_MODEL,
            **openai,
        ),
        "vector_store": VectorStoreResource(
            database=database,
            backend="weaviate" if settings.is_set(settings.WEAVIATE_URL) else "pgvector",
            weaviate_url=os.environ.get(settings.WEAVIATE_URL) or None,
            weaviate_api_key=_env(settings.WEAVIATE_API_KEY),
        ),
    }
