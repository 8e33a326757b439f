"""The vector store: pgvector in the source Postgres (default) or Weaviate, behind one interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional, Protocol, Sequence

from dagster import ConfigurableResource
from pydantic import Field

from gfl_dagster.listings.search_query import SearchQuery
from gfl_dagster.resources.database import PostgresResource


@dataclass(frozen=True)
class VectorItem:
    """One listing as the vector store holds it. `vector` None: update properties only."""

    listing_id: int
    version: int
    embed_hash: str
    properties: dict[str, Any]
    vector: Optional[Sequence[float]] = None


@dataclass(frozen=True)
class StoredVector:
    listing_id: int
    version: int
    embed_hash: str
    properties: dict[str, Any]
    dimension: int


class VectorStore(Protocol):
    """What the sync, the checks and search need from a vector store."""

    name: str

    def ensure(self, dimension: int, model: str) -> None: ...

    def upsert(self, items: Sequence[VectorItem]) -> None: ...

    def update_properties(self, items: Sequence[VectorItem]) -> None: ...

    def delete(self, listing_ids: Sequence[int]) -> None: ...

    def versions(self, area: str) -> dict[int, int]: ...

    def get(self, listing_id: int) -> Optional[StoredVector]: ...

    def search(self, query: SearchQuery, vector: Optional[Sequence[float]]) -> list[dict[str, Any]]:
        """Hits of a validated query, keyed by CSV column names plus `score` and `description`.

        `vector` is the embedded query text (None for a structured or keyword query).
        Best first: semantic by cosine similarity (1 - distance), hybrid by the fused
        score (alpha 1 = vector only, 0 = keyword only), keyword by the keyword score.
        A structured query (no text) is ordered by its sort (default: listing id) and
        scores None; with a text the sort is left to the caller, hits come by relevance.
        """

    def close(self) -> None: ...


class VectorStoreResource(ConfigurableResource):
    """pgvector in the same Postgres unless a Weaviate URL is configured."""

    database: PostgresResource
    backend: Literal["pgvector", "weaviate"] = Field(default="pgvector", description="'pgvector' or 'weaviate'.")
    weaviate_url: Optional[str] = Field(default=None, description="WEAVIATE_URL (local, custom or cloud).")
    weaviate_api_key: Optional[str] = Field(default=None, description="WEAVIATE_API_KEY; never logged.")
    collection: str = Field(default="Listing", description="Weaviate collection name.")

    def open(self) -> VectorStore:
        if self.backend == "weaviate":
            from gfl_dagster.resources.weaviate_store import WeaviateStore

            if not self.weaviate_url:
                raise ValueError("vector store backend is 'weaviate' but WEAVIATE_URL is not set")
            return WeaviateStore(self.weaviate_url, self.weaviate_api_key, self.collection)
        from gfl_dagster.resources.pgvector_store import PgVectorStore

        return PgVectorStore(self.database.engine())
