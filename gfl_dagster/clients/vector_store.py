"""Opens the configured vector store for a source without Dagster: pgvector in the source Postgres, or Weaviate.

The plain counterpart of VectorStoreResource (resources/vector_store.py), for the commands that answer at once.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence

from sqlalchemy import Engine

from gfl_dagster.db import queries
from gfl_dagster.spec import SourceSpec
from gfl_dagster.stores.contract import VectorStore


@dataclass(frozen=True)
class VectorStoreClient:
    """Use it as `with client.session(spec) as store:`; `engine` starts (or joins) the source database when called."""

    engine: Callable[[], Engine]
    backend: str = "pgvector"  # 'pgvector' or 'weaviate'
    weaviate_url: Optional[str] = None
    weaviate_api_key: Optional[str] = None
    collection: Optional[str] = None  # the Weaviate collection; None: the source's own (spec.collection)

    def open(self, spec: SourceSpec) -> VectorStore:
        """The store of `spec`'s source, which the caller must close; prefer `session()`."""
        if self.backend == "weaviate":
            from gfl_dagster.stores.weaviate import WeaviateStore

            if not self.weaviate_url:
                raise ValueError("vector store backend is 'weaviate' but WEAVIATE_URL is not set")
            return WeaviateStore(self.weaviate_url, self.weaviate_api_key, spec, self.collection,
                                 tombstones=lambda keys: self.tombstone_versions(spec, keys))
        from gfl_dagster.stores.pgvector import PgVectorStore

        return PgVectorStore(self.engine(), spec)

    def tombstone_versions(self, spec: SourceSpec, keys: Sequence[int]) -> dict[int, int]:
        """The source's delete versions of these rows, for a store that cannot read them in its write."""
        with self.engine().connect() as connection:
            return dict(connection.execute(queries.tombstone_versions(spec), {"ids": list(keys)}).all())

    @contextmanager
    def session(self, spec: SourceSpec) -> Iterator[VectorStore]:
        store = self.open(spec)
        try:
            yield store
        finally:
            store.close()
