"""The store contract: what the sync, the checks and search need from a vector store.

Backends implement `VectorStore` in a file each (pgvector.py, weaviate.py); nothing
outside a backend touches its client or its table. The fields a vector object
carries are described here in store-neutral kinds, which each backend maps to its
own types, so a third backend is one new file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping, Optional, Protocol, Sequence

from gfl_dagster.search.query import SearchQuery

FieldKind = Literal["text", "category", "integer", "number", "date"]


@dataclass(frozen=True)
class Field:
    """A property stored beside each vector: `text` is searched by keyword, `category` filtered by exact value."""

    name: str
    kind: FieldKind


# The properties of a listing's vector object, named as in the CSV (`area` is the partition,
# derived once, in Postgres). `id` and `description` are added by the sync.
VECTOR_FIELDS = (
    Field("name", "text"),
    Field("description", "text"),
    Field("area", "category"),
    Field("neighbourhood_group", "category"),
    Field("neighbourhood", "category"),
    Field("room_type", "category"),
    Field("price", "number"),
    Field("minimum_nights", "integer"),
    Field("number_of_reviews", "integer"),
    Field("reviews_per_month", "number"),
    Field("availability_365", "integer"),
    Field("last_review", "date"),
    Field("latitude", "number"),
    Field("longitude", "number"),
)
FIELD_NAMES = tuple(field.name for field in VECTOR_FIELDS)
# Bumped when VECTOR_FIELDS changes: a store built for another layout is rebuilt (pgvector) or refused (Weaviate).
LAYOUT_VERSION = "2"


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


class RefusedWrites(RuntimeError):
    """Some listings of a batch write were refused by the store; `refused` maps each to the store's reason.

    Every other listing of the batch was written (or skipped as stale), so a caller records
    progress for those only: the refused ones stay pending and are retried. A store whose
    writes are all-or-nothing (pgvector: one transaction) never raises it.
    """

    def __init__(self, message: str, refused: Mapping[int, str]):
        super().__init__(message)
        self.refused = dict(refused)


class VectorStore(Protocol):
    """What the sync, the checks and search need from a vector store."""

    name: str

    def ensure(self, dimension: int, model: str) -> None: ...

    def upsert(self, items: Sequence[VectorItem]) -> None:
        """Write vectors and properties; never below the stored version or the listing's tombstone.

        Raises RefusedWrites naming the listings the store refused, if some were.
        """

    def update_properties(self, items: Sequence[VectorItem]) -> None:
        """Rewrite properties of stored objects (never creates one); raises RefusedWrites like upsert."""

    def delete(self, listing_ids: Sequence[int]) -> None: ...

    def versions(self, area: str) -> dict[int, int]: ...

    def get(self, listing_id: int) -> Optional[StoredVector]: ...

    def search(self, query: SearchQuery, vector: Optional[Sequence[float]]) -> list[dict[str, Any]]:
        """Hits of a validated query, keyed by CSV column names plus `area`, `score` and `description`.

        `vector` is the embedded query text (None for a structured or keyword query).
        Best first: semantic by cosine similarity (1 - distance), hybrid by the fused
        score (alpha 1 = vector only, 0 = keyword only), keyword by the keyword score.
        A structured query (no text) is ordered by its sort (default: listing id) and
        scores None; with a text the sort is left to the caller, hits come by relevance.
        """

    def live_model(self) -> Optional[str]:
        """The embedding model of the vectors it serves when that may differ from the configured one (pgvector
        during a model change: stores/generations.py); None when it is always the configured one."""

    def drop(self) -> None:
        """Delete every object (benchmarks and tests filling a store from scratch)."""

    def close(self) -> None: ...
