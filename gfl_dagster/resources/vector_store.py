"""The vector store: pgvector in the source Postgres (default) or Weaviate (WEAVIATE_URL)."""

from __future__ import annotations

from typing import ContextManager, Literal, Optional, Sequence

from dagster import ConfigurableResource
from pydantic import Field

from gfl_dagster.clients.vector_store import VectorStoreClient
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.stores.contract import VectorStore


class VectorStoreResource(ConfigurableResource):
    """Opens the configured backend; use it as `with vector_store.session() as store:`."""

    database: PostgresResource
    backend: Literal["pgvector", "weaviate"] = Field(default="pgvector", description="'pgvector' or 'weaviate'.")
    weaviate_url: Optional[str] = Field(default=None, description="WEAVIATE_URL (local, custom or cloud).")
    weaviate_api_key: Optional[str] = Field(default=None, description="WEAVIATE_API_KEY; never logged.")
    collection: str = Field(default="Listing", description="Weaviate collection name.")

    def client(self) -> VectorStoreClient:
        """The Dagster-free store client this resource configures (the quick commands build it directly)."""
        return VectorStoreClient(self.database.engine, self.backend, self.weaviate_url, self.weaviate_api_key,
                                 self.collection)

    def open(self) -> VectorStore:
        """A store the caller must close; prefer `session()`."""
        return self.client().open()

    def tombstone_versions(self, listing_ids: Sequence[int]) -> dict[int, int]:
        """The source's delete versions of these listings, for a store that cannot read them in its write."""
        return self.client().tombstone_versions(listing_ids)

    def session(self) -> ContextManager[VectorStore]:
        return self.client().session()
