"""The vector store: pgvector in the source Postgres (default) or Weaviate (WEAVIATE_URL)."""

from __future__ import annotations

from typing import ContextManager, Literal, Optional

from dagster import ConfigurableResource
from pydantic import Field

from gfl_dagster.clients.vector_store import VectorStoreClient
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.spec import SourceSpec
from gfl_dagster.stores.contract import VectorStore


class VectorStoreResource(ConfigurableResource):
    """Opens the configured backend for a source; use it as `with vector_store.session(spec) as store:`."""

    database: PostgresResource
    backend: Literal["pgvector", "weaviate"] = Field(default="pgvector", description="'pgvector' or 'weaviate'.")
    weaviate_url: Optional[str] = Field(default=None, description="WEAVIATE_URL (local, custom or cloud).")
    weaviate_api_key: Optional[str] = Field(default=None, description="WEAVIATE_API_KEY; never logged.")
    collection: Optional[str] = Field(default=None, description="Weaviate collection name; unset: the source's own.")

    def client(self) -> VectorStoreClient:
        """The Dagster-free store client this resource configures (the quick commands build it directly)."""
        return VectorStoreClient(self.database.engine, self.backend, self.weaviate_url, self.weaviate_api_key,
                                 self.collection)

    def open(self, spec: SourceSpec) -> VectorStore:
        """The store of `spec`'s source, which the caller must close; prefer `session()`."""
        return self.client().open(spec)

    def session(self, spec: SourceSpec) -> ContextManager[VectorStore]:
        return self.client().session(spec)
