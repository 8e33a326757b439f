"""The store contract: what the sync, the checks and search need from a vector store.

Backends implement `VectorStore` in a file each (pgvector.py, weaviate.py); nothing
outside a backend touches its client or its table. A store is opened for one
source (spec.py's SourceSpec): its collection and tables are named from the spec,
and the fields it carries are the spec's, in store-neutral kinds that each backend
maps to its own types, so a third backend is one new file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Iterator, Mapping, Optional, Protocol, Sequence

from gfl_dagster.spec import SourceSpec, StoreQuery

# Objects read per request when a store is listed whole (VectorStore.objects).
LIST_PAGE = 1000


@dataclass(frozen=True)
class VectorItem:
    """One source row as the vector store holds it, by the row's key. `vector` None: update properties only."""

    key: int
    version: int
    embed_hash: str
    properties: dict[str, Any]
    vector: Optional[Sequence[float]] = None


@dataclass(frozen=True)
class StoredVector:
    key: int
    version: int
    embed_hash: str
    properties: dict[str, Any]
    dimension: int


@dataclass(frozen=True)
class StoredObject:
    """One object as the store holds it, whatever its key: listing a store sees every copy of a key."""

    vector_id: str  # the store's own id of the object (a uuid); the spec's vector_id(key) when written by the sync
    key: Optional[int]  # None: an object without one (not written by the sync)
    partition: Optional[str]  # the spec's partition field as stored
    version: Optional[int]
    embed_hash: str
    properties: dict[str, Any]  # the spec's fields, in store-neutral values (comparable_properties)


def comparable_properties(spec: SourceSpec, properties: Mapping[str, Any]) -> dict[str, Any]:
    """The spec's fields in store-neutral values, so what a store holds compares equal to what was written:
    integers as int, numbers as float, text and keywords as str, lists as lists of str, dates as ISO days;
    absent is None (an empty list too: Weaviate does not tell one from the other)."""
    comparable: dict[str, Any] = {}
    for field in spec.fields:
        value = properties.get(field.name)
        if field.kind == "list":
            value = [str(element) for element in value] if value else None
        elif value is not None:
            if field.kind == "integer":
                value = int(value)
            elif field.kind == "number":
                value = float(value)
            elif field.kind in ("text", "keyword"):
                value = str(value)
            elif field.kind == "bool":
                value = bool(value)
            elif field.kind == "date":
                value = value.isoformat()[:10] if isinstance(value, date) else str(value)[:10]
        comparable[field.name] = value
    return comparable


class RefusedWrites(RuntimeError):
    """Some rows of a batch write were refused by the store; `refused` maps each key to the store's reason.

    Every other row of the batch was written (or skipped as stale), so a caller records
    progress for those only: the refused ones stay pending and are retried. A store whose
    writes are all-or-nothing (pgvector: one transaction) never raises it.
    """

    def __init__(self, message: str, refused: Mapping[int, str]):
        super().__init__(message)
        self.refused = dict(refused)


class VectorStore(Protocol):
    """What the sync, the checks and search need from a vector store, for the one source it was opened for."""

    name: str
    spec: SourceSpec

    def ensure(self, dimension: int, model: str) -> None: ...

    def upsert(self, items: Sequence[VectorItem]) -> None:
        """Write vectors and properties; never below the stored version or the row's tombstone.

        Raises RefusedWrites naming the rows the store refused, if some were.
        """

    def update_properties(self, items: Sequence[VectorItem]) -> None:
        """Rewrite properties of stored objects (never creates one); raises RefusedWrites like upsert."""

    def delete(self, keys: Sequence[int]) -> None: ...

    def versions(self, partition: str) -> dict[int, int]:
        """{key: stored source version} of the objects in one partition."""

    def get(self, key: int) -> Optional[StoredVector]: ...

    def vectors(self, keys: Sequence[int]) -> dict[int, list[float]]:
        """{key: stored vector} of the given keys that the store holds (a key not stored is absent): the
        vectors searches are answered against, so a centroid of them lies in the store's own space."""

    def objects(self, page_size: int = LIST_PAGE) -> Iterator[StoredObject]:
        """Every object of the source's collection, in pages of `page_size` (ordered by vector id), whatever
        its partition or key: an object stored twice, under another id or in an unknown partition, is listed
        twice. Vectors are not read. Nothing when the collection does not exist yet."""

    def search(self, query: StoreQuery, vector: Optional[Sequence[float]]) -> list[dict[str, Any]]:
        """Hits of a validated query: the spec's fields, `id` (the key) and `score`.

        `vector` is the embedded query text (None for a structured or keyword query).
        Best first: semantic by cosine similarity (1 - distance), hybrid by the fused
        score (alpha 1 = vector only, 0 = keyword only), keyword by the keyword score.
        A structured query (no text) is ordered by its sort (default: the key) and
        scores None; with a text the sort is left to the caller, hits come by relevance.
        """

    def live_model(self) -> Optional[str]:
        """The embedding model of the vectors it serves when that may differ from the configured one (pgvector
        during a model change: stores/generations.py); None when it is always the configured one."""

    def drop(self) -> None:
        """Delete every object (benchmarks and tests filling a store from scratch)."""

    def close(self) -> None: ...
