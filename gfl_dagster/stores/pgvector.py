"""pgvector backend: one source's vectors and their properties in the source Postgres."""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

from sqlalchemy import Engine

from gfl_dagster.db import pgvector_sql, search_sql
from gfl_dagster.spec import SourceSpec, StoreQuery
from gfl_dagster.stores.contract import LIST_PAGE, StoredObject, StoredVector, VectorItem, comparable_properties


class PgVectorStore:
    name = "pgvector"

    def __init__(self, engine: Engine, spec: SourceSpec):
        self.engine = engine
        self.spec = spec
        self.sql = pgvector_sql.statements(spec)

    def _row_params(self, item: VectorItem) -> dict[str, Any]:
        params = {name: item.properties.get(name) for name in self.spec.field_names}
        params.update(key=item.key, version=item.version)
        return params

    def ensure(self, dimension: int, model: str) -> None:
        """Create the table for this model; rebuild it when the model, dimension or field layout changed.

        Vectors are derived data: after a model switch the next sync re-embeds
        every row from the source, which is untouched.
        """
        with self.engine.connect() as connection:
            ready = connection.execute(self.sql.store_ready).first()
        wanted = (model, dimension, self.spec.layout_version)
        if ready is not None and tuple(ready) == wanted:
            return  # no DDL, no table lock: runs of other areas keep writing
        with self.engine.begin() as connection:
            connection.execute(pgvector_sql.LOCK_STORE)
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
            current = connection.execute(self.sql.read_meta).first()
            if current is not None and tuple(current) != wanted:
                connection.execute(self.sql.drop_vectors)
                connection.execute(self.sql.forget_sync_state)
            for statement in pgvector_sql.create_vectors(self.spec, dimension):
                connection.exec_driver_sql(statement)
            connection.execute(self.sql.write_meta, {"model": model, "dimension": dimension,
                                                     "layout": self.spec.layout_version})

    def upsert(self, items: Sequence[VectorItem]) -> None:
        rows = []
        for item in items:
            params = self._row_params(item)
            params.update(id=self.spec.vector_id(item.key), embed_hash=item.embed_hash,
                          embedding=[float(x) for x in item.vector or ()])
            rows.append(params)
        if rows:
            with self.engine.begin() as connection:
                connection.execute(self.sql.upsert_vector, rows)

    def update_properties(self, items: Sequence[VectorItem]) -> None:
        if items:
            with self.engine.begin() as connection:
                connection.execute(self.sql.update_properties, [self._row_params(item) for item in items])

    def delete(self, keys: Sequence[int]) -> None:
        if keys:
            with self.engine.begin() as connection:
                connection.execute(self.sql.delete_vectors, {"keys": list(keys)})

    def versions(self, partition: str) -> dict[int, int]:
        with self.engine.connect() as connection:
            return dict(connection.execute(self.sql.versions_in_partition, {"partition": partition}).all())

    def get(self, key: int) -> Optional[StoredVector]:
        with self.engine.connect() as connection:
            row = connection.execute(self.sql.vector_by_key, {"key": key}).mappings().first()
        if row is None:
            return None
        properties = self._hit({**row, self.spec.store_key: row["key"], "score": 0.0})
        del properties["score"]
        return StoredVector(row["key"], row["source_version"], row["embed_hash"], properties, row["dimension"])

    def vectors(self, keys: Sequence[int]) -> dict[int, list[float]]:
        if not keys:
            return {}
        with self.engine.connect() as connection:
            rows = connection.execute(self.sql.vectors_of_keys, {"keys": list(keys)}).all()
        return {int(row.key): [float(x) for x in row.embedding] for row in rows}

    def objects(self, page_size: int = LIST_PAGE) -> Iterator[StoredObject]:
        with self.engine.connect() as connection:
            if not connection.execute(self.sql.table_exists).scalar():
                return
        after = None
        while True:
            with self.engine.connect() as connection:  # one short read per page: no transaction held open
                statement = self.sql.objects_first_page if after is None else self.sql.objects_page_after
                page = connection.execute(statement, {"after": after, "limit": page_size}).mappings().all()
            for row in page:
                properties = comparable_properties(self.spec, row)
                yield StoredObject(row["vector_id"], row["key"], properties.get(self.spec.partition),
                                   row["source_version"], row["embed_hash"], properties)
            if len(page) < page_size:
                return
            after = page[-1]["vector_id"]

    def search(self, query: StoreQuery, vector: Optional[Sequence[float]]) -> list[dict[str, Any]]:
        """See VectorStore.search; why filtered queries skip the HNSW index: db/search_sql.py."""
        built = search_sql.search_sql(self.spec, query, vector)
        with self.engine.begin() as connection:  # a transaction: ef_search is set for it only
            if built.ef_search is not None:
                connection.execute(search_sql.SET_EF_SEARCH, {"ef_search": str(built.ef_search)})
            return [self._hit(row) for row in connection.execute(built.statement, built.params).mappings()]

    def live_model(self) -> Optional[str]:
        from gfl_dagster.stores.generations import live_model

        return live_model(self.engine, self.spec)

    def drop(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(self.sql.drop_vectors)
            connection.execute(self.sql.forget_sync_state)
            connection.execute(self.sql.forget_meta)

    def close(self) -> None:
        """The engine belongs to the database resource; nothing to release."""

    def _hit(self, row: Any) -> dict[str, Any]:
        score = row["score"]
        hit = {"id": row[self.spec.store_key], **{name: row[name] for name in self.spec.field_names},
               "score": None if score is None else float(score)}
        for field in self.spec.fields_of("date"):
            if hit[field.name] is not None:
                hit[field.name] = hit[field.name].isoformat()
        return hit
