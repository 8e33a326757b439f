"""The one place that maps the environment to resources: configuration is the only switch.

Secrets (DATABASE_URL, OPENAI_API_KEY, WEAVIATE_API_KEY) are passed as Dagster
`EnvVar`s, so the UI and run config show the variable's name, never its value.
"""

from __future__ import annotations

from typing import Optional

from dagster import EnvVar

from gfl_dagster import settings
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.resources.embedder import EmbedderResource
from gfl_dagster.resources.model_client import ModelClientResource
from gfl_dagster.resources.vector_store import VectorStoreResource


def _secret(name: str) -> Optional[EnvVar]:
    return EnvVar(name) if settings.is_set(name) else None


def resources_from_env() -> dict[str, object]:
    database = PostgresResource(database_url=_secret(settings.DATABASE_URL))
    model_client = ModelClientResource(
        api_key=_secret(settings.OPENAI_API_KEY),
        base_url=settings.value(settings.OPENAI_BASE_URL),
        chat_model=settings.chat_model(),
        embedding_model=settings.embedding_model(),
    )
    return {
        "database": database,
        "model_client": model_client,
        "embedder": EmbedderResource(backend=settings.embedder_backend(), model_client=model_client),
        "vector_store": VectorStoreResource(
            database=database,
            backend=settings.vector_backend(),
            weaviate_url=settings.value(settings.WEAVIATE_URL),
            weaviate_api_key=_secret(settings.WEAVIATE_API_KEY),
            collection=settings.weaviate_collection(),
        ),
    }


def asset_kinds() -> dict[str, set[str]]:
    """The systems each asset talks to, as the UI's badges show them: derived from the configured backends."""
    chat = {"openai"} if settings.describer_backend() == "openai" else set()
    embeddings = {"openai"} if settings.embedder_backend() == "openai" else set()
    return {
        "raw_listings": {"postgres"},
        "listing_descriptions": {"postgres"} | chat,
        "listing_vectors": {settings.vector_backend()} | embeddings,
        "listing_ads": {"postgres"} | chat,
        "user_recommendations": {"postgres"} | chat,
    }
