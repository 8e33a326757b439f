"""pgvector backend: vectors and their properties in the source Postgres."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from sqlalchemy import Engine

from gfl_dagster.db import vector_queries as sql
from gfl_dagster.listings.identity import vector_id
from gfl_dagster.resources.vector_store import StoredVector, VectorItem


def _vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


def _row_params(item: VectorItem) -> dict[str, Any]:
    params = {name: item.properties.get(name) for name in sql.PROPERTY_COLUMNS}
    params.update(listing_id=item.listing_id, version=item.version)
    return params


class PgVectorStore:
    name = "pgvector"

    def __init__(self, engine: Engine):
        self.engine = engine

    def ensure(self, dimension: int, model: str) -> None:
        """Create the table for this model; rebuild it when the model or dimension changed.

        Vectors are derived data: after a model switch the next sync re-embeds
        every listing from the source, which is untouched.
        """
        with self.engine.begin() as connection:
            connection.execute(sql.LOCK_STORE)
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
            connection.execute(sql.CREATE_META)
            current = connection.execute(sql.READ_META).first()
            if current is not None and (current.model, current.dimension) != (model, dimension):
                connection.execute(sql.DROP_VECTORS)
                connection.execute(sql.FORGET_SYNC_STATE)
            for statement in sql.create_vectors(dimension):
                connection.exec_driver_sql(statement)
            connection.execute(sql.WRITE_META, {"model": model, "dimension": dimension})

    def upsert(self, items: Sequence[VectorItem]) -> None:
        rows = []
        for item in items:
            params = _row_params(item)
            params.update(id=vector_id(item.listing_id), embed_hash=item.embed_hash,
                          embedding=_vector_literal(item.vector or ()))
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

    def nearest(self, vector: Sequence[float], limit: int) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(sql.NEAREST, {"query": _vector_literal(vector), "limit": limit}).mappings()
            return [_hit(row) for row in rows]

    def close(self) -> None:
        """The engine belongs to the database resource; nothing to release."""


def _hit(row: Any) -> dict[str, Any]:
    hit = {"id": row["listing_id"], **{name: row[name] for name in sql.PROPERTY_COLUMNS}, "score": float(row["score"])}
    if hit["last_review"] is not None:
        hit["last_review"] = hit["last_review"].isoformat()
    return hit
