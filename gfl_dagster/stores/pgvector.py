"""pgvector backend: vectors and their properties in the source Postgres."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from sqlalchemy import Engine

from gfl_dagster.db import pgvector_sql as sql
from gfl_dagster.db import search_sql
from gfl_dagster.listings.identity import vector_id
from gfl_dagster.search.query import SearchQuery
from gfl_dagster.stores.contract import FIELD_NAMES, LAYOUT_VERSION, StoredVector, VectorItem


def _row_params(item: VectorItem) -> dict[str, Any]:
    params = {name: item.properties.get(name) for name in FIELD_NAMES}
    params.update(listing_id=item.listing_id, version=item.version)
    return params


class PgVectorStore:
    name = "pgvector"

    def __init__(self, engine: Engine):
        self.engine = engine

    def ensure(self, dimension: int, model: str) -> None:
        """Create the table for this model; rebuild it when the model, dimension or field layout changed.

        Vectors are derived data: after a model switch the next sync re-embeds
        every listing from the source, which is untouched.
        """
        with self.engine.connect() as connection:
            ready = connection.execute(sql.STORE_READY).first()
        wanted = (model, dimension, LAYOUT_VERSION)
        if ready is not None and tuple(ready) == wanted:
            return  # no DDL, no table lock: runs of other areas keep writing
        with self.engine.begin() as connection:
            connection.execute(sql.LOCK_STORE)
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
            current = connection.execute(sql.READ_META).first()
            if current is not None and tuple(current) != wanted:
                connection.execute(sql.DROP_VECTORS)
                connection.execute(sql.FORGET_SYNC_STATE)
            for statement in sql.create_vectors(dimension):
                connection.exec_driver_sql(statement)
            connection.execute(sql.WRITE_META, {"model": model, "dimension": dimension, "layout": LAYOUT_VERSION})

    def upsert(self, items: Sequence[VectorItem]) -> None:
        rows = []
        for item in items:
            params = _row_params(item)
            params.update(id=vector_id(item.listing_id), embed_hash=item.embed_hash,
                          embedding=[float(x) for x in item.vector or ()])
            rows.append(params)
        if rows:
            with self.engine.begin() as connection:
                connection.execute(sql.UPSERT_VECTOR, rows)

    def update_properties(self, items: Sequence[VectorItem]) -> None:
        if items:
            with self.engine.begin() as connection:
                connection.execute(sql.UPDATE_PROPERTIES, [_row_params(item) for item in items])

    def delete(self, listing_ids: Sequence[int]) -> None:
        if listing_ids:
            with self.engine.begin() as connection:
                connection.execute(sql.DELETE_VECTORS, {"ids": list(listing_ids)})

    def versions(self, area: str) -> dict[int, int]:
        with self.engine.connect() as connection:
            return {row.listing_id: row.source_version for row in connection.execute(sql.VERSIONS_IN_AREA, {"area": area})}

    def get(self, listing_id: int) -> Optional[StoredVector]:
        with self.engine.connect() as connection:
            row = connection.execute(sql.VECTOR_BY_ID, {"listing_id": listing_id}).mappings().first()
        if row is None:
            return None
        properties = _hit({**row, "score": 0.0})
        del properties["score"]
        return StoredVector(row["listing_id"], row["source_version"], row["embed_hash"], properties, row["dimension"])

    def search(self, query: SearchQuery, vector: Optional[Sequence[float]]) -> list[dict[str, Any]]:
        """See VectorStore.search; why filtered queries skip the HNSW index: db/search_sql.py."""
        built = search_sql.search_sql(query, vector)
        with self.engine.begin() as connection:  # a transaction: ef_search is set for it only
            if built.ef_search is not None:
                connection.execute(search_sql.SET_EF_SEARCH, {"ef_search": str(built.ef_search)})
            return [_hit(row) for row in connection.execute(built.statement, built.params).mappings()]

    def live_model(self) -> Optional[str]:
        from gfl_dagster.stores.generations import live_model

        return live_model(self.engine)

    def drop(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(sql.DROP_VECTORS)
            connection.execute(sql.FORGET_SYNC_STATE)
            connection.execute(sql.FORGET_META)

    def close(self) -> None:
        """The engine belongs to the database resource; nothing to release."""


def _hit(row: Any) -> dict[str, Any]:
    score = row["score"]
    hit = {"id": row["listing_id"], **{name: row[name] for name in FIELD_NAMES},
           "score": None if score is None else float(score)}
    if hit["last_review"] is not None:
        hit["last_review"] = hit["last_review"].isoformat()
    return hit
