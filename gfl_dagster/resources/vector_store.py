"""The vector store: pgvector in the source Postgres (default) or Weaviate (WEAVIATE_URL)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Literal, Optional

from dagster import ConfigurableResource
from pydantic import Field

from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.stores.contract import VectorStore


class VectorStoreResource(ConfigurableResource):
    """Opens the configured backend; use it as `with vector_store.session() as store:`."""

    database: PostgresResource
    backend: Literal["pgvector", "weaviate"] = Field(default="pgvector", description="'pgvector' or 'weaviate'.")
    weaviate_url: Optional[str] = Field(default=None, description="WEAVIATE_URL (local, custom or cloud).")
    weaviate_api_key: Optional[str] = Field(default=None, description="WEAVIATE_API_KEY; never logged.")
    collection: str = Field(default="Listing", description="Weaviate collection name.")

    def open(self) -> VectorStore:
        """A store the caller must close; prefer `session()`."""
        if self.backend == "weaviate":
            from gfl_dagster.stores.weaviate import WeaviateStore

            if not self.weaviate_url:
                raise ValueError("vector store backend is 'weaviate' but WEAVIATE_URL is not set")
            return WeaviateStore(self.weaviate_url, self.weaviate_api_key, self.collection)
        from gfl_dagster.stores.pgvector import PgVectorStore

        return PgVectorStore(self.database.engine())

    @contextmanager
    def session(self) -> Iterator[VectorStore]:
        store = self.open()
        try:
            yield store
        finally:
            store.close()
