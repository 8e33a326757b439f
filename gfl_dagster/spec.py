"""What a source is, as the shared machinery sees it: a table, its key, its partition and its fields' kinds.

A domain folder declares one `SourceSpec` for each table it syncs (listings/source.py) and hands it to the
core: the stores name their collection and tables from it and carry its fields, search filters by its
fields' kinds. Nothing shared names one source's columns; a second source is a second spec.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal, Optional, Protocol

# Store-neutral kinds; each backend maps them to its own types (db/pgvector_sql.py, stores/weaviate.py).
# `text` is searched by its words, `keyword` compared by exact value (a place, a room type), `list` is a list
# of keywords (a listing's amenities), compared by exact value too.
FieldKind = Literal["text", "keyword", "integer", "number", "date", "bool", "list"]
SORTABLE_KINDS = ("integer", "number", "date")
# Fixed namespace, so a row has the same vector id in every store and every run.
_VECTOR_ID_NAMESPACE = uuid.UUID("6f4f3c2e-9a57-5b1e-8d2a-0b6a1c9e7f10")


@dataclass(frozen=True)
class Field:
    """A property carried beside each vector."""

    name: str
    kind: FieldKind
    filterable: bool = True  # a search may filter or sort on it (Weaviate indexes it for filters)


@dataclass(frozen=True)
class SourceSpec:
    """One synced table, declared by the domain that owns it."""

    name: str  # singular, lower case: the vector ids' prefix ("listing")
    table: str  # the source table ("listings")
    key: str  # its primary key column ("id")
    partition: str  # the column that names a row's partition ("area", generated in the table's DDL)
    fields: tuple[Field, ...]  # what each vector object carries, in order
    # The fields whose words keyword search reads, in the order Postgres's full text joins them
    # (Weaviate's BM25 reads the `text` ones among them).
    word_fields: tuple[str, ...]
    store_key: str  # the key's name in the vector store ("listing_id")
    vector_table: str  # pgvector's table ("listing_vectors")
    sync_table: str  # the synced version of each row, by `store_key` ("listing_sync")
    tombstone_table: str  # the version at which each deleted row went, by `store_key` ("listing_tombstones")
    collection: str  # Weaviate's collection, unless configured otherwise ("Listing")
    # Bumped when `fields` changes: a store built for another layout is rebuilt (pgvector) or refused (Weaviate).
    layout_version: str

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields)

    def field(self, name: str) -> Field:
        return next(field for field in self.fields if field.name == name)

    def fields_of(self, *kinds: FieldKind) -> tuple[Field, ...]:
        return tuple(field for field in self.fields if field.kind in kinds)

    @property
    def sortable(self) -> tuple[str, ...]:
        """Fields an ordered (structured) search may sort on, besides the key."""
        return tuple(f.name for f in self.fields if f.kind in SORTABLE_KINDS and f.filterable)

    def vector_id(self, key: int) -> str:
        """uuid5 of the source and key: syncing a row again overwrites its object, never duplicates it."""
        return str(uuid.uuid5(_VECTOR_ID_NAMESPACE, f"{self.name}:{int(key)}"))


class StoreQuery(Protocol):
    """What a store needs of a validated search (search/query.py's SearchQuery is one), in the source's
    field names: the stores build their filters from these and know nothing of the search's parameters."""

    text: str
    mode: str  # "semantic", "hybrid" or "keyword"
    alpha: float
    limit: int

    @property
    def is_structured(self) -> bool: ...

    @property
    def has_filters(self) -> bool: ...

    def equality_filters(self) -> dict[str, str]:
        """{field: value}: keyword fields equal to these values."""

    def range_filters(self) -> list[tuple[str, str, float]]:
        """(field, ">=" or "<=", bound) on number fields."""

    def set_filters(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(field, "in" or "not in", values): keyword fields equal to any / none of these values."""

    def bool_filters(self) -> dict[str, bool]:
        """{field: value}: bool fields equal to these values (a row without a value matches neither)."""

    def list_filters(self) -> list[tuple[str, tuple[str, ...]]]:
        """(field, values): list fields holding every one of these values."""

    def sort_order(self) -> Optional[tuple[str, bool]]:
        """(field, descending), or None: by key."""
