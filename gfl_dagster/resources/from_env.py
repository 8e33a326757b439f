"""The one place that maps the environment to the project's parts: configuration is the only switch.

`configuration()` says what each part gets, without importing Dagster; `resources_from_env()` makes the
Dagster resources of it, and cli/project.py the plain parts of the commands that answer at once.
Secrets (DATABASE_URL, OPENAI_API_KEY, WEAVIATE_API_KEY) are named here, not read: resources receive them
as Dagster `EnvVar`s, so the UI and run config show the variable's name, never its value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from gfl_dagster import settings


@dataclass(frozen=True)
class Secret:
    """A secret setting, by the name of the variable that holds it."""

    name: str


def _secret(name: str) -> Optional[Secret]:
    return Secret(name) if settings.is_set(name) else None


def configuration() -> dict[str, dict[str, Any]]:
    """Each part's settings (secrets as `Secret`); the database and the model service are shared by the others."""
    return {
        "database": {"database_url": _secret(settings.DATABASE_URL)},
        "model_client": {
            "api_key": _secret(settings.OPENAI_API_KEY),
            "base_url": settings.value(settings.OPENAI_BASE_URL),
            "chat_model": settings.chat_model(),
            "embedding_model": settings.embedding_model(),
        },
        "embedder": {"backend": settings.embedder_backend()},
        "vector_store": {
            "backend": settings.vector_backend(),
            "weaviate_url": settings.value(settings.WEAVIATE_URL),
            "weaviate_api_key": _secret(settings.WEAVIATE_API_KEY),
            "collection": settings.weaviate_collection(),
        },
    }


def _resolved(secret: Callable[[Secret], Any]) -> dict[str, dict[str, Any]]:
    return {part: {key: secret(item) if isinstance(item, Secret) else item for key, item in fields.items()}
            for part, fields in configuration().items()}


def plain_configuration() -> dict[str, dict[str, Any]]:
    """`configuration()` with the secrets' values, for the plain parts (clients/); never for logs or metadata."""
    return _resolved(lambda secret: settings.value(secret.name))


def resources_from_env() -> dict[str, object]:
    # Imported here, not at the top: `gfl search` and `gfl show` read `configuration()` without paying for Dagster.
    from dagster import EnvVar

    from gfl_dagster.resources.database import PostgresResource
    from gfl_dagster.resources.embedder import EmbedderResource
    from gfl_dagster.resources.model_client import ModelClientResource
    from gfl_dagster.resources.vector_store import VectorStoreResource

    config = _resolved(lambda secret: EnvVar(secret.name))
    database = PostgresResource(**config["database"])
    model_client = ModelClientResource(**config["model_client"])
    return {
        "database": database,
        "model_client": model_client,
        "embedder": EmbedderResource(model_client=model_client, **config["embedder"]),
        "vector_store": VectorStoreResource(database=database, **config["vector_store"]),
    }


def asset_kinds(*parts: str) -> set[str]:
    """The systems an asset using these parts ("database", "chat", "embeddings", "vector_store") talks to, as
    the UI's badges show them: derived from the configured backends."""
    systems = {
        "database": {"postgres"},
        "chat": {"openai"} if settings.describer_backend() == "openai" else set(),
        "embeddings": {"openai"} if settings.embedder_backend() == "openai" else set(),
        "vector_store": {settings.vector_backend()},
    }
    return set().union(*(systems[part] for part in parts))
