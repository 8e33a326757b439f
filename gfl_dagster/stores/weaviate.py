"""Weaviate backend: one source's vectors and their properties in one Weaviate collection (named by its spec).

Weaviate has no conditional writes, so the guards of the pgvector store are a
read-then-write per chunk here: before writing, the chunk's stored `source_version`s
are read from Weaviate (never overwrite a higher one) and, when the store was given
the source's tombstones, the chunk's tombstone versions (a write older than the
listing's delete must not bring it back). The tombstones stay in Postgres, the one
record of deletes: a copy kept in Weaviate would have to be written by every delete
and would still be read before the write, with the same gap.

The remaining race is that gap: a delete committed and carried to Weaviate between
the read and the write lets the stale object land. It does not last: the writer
records its progress, so the next sync of its area finds the listing gone and deletes
the object (and the nightly reconciliation deletes any object whose listing is gone).
The version guard has the same gap, which matters only when two runs write one
listing at once: runs of one area are serialized, so only a listing moving between
areas can be written by two.

Weaviate reports failures per object: every refused listing is raised in one
RefusedWrites (stores/contract.py) with Weaviate's message, after the rest was written.
"""

import json
import logging
import re
from datetime import date, datetime, time, timezone
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence, TypeVar
from urllib.parse import parse_qs, urlsplit

import weaviate
from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances
from weaviate.classes.data import DataObject
from weaviate.classes.init import Auth
from weaviate.classes.query import Filter, HybridFusion, MetadataQuery, Sort
from weaviate.exceptions import WeaviateInsertManyAllFailedError, UnexpectedStatusCodeError

from gfl_dagster.spec import Field, SourceSpec, StoreQuery
from gfl_dagster.stores import weaviate_filters as weaviate_query
from gfl_dagster.stores.contract import (LIST_PAGE, RefusedWrites, StoredObject, StoredVector, VectorItem,
                                        comparable_properties)

log = logging.getLogger(__name__)

VECTOR_NAME = "default"
# Small enough for one gRPC message (10 MB default) even with 3072-dim vectors and long descriptions.
WRITE_CHUNK = 200
# Keyset pages stay far below Weaviate's QUERY_MAXIMUM_RESULTS (10k) however large an area grows.
PAGE_SIZE = 1000
_CLOUD_HOST = re.compile(r"\.weaviate\.(cloud|network)$", re.IGNORECASE)

# The store-neutral field kinds (spec.py) as Weaviate data types.
_DATA_TYPES = {"text": DataType.TEXT, "keyword": DataType.TEXT, "integer": DataType.INT,
               "number": DataType.NUMBER, "date": DataType.DATE, "bool": DataType.BOOL, "list": DataType.TEXT_ARRAY}
# Refused rows named in the error's message; its `refused` holds them all.
REASONS_SHOWN = 20
T = TypeVar("T")
# keys -> the version at which each of those rows was deleted (rows never deleted are absent).
TombstoneVersions = Callable[[Sequence[int]], Mapping[int, int]]


class WeaviateStoreError(RefusedWrites):
    """Rows Weaviate refused to write or delete, each with Weaviate's message."""

    def __init__(self, action: str, collection: str, refused: Mapping[int, str], attempted: int, noun: str):
        shown = sorted(refused.items())[:REASONS_SHOWN]
        listed = "; ".join(f"{noun} {key}: {reason}" for key, reason in shown)
        more = f"; and {len(refused) - REASONS_SHOWN} more" if len(refused) > REASONS_SHOWN else ""
        super().__init__(f"Weaviate {action} refused {len(refused)} of {attempted} {noun}s in {collection!r}: "
                         f"{listed}{more}", refused)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _property(spec: SourceSpec, field: Field) -> Property:
    """Keywords (and lists of them) are FIELD-tokenized: an area filter on "Bedford" must not match
    "Bedford-Stuyvesant", nor an amenity filter on "washer" match "dishwasher"."""
    if field.kind in ("keyword", "list"):
        return Property(name=field.name, data_type=_DATA_TYPES[field.kind], tokenization=Tokenization.FIELD,
                        index_filterable=field.filterable, index_searchable=False)
    if field.kind == "text":
        return Property(name=field.name, data_type=DataType.TEXT, index_filterable=field.filterable,
                        index_searchable=field.name in spec.word_fields)
    return Property(name=field.name, data_type=_DATA_TYPES[field.kind], index_filterable=True,
                    index_range_filters=field.kind != "bool")


def _schema(spec: SourceSpec) -> list[Property]:
    return [
        Property(name=spec.store_key, data_type=DataType.INT, index_filterable=True, index_range_filters=True),
        Property(name="source_version", data_type=DataType.INT, index_filterable=False),
        Property(name="embed_hash", data_type=DataType.TEXT, index_filterable=False, index_searchable=False),
    ] + [_property(spec, field) for field in spec.fields]


def _to_weaviate(spec: SourceSpec, item: VectorItem, embed_hash: str) -> dict[str, Any]:
    """Coerce to the schema's types (rows may carry Decimal or numpy values); None means absent."""
    properties = {name: value for name, value in comparable_properties(spec, item.properties).items()
                  if value is not None}
    for field in spec.fields_of("date"):
        if field.name in properties:
            properties[field.name] = datetime.combine(date.fromisoformat(properties[field.name]), time(),
                                                      tzinfo=timezone.utc)
    properties.update({spec.store_key: int(item.key)}, source_version=int(item.version), embed_hash=embed_hash)
    return properties


def _from_weaviate(spec: SourceSpec, stored: dict[str, Any]) -> dict[str, Any]:
    properties = {name: stored.get(name) for name in spec.field_names}
    for field in spec.fields_of("date"):
        if isinstance(properties[field.name], datetime):
            properties[field.name] = properties[field.name].date().isoformat()
    properties["id"] = stored[spec.store_key]
    return properties


def _int_or_none(value: Any) -> Optional[int]:
    """An object written by something else than the sync may lack its key or version."""
    return None if value is None else int(value)


def _latest_per_key(items: Sequence[VectorItem]) -> list[VectorItem]:
    """Two writes of one uuid in one Weaviate batch land in no defined order: keep the newest."""
    latest: dict[int, VectorItem] = {}
    for item in items:
        if item.key not in latest or item.version >= latest[item.key].version:
            latest[item.key] = item
    return list(latest.values())


def _not_older(item: VectorItem, *versions: Mapping[int, int]) -> bool:
    """pgvector's upsert condition: the item is not below the stored version nor the tombstone's."""
    return all(known.get(item.key, item.version) <= item.version for known in versions)


def _all_failed_reason(error: WeaviateInsertManyAllFailedError) -> str:
    """The client words it "Every object failed during insertion. Here is the set of all errors: <one a line>"."""
    return error.message.split("Here is the set of all errors: ", 1)[-1].strip()


def _marker(spec: SourceSpec) -> str:
    return f"gfl_dagster {spec.name} vectors "


def _description(spec: SourceSpec, model: str, dimension: int) -> str:
    return _marker(spec) + json.dumps({"model": model, "dimension": int(dimension), "layout": spec.layout_version},
                                      sort_keys=True)


def _parse_description(spec: SourceSpec, description: Optional[str]) -> Optional[tuple[str, int, str]]:
    if not description or not description.startswith(_marker(spec)):
        return None
    try:
        recorded = json.loads(description[len(_marker(spec)):])
        return str(recorded["model"]), int(recorded["dimension"]), str(recorded.get("layout", "1"))
    except (ValueError, KeyError, TypeError):
        return None


def _connect(url: str, api_key: Optional[str]) -> weaviate.WeaviateClient:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or "localhost"
    secure = parts.scheme == "https"
    auth = Auth.api_key(api_key) if api_key else None
    if secure and _CLOUD_HOST.search(host):
        if auth is None:
            raise ValueError(f"Weaviate Cloud at {host} needs WEAVIATE_API_KEY")
        log.info("connecting to Weaviate Cloud at %s", host)
        return weaviate.connect_to_weaviate_cloud(cluster_url=f"https://{host}", auth_credentials=auth)
    query = parse_qs(parts.query)
    http_port = parts.port or (443 if secure else 80)
    grpc_port = int(query.get("grpc_port", ["50051"])[0])
    grpc_host = query.get("grpc_host", [host])[0]
    log.info("connecting to Weaviate at %s:%s (gRPC %s:%s)", host, http_port, grpc_host, grpc_port)
    return weaviate.connect_to_custom(
        http_host=host, http_port=http_port, http_secure=secure,
        grpc_host=grpc_host, grpc_port=grpc_port, grpc_secure=secure, auth_credentials=auth,
    )


class WeaviateStore:
    """URL forms: https://<cluster>.weaviate.cloud (API key auth) or
    http(s)://host:port[?grpc_port=50051&grpc_host=...] for a self-hosted Weaviate."""

    name = "weaviate"

    def __init__(self, url: str, api_key: Optional[str], spec: SourceSpec, collection: Optional[str] = None,
                 tombstones: Optional[TombstoneVersions] = None):
        """`collection` None: the spec's. `tombstones` reads the source's delete versions (its tombstone
        table): without it a late, stale upsert of a deleted row is written, as nothing in Weaviate
        remembers the delete."""
        self.spec = spec
        collection = collection or spec.collection
        collection = collection[:1].upper() + collection[1:]
        if not re.fullmatch(r"[A-Z][_0-9A-Za-z]*", collection):
            raise ValueError(f"invalid Weaviate collection name {collection!r}")
        self.collection_name = collection
        self.tombstones: TombstoneVersions = tombstones or (lambda keys: {})
        self.client = _connect(url, api_key)
        self.collection = self.client.collections.use(collection)

    def ensure(self, dimension: int, model: str) -> None:
        """Create the collection for this model, or refuse one made for another model or dimension.

        Unlike pgvector it is never dropped here: a Weaviate collection may be
        shared or expensive to rebuild, so deleting it is left to a person.
        """
        wanted = (model, int(dimension), self.spec.layout_version)
        if not self.client.collections.exists(self.collection_name):
            try:
                self.client.collections.create(
                    self.collection_name,
                    description=_description(self.spec, model, dimension),
                    vector_config=Configure.Vectors.self_provided(
                        name=VECTOR_NAME,
                        vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE),
                    ),
                    properties=_schema(self.spec),
                )
                return
            except UnexpectedStatusCodeError:
                # Another run may have created it in between; the check below decides.
                if not self.client.collections.exists(self.collection_name):
                    raise
        recorded = _parse_description(self.spec, self.collection.config.get(simple=True).description)
        if recorded != wanted:
            was = ("an unknown model/dimension" if recorded is None
                   else f"model {recorded[0]!r}, dimension {recorded[1]}, field layout {recorded[2]}")
            raise ValueError(
                f"Weaviate collection {self.collection_name!r} holds vectors of {was}, but the embedder is "
                f"model {model!r}, dimension {dimension}, field layout {self.spec.layout_version}. Delete the "
                f"collection (e.g. client.collections.delete({self.collection_name!r})) or configure another "
                f"collection name; the next sync re-embeds every {self.spec.name} from Postgres."
            )

    def live_model(self) -> Optional[str]:
        """Always the configured model: ensure() refuses a collection of another (no generations on Weaviate)."""
        return None

    def _stored(self, keys: Sequence[int], with_vectors: bool = False) -> dict[int, Any]:
        uuids = [self.spec.vector_id(key) for key in keys]
        result = self.collection.query.fetch_objects(
            filters=Filter.by_id().contains_any(uuids), limit=len(uuids), include_vector=with_vectors,
            return_properties=None if with_vectors else [self.spec.store_key, "source_version"],
        )
        return {int(obj.properties[self.spec.store_key]): obj for obj in result.objects}

    def _insert(self, objects: list[DataObject], keys: list[int]) -> dict[int, str]:
        """Weaviate's message for each row it refused (empty: all written)."""
        try:
            result = self.collection.data.insert_many(objects)
        except WeaviateInsertManyAllFailedError as error:
            reason = _all_failed_reason(error)
            if len(objects) == 1 or "\n" not in reason:  # a single reason: every object got it
                return {key: reason for key in keys}
            # Several reasons and no index: ask again one object at a time to learn whose is whose.
            refused: dict[int, str] = {}
            for obj, key in zip(objects, keys):
                refused.update(self._insert([obj], [key]))
            return refused
        return {keys[index]: failure.message for index, failure in result.errors.items()}

    def _write_chunks(self, items: Sequence[VectorItem], action: str,
                      build: Callable[[Sequence[VectorItem]], tuple[list[DataObject], list[int]]]) -> None:
        """Write every chunk (`build` keeps what may be written), then raise every refusal at once:
        one refused row must not hold back the chunks after it."""
        refused: dict[int, str] = {}
        latest = _latest_per_key(items)
        for chunk in _chunks(latest, WRITE_CHUNK):
            objects, keys = build(chunk)
            if objects:
                refused.update(self._insert(objects, keys))
        if refused:
            raise WeaviateStoreError(action, self.collection_name, refused, len(latest), self.spec.name)

    def upsert(self, items: Sequence[VectorItem]) -> None:
        self._write_chunks(items, "upsert", self._upsert_objects)

    def _upsert_objects(self, chunk: Sequence[VectorItem]) -> tuple[list[DataObject], list[int]]:
        keys = [item.key for item in chunk]
        stored = {key: obj.properties["source_version"] for key, obj in self._stored(keys).items()}
        tombstones = self.tombstones(keys)
        fresh = [item for item in chunk if _not_older(item, stored, tombstones)]
        for item in fresh:
            if not item.vector:
                raise ValueError(f"upsert of {self.spec.name} {item.key} has no vector")
        objects = [DataObject(properties=_to_weaviate(self.spec, item, item.embed_hash),
                              uuid=self.spec.vector_id(item.key),
                              vector={VECTOR_NAME: [float(x) for x in item.vector or ()]})
                   for item in fresh]
        return objects, [item.key for item in fresh]

    def update_properties(self, items: Sequence[VectorItem]) -> None:
        """Rewrites each object with its stored vector and embed hash: one batch instead of a PATCH per row.

        Unlike a PATCH, a rewrite recreates an object deleted after it was read, so the tombstones
        are checked here too: only a delete carried out between that check and the write slips
        through (the race in the module docstring).
        """
        self._write_chunks(items, "property update", self._property_objects)

    def _property_objects(self, chunk: Sequence[VectorItem]) -> tuple[list[DataObject], list[int]]:
        keys = [item.key for item in chunk]
        stored = self._stored(keys, with_vectors=True)
        versions = {key: obj.properties["source_version"] for key, obj in stored.items()}
        tombstones = self.tombstones(keys)
        objects, written = [], []
        for item in chunk:
            current = stored.get(item.key)
            if current is None or not _not_older(item, versions, tombstones):
                continue
            embed_hash = current.properties.get("embed_hash") or item.embed_hash
            objects.append(DataObject(properties=_to_weaviate(self.spec, item, embed_hash),
                                      uuid=self.spec.vector_id(item.key),
                                      vector={VECTOR_NAME: current.vector[VECTOR_NAME]}))
            written.append(item.key)
        return objects, written

    def delete(self, keys: Sequence[int]) -> None:
        refused: dict[int, str] = {}
        for chunk in _chunks(list(keys), WRITE_CHUNK):
            by_uuid = {self.spec.vector_id(key): key for key in chunk}
            result = self.collection.data.delete_many(where=Filter.by_id().contains_any(list(by_uuid)), verbose=True)
            if result.failed:
                named = {by_uuid[str(obj.uuid)]: obj.error or "no reason given"
                         for obj in result.objects or () if not obj.successful}
                unnamed = f"Weaviate counted {result.failed} failed deletes without naming them"
                refused.update(named or {key: unnamed for key in chunk})
        if refused:
            raise WeaviateStoreError("delete", self.collection_name, refused, len(keys), self.spec.name)

    def versions(self, partition: str) -> dict[int, int]:
        """Keyset pages over the key: Weaviate's cursor API cannot be combined with a filter."""
        versions: dict[int, int] = {}
        key = self.spec.store_key
        last = None
        while True:
            where = Filter.by_property(self.spec.partition).equal(partition)
            if last is not None:
                where = where & Filter.by_property(key).greater_than(last)
            page = self.collection.query.fetch_objects(
                filters=where, sort=Sort.by_property(key, ascending=True), limit=PAGE_SIZE,
                return_properties=[key, "source_version"],
            ).objects
            for obj in page:
                versions[int(obj.properties[key])] = int(obj.properties["source_version"])
            if len(page) < PAGE_SIZE:
                return versions
            last = int(page[-1].properties[key])

    def get(self, key: int) -> Optional[StoredVector]:
        obj = self.collection.query.fetch_object_by_id(self.spec.vector_id(key), include_vector=True)
        if obj is None:
            return None
        vector = obj.vector.get(VECTOR_NAME) or []
        return StoredVector(int(obj.properties[self.spec.store_key]), int(obj.properties["source_version"]),
                            str(obj.properties.get("embed_hash") or ""), _from_weaviate(self.spec, obj.properties),
                            len(vector))

    def vectors(self, keys: Sequence[int]) -> dict[int, list[float]]:
        found: dict[int, list[float]] = {}
        for chunk in _chunks(list(keys), WRITE_CHUNK):
            found.update({key: [float(x) for x in obj.vector[VECTOR_NAME]]
                          for key, obj in self._stored(chunk, with_vectors=True).items()})
        return found

    def objects(self, page_size: int = LIST_PAGE) -> Iterator[StoredObject]:
        """Weaviate's cursor (`after` a uuid, in uuid order): unlike keyset pages over the key, it sees every
        copy of a key, and it is not bounded by the 10k result window."""
        if not self.client.collections.exists(self.collection_name):
            return
        key, after = self.spec.store_key, None
        while True:
            page = self.collection.query.fetch_objects(after=after, limit=page_size).objects
            for obj in page:
                stored = obj.properties
                properties = comparable_properties(self.spec, _from_weaviate(self.spec, {key: None, **stored}))
                yield StoredObject(str(obj.uuid), _int_or_none(stored.get(key)), properties.get(self.spec.partition),
                                   _int_or_none(stored.get("source_version")), str(stored.get("embed_hash") or ""),
                                   properties)
            if len(page) < page_size:
                return
            after = page[-1].uuid

    def search(self, query: StoreQuery, vector: Optional[Sequence[float]]) -> list[dict[str, Any]]:
        """See VectorStore.search: near_vector, native hybrid (relative score fusion), bm25, or filters + sort."""
        search = self.collection.query
        if query.is_structured:
            filters, sort = weaviate_query.structured_filters_and_sort(self.spec, query)
            result = search.fetch_objects(filters=filters, sort=sort, limit=query.limit)
            return [self._hit(obj, None) for obj in result.objects]
        filters = weaviate_query.search_filters(self.spec, query)
        if query.mode == "keyword":
            result = search.bm25(query.text, filters=filters, limit=query.limit,
                                 return_metadata=MetadataQuery(score=True))
            return [self._hit(obj, obj.metadata.score) for obj in result.objects]
        if vector is None:
            raise ValueError(f"{query.mode} search needs the query vector")
        vector = [float(x) for x in vector]
        if query.mode == "hybrid":
            result = search.hybrid(query.text, vector=vector, alpha=query.alpha, target_vector=VECTOR_NAME,
                                   fusion_type=HybridFusion.RELATIVE_SCORE, filters=filters, limit=query.limit,
                                   return_metadata=MetadataQuery(score=True))
            return [self._hit(obj, obj.metadata.score) for obj in result.objects]
        result = search.near_vector(vector, target_vector=VECTOR_NAME, filters=filters, limit=query.limit,
                                    return_metadata=MetadataQuery(distance=True))
        return [self._hit(obj, 1.0 - obj.metadata.distance) for obj in result.objects]

    def drop(self) -> None:
        self.client.collections.delete(self.collection_name)

    def close(self) -> None:
        self.client.close()


    def _hit(self, obj: Any, score: Optional[float]) -> dict[str, Any]:
        return {**_from_weaviate(self.spec, obj.properties), "score": None if score is None else float(score)}
