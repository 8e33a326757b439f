"""Contract of the Weaviate vector store, run against a fake Weaviate and, when WEAVIATE_URL is set, a real one.

No Weaviate server is packaged on PyPI or Debian, and embedded Weaviate downloads its
binary at run time, so the fake below stands in at the network boundary: the real
weaviate-client talks to it over REST (meta, readiness, schema) and gRPC (batch,
search, delete), using the protobuf services shipped in `weaviate.proto.v1`. It
serves objects from a dict and mimics the server behaviour the store relies on:
typed properties per schema, filters, sort, the default limit of 10, the 10k
result window, the fixed vector dimension of an index, and the rankings search
uses: near_vector (cosine distance), bm25 and hybrid (relative score fusion).
"""

import json
import logging
import math
import os
import re
import struct
import threading
import time
import uuid
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health, health_pb2_grpc
from weaviate.classes.config import Tokenization, VectorDistances
from weaviate.proto.v1 import base_pb2, batch_delete_pb2, batch_pb2, properties_pb2, search_get_pb2
from weaviate.proto.v1 import weaviate_pb2_grpc

from gfl_dagster.stores.contract import FIELD_NAMES
from gfl_dagster.listings.identity import vector_id
from gfl_dagster.stores import weaviate as weaviate_store
from gfl_dagster.stores.contract import VectorItem
from gfl_dagster.stores.weaviate import WeaviateStore, WeaviateStoreError

# What a real Weaviate fills in for an HNSW index; the client's config parser requires these keys.
_HNSW_DEFAULTS = {
    "cleanupIntervalSeconds": 300, "distance": "cosine", "dynamicEfMin": 100, "dynamicEfMax": 500,
    "dynamicEfFactor": 8, "ef": -1, "efConstruction": 128, "flatSearchCutoff": 40000, "maxConnections": 32,
    "skip": False, "vectorCacheMaxObjects": 1000000000000,
}
_Op = base_pb2.Filters
_VALUE_KIND = {"int": "int_value", "number": "number_value", "date": "date_value"}


class FakeWeaviate(weaviate_pb2_grpc.WeaviateServicer):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.schemas: dict[str, dict] = {}
        self.objects: dict[str, dict[str, dict]] = {}  # collection -> uuid -> {"props", "vectors", "time"}
        self.dimensions: dict[tuple[str, str], int] = {}
        self.rest = ThreadingHTTPServer(("127.0.0.1", 0), _rest_handler(self))
        self.grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        weaviate_pb2_grpc.add_WeaviateServicer_to_server(self, self.grpc)
        health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), self.grpc)
        grpc_port = self.grpc.add_insecure_port("127.0.0.1:0")
        self.url = f"http://127.0.0.1:{self.rest.server_port}?grpc_port={grpc_port}"

    def start(self) -> None:
        self.grpc.start()
        threading.Thread(target=self.rest.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.rest.shutdown()
        self.grpc.stop(grace=None)

    # --- REST -------------------------------------------------------------
    def create_collection(self, config: dict) -> tuple[int, dict]:
        name = config["class"]
        if name in self.schemas:
            return 422, {"error": [{"message": f"class name {name!r} already exists"}]}
        for prop in config.get("properties", []):
            prop.setdefault("indexFilterable", True)
            prop.setdefault("indexSearchable", prop["dataType"] == ["text"])
            if prop["dataType"] == ["text"]:
                prop.setdefault("tokenization", "word")
        for vector in config.get("vectorConfig", {}).values():
            vector["vectorIndexConfig"] = {**_HNSW_DEFAULTS, **vector.get("vectorIndexConfig", {})}
        self.schemas[name], self.objects[name] = config, {}
        return 200, config

    # --- gRPC -------------------------------------------------------------
    def BatchObjects(self, request, context):
        errors = []
        with self.lock:
            for index, obj in enumerate(request.objects):
                try:
                    self._put(obj)
                except ValueError as error:
                    errors.append(batch_pb2.BatchObjectsReply.BatchError(index=index, error=str(error)))
        return batch_pb2.BatchObjectsReply(took=0.0, errors=errors)

    def _put(self, obj) -> None:
        types = self._types(obj.collection)
        props = json_format.MessageToDict(obj.properties.non_ref_properties)
        for name, value in props.items():
            if name not in types:
                raise ValueError(f"no such prop with name '{name}' found in class '{obj.collection}'")
            if types[name] == "int":
                if float(value) != int(value):
                    raise ValueError(f"invalid integer property '{name}': {value}")
                props[name] = int(value)
        vectors = {v.name: list(struct.unpack(f"<{len(v.vector_bytes) // 4}f", v.vector_bytes)) for v in obj.vectors}
        for name, vector in vectors.items():
            known = self.dimensions.setdefault((obj.collection, name), len(vector))
            if known != len(vector):
                raise ValueError(f"new node has a vector with length {len(vector)}. "
                                 f"Existing nodes have vectors with length {known}")
        self.objects[obj.collection][obj.uuid] = {"props": props, "vectors": vectors, "time": int(time.time() * 1000)}

    def _types(self, collection: str) -> dict[str, str]:
        if collection not in self.schemas:
            raise ValueError(f"class {collection!r} not found")
        return {p["name"]: p["dataType"][0] for p in self.schemas[collection]["properties"]}

    def Search(self, request, context):
        searches = ("near_", "hybrid", "bm25", "group")
        ranked_by = [f.name for f, _ in request.ListFields() if f.name.startswith(searches)]
        unsupported = [name for name in ranked_by if name not in _RANKINGS]
        if request.after or unsupported:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"fake Weaviate does not do {unsupported or 'after'}")
        limit = request.limit or 10
        if request.offset + limit > 10000:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "query maximum results exceeded")
        with self.lock:
            types = self._types_or_abort(request.collection, context)
            hits = self._matching(request.collection, request.filters if request.HasField("filters") else None)
            corpus = [stored for _, stored in self._matching(request.collection, None)]
            searchable = [p["name"] for p in self.schemas[request.collection]["properties"]
                          if p["dataType"] == ["text"] and p.get("indexSearchable")]
        if ranked_by:
            ranked = _RANKINGS[ranked_by[0]](getattr(request, ranked_by[0]), hits, corpus, searchable)
        else:
            for sort in reversed(request.sort_by):
                key = sort.path[0]
                hits.sort(key=lambda hit: (hit[1]["props"].get(key) is None, hit[1]["props"].get(key) or 0),
                          reverse=not sort.ascending)
            ranked = [(uid, stored, {}) for uid, stored in hits]
        wanted = None if request.properties.return_all_nonref_properties or not request.HasField("properties") \
            else set(request.properties.non_ref_properties)
        results = [self._result(uid, stored, types, wanted, request.metadata, scores)
                   for uid, stored, scores in ranked[request.offset:request.offset + limit]]
        return search_get_pb2.SearchReply(took=0.0, results=results)

    def _types_or_abort(self, collection, context) -> dict[str, str]:
        try:
            return self._types(collection)
        except ValueError as error:
            context.abort(grpc.StatusCode.NOT_FOUND, str(error))

    def _result(self, uid: str, stored: dict, types: dict, wanted: Optional[set], metadata, scores: dict):
        fields = {}
        for name, value in stored["props"].items():
            if wanted is None or name in wanted:
                kind = _VALUE_KIND.get(types[name], "text_value")
                fields[name] = properties_pb2.Value(**{kind: value})
        meta = search_get_pb2.MetadataResult(id=uid, id_as_bytes=uuid.UUID(uid).bytes)
        for name, value in scores.items():  # distance (near_vector) or score (bm25, hybrid)
            setattr(meta, name, value)
            setattr(meta, f"{name}_present", True)
        if metadata.vector or metadata.vectors:
            meta.vectors.extend(base_pb2.Vectors(name=name, vector_bytes=struct.pack(f"<{len(v)}f", *v),
                                                 type=base_pb2.Vectors.VECTOR_TYPE_SINGLE_FP32)
                                for name, v in stored["vectors"].items())
        if metadata.creation_time_unix or metadata.last_update_time_unix:
            meta.creation_time_unix, meta.creation_time_unix_present = stored["time"], True
            meta.last_update_time_unix, meta.last_update_time_unix_present = stored["time"], True
        return search_get_pb2.SearchResult(properties=search_get_pb2.PropertiesResult(
            non_ref_props=properties_pb2.Properties(fields=fields)), metadata=meta)

    def BatchDelete(self, request, context):
        with self.lock:
            self._types_or_abort(request.collection, context)
            hits = self._matching(request.collection, request.filters)
            if not request.dry_run:
                for uid, _ in hits:
                    del self.objects[request.collection][uid]
        objects = [batch_delete_pb2.BatchDeleteObject(uuid=uuid.UUID(uid).bytes, successful=True)
                   for uid, _ in hits] if request.verbose else []
        return batch_delete_pb2.BatchDeleteReply(took=0.0, failed=0, matches=len(hits), successful=len(hits),
                                                 objects=objects)

    def _matching(self, collection: str, where) -> list[tuple[str, dict]]:
        return [(uid, stored) for uid, stored in sorted(self.objects[collection].items())
                if where is None or _test(where, uid, stored["props"])]


def _test(where, uid: str, props: dict) -> bool:
    if where.operator in (_Op.OPERATOR_AND, _Op.OPERATOR_OR):
        combine = all if where.operator == _Op.OPERATOR_AND else any
        return combine(_test(inner, uid, props) for inner in where.filters)
    target = where.target.property or where.on[0]
    actual = uid if target == "_id" else props.get(target)
    kind = where.WhichOneof("test_value")
    expected = getattr(where, kind)
    if kind.endswith("_array"):
        expected = list(expected.values)
    if actual is None:
        return False
    if where.operator == _Op.OPERATOR_EQUAL:
        return actual == expected
    if where.operator == _Op.OPERATOR_GREATER_THAN:
        return actual > expected
    if where.operator == _Op.OPERATOR_GREATER_THAN_EQUAL:
        return actual >= expected
    if where.operator == _Op.OPERATOR_LESS_THAN:
        return actual < expected
    if where.operator == _Op.OPERATOR_LESS_THAN_EQUAL:
        return actual <= expected
    if where.operator == _Op.OPERATOR_CONTAINS_ANY:
        return actual in expected
    raise NotImplementedError(f"fake Weaviate has no filter operator {where.operator}")


# --- ranking: near_vector, bm25 and hybrid (relative score fusion), as Weaviate defines them -------------

_WORD = re.compile(r"[^\W_]+")  # Weaviate's "word" tokenization: alphanumeric runs, lower-cased


def _query_vector(search) -> list[float]:
    packed = search.vector_bytes or (search.vectors[0].vector_bytes if search.vectors else b"")
    return list(struct.unpack(f"<{len(packed) // 4}f", packed))


def _cosine_distance(a: list[float], b: list[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return 1.0 - (sum(x * y for x, y in zip(a, b)) / norm if norm else 0.0)


def _near_vector(search, hits, corpus, searchable) -> list[tuple[str, dict, dict]]:
    query = _query_vector(search)
    scored = [(uid, stored, {"distance": _cosine_distance(query, next(iter(stored["vectors"].values())))})
              for uid, stored in hits]
    return sorted(scored, key=lambda hit: hit[2]["distance"])


def _tokens(props: dict, names: list[str]) -> list[str]:
    return [word for name in names for word in _WORD.findall(str(props.get(name) or "").lower())]


def _bm25(search, hits, corpus, searchable, k1: float = 1.2, b: float = 0.75) -> list[tuple[str, dict, dict]]:
    """BM25 over the searchable properties taken as one field; statistics over the whole collection."""
    names = list(search.properties) or searchable
    documents = [_tokens(stored["props"], names) for stored in corpus]
    average = sum(map(len, documents)) / max(len(documents), 1) or 1.0
    terms = set(_WORD.findall(search.query.lower()))
    idf = {t: math.log(1 + (len(documents) - n + 0.5) / (n + 0.5))
           for t in terms for n in [sum(t in document for document in documents)]}
    scored = []
    for uid, stored in hits:
        words = _tokens(stored["props"], names)
        score = sum(idf[t] * words.count(t) * (k1 + 1) / (words.count(t) + k1 * (1 - b + b * len(words) / average))
                    for t in terms if t in words)
        if score > 0:
            scored.append((uid, stored, {"score": score}))
    return sorted(scored, key=lambda hit: -hit[2]["score"])


def _normalized(values: dict[str, float], higher_is_better: bool) -> dict[str, float]:
    if not values:
        return {}
    low, high = min(values.values()), max(values.values())
    if high == low:
        return {uid: 1.0 for uid in values}
    return {uid: (v - low if higher_is_better else high - v) / (high - low) for uid, v in values.items()}


def _hybrid(search, hits, corpus, searchable) -> list[tuple[str, dict, dict]]:
    """relativeScoreFusion: each side min-max normalised, alpha * vector + (1 - alpha) * keyword."""
    if search.fusion_type not in (search.FUSION_TYPE_RELATIVE_SCORE, search.FUSION_TYPE_UNSPECIFIED):
        raise NotImplementedError("fake Weaviate fuses hybrid results by relative score only")
    vector_side = _normalized({uid: meta["distance"] for uid, _, meta in _near_vector(search, hits, corpus, searchable)},
                              higher_is_better=False)
    keyword_side = _normalized({uid: meta["score"] for uid, _, meta in _bm25(search, hits, corpus, searchable)},
                               higher_is_better=True)
    stored_by_uid = dict(hits)
    fused = [(uid, stored_by_uid[uid], {"score": search.alpha * vector_side.get(uid, 0.0)
                                        + (1 - search.alpha) * keyword_side.get(uid, 0.0)})
             for uid in set(vector_side) | set(keyword_side)]
    return sorted(fused, key=lambda hit: (-hit[2]["score"], hit[0]))


_RANKINGS = {"near_vector": _near_vector, "bm25_search": _bm25, "hybrid_search": _hybrid}


def _rest_handler(fake: FakeWeaviate) -> type:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: Any = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/v1/meta":
                return self._reply(200, {"version": "1.32.0", "hostname": "http://fake", "modules": {}})
            if path in ("/v1/.well-known/ready", "/v1/.well-known/live"):
                return self._reply(200)
            if path.startswith("/v1/schema/"):
                schema = fake.schemas.get(path.rsplit("/", 1)[1])
                return self._reply(200, schema) if schema else self._reply(404)
            self._reply(404)

        def do_POST(self) -> None:
            if self.path != "/v1/schema":
                return self._reply(404)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with fake.lock:
                self._reply(*fake.create_collection(body))

        def do_DELETE(self) -> None:
            if not self.path.startswith("/v1/schema/"):
                return self._reply(404)
            name = self.path.rsplit("/", 1)[1]
            with fake.lock:
                fake.schemas.pop(name, None)
                fake.objects.pop(name, None)
                fake.dimensions = {key: dim for key, dim in fake.dimensions.items() if key[0] != name}
            self._reply(200)

        def log_message(self, *args: Any) -> None:
            """Keep pytest output quiet."""

    return Handler


# --- fixtures ------------------------------------------------------------------------------------------

@pytest.fixture(params=["fake", "real"])
def server(request) -> tuple[str, Optional[str]]:
    if request.param == "fake":
        return request.getfixturevalue("fake_weaviate").url, None
    url = os.environ.get("WEAVIATE_URL")
    if not url:
        pytest.skip("real Weaviate not configured: set WEAVIATE_URL (e.g. http://localhost:8080, "
                    "http://host:8080?grpc_port=50051 or https://<cluster>.weaviate.cloud) and, for a cluster "
                    "with auth, WEAVIATE_API_KEY, then rerun this file")
    return url, os.environ.get("WEAVIATE_API_KEY")


@pytest.fixture
def store(server):
    url, api_key = server
    store = WeaviateStore(url, api_key, f"GflTest{uuid.uuid4().hex[:12]}")
    try:
        yield store
    finally:
        store.client.collections.delete(store.collection_name)
        store.close()


def item(listing_id: int, version: int, area: str = "Manhattan", vector: Optional[list] = None,
         **overrides: Any) -> VectorItem:
    properties = {
        "id": listing_id, "name": f"Loft {listing_id}", "description": "Sunny loft near the park.",
        "area": area, "neighbourhood_group": area, "neighbourhood": "Harlem", "room_type": "Entire home/apt", "price": 150.0,
        "minimum_nights": 2, "number_of_reviews": 12, "reviews_per_month": 0.5, "availability_365": 200,
        "last_review": "2019-05-21", "latitude": 40.81, "longitude": -73.95,
    }
    properties.update(overrides)
    return VectorItem(listing_id, version, f"hash-{listing_id}-{version}", properties, vector)


VEC = [0.5, -0.25, 0.125, 1.0]  # exact in float32, so round trips compare equal


# --- tests ---------------------------------------------------------------------------------------------

def test_contract(store, monkeypatch):
    store.ensure(4, "test-model")
    store.ensure(4, "test-model")  # idempotent
    with pytest.raises(ValueError) as refused:
        store.ensure(8, "other-model")
    for words in (store.collection_name, "test-model", "4", "other-model", "8", "Delete"):
        assert words in str(refused.value)

    config = store.collection.config.get(simple=True)
    assert set(FIELD_NAMES) | {"listing_id", "source_version", "embed_hash"} == {p.name for p in config.properties}
    props = {p.name: p for p in config.properties}
    assert props["name"].index_searchable and props["description"].index_searchable
    assert props["neighbourhood_group"].tokenization == Tokenization.FIELD and props["listing_id"].index_filterable
    assert config.vector_config["default"].vector_index_config.distance_metric == VectorDistances.COSINE

    store.upsert([item(1, 5, vector=VEC), item(2, 5, "Brooklyn", vector=VEC), item(3, 5, vector=VEC)])
    got = store.get(1)
    assert (got.listing_id, got.version, got.embed_hash, got.dimension) == (1, 5, "hash-1-5", 4)
    assert got.properties == item(1, 5).properties

    store.upsert([item(1, 4, vector=[0.0] * 4, name="stale")])  # lower version: skipped
    assert store.get(1).properties["name"] == "Loft 1" and store.get(1).version == 5

    store.update_properties([item(1, 6, price=99.0, last_review=None), item(2, 4, "Brooklyn", price=1.0),
                             item(404, 1)])
    got = store.get(1)
    assert (got.version, got.embed_hash, got.dimension) == (6, "hash-1-5", 4)  # vector and hash kept
    assert got.properties["price"] == 99.0 and got.properties["last_review"] is None
    assert store.collection.query.fetch_object_by_id(vector_id(1), include_vector=True).vector["default"] == VEC
    assert store.get(2).properties["price"] == 150.0  # stale property update skipped
    assert store.get(404) is None  # property updates never create objects

    assert store.versions("Manhattan") == {1: 6, 3: 5}
    assert store.versions("Brooklyn") == {2: 5}
    assert store.versions("Bronx") == {}

    store.delete([1, 404])
    assert store.get(1) is None
    assert store.versions("Manhattan") == {3: 5}

    # Paging: more objects in one area than fit in a page (and than the default limit of 10).
    monkeypatch.setattr(weaviate_store, "PAGE_SIZE", 3)
    store.upsert([item(listing_id, 1, "Queens", vector=VEC) for listing_id in range(100, 114)])
    assert store.versions("Queens") == {listing_id: 1 for listing_id in range(100, 114)}
    store.upsert([item(listing_id, 0, "Queens", vector=VEC) for listing_id in range(100, 114)])  # all stale
    assert store.versions("Queens") == {listing_id: 1 for listing_id in range(100, 114)}


def test_batch_errors_name_the_failing_listings(store):
    store.ensure(4, "test-model")
    store.upsert([item(1, 1, vector=VEC)])
    with pytest.raises(WeaviateStoreError, match=r"listing ids \[7\]"):
        store.upsert([item(7, 1, vector=[1.0, 2.0])])  # every object of the batch fails
    with pytest.raises(WeaviateStoreError, match=r"1 of 2 listings.*failing listing ids \[8\]"):
        store.upsert([item(8, 1, vector=[1.0, 2.0]), item(9, 1, vector=VEC)])
    assert store.versions("Manhattan") == {1: 1, 9: 1}


def test_collection_of_unknown_origin_is_refused(store):
    store.client.collections.create(store.collection_name)
    with pytest.raises(ValueError, match="unknown model/dimension.*Delete the collection"):
        store.ensure(4, "test-model")


def test_api_key_is_never_logged(fake_weaviate, caplog):
    caplog.set_level(logging.DEBUG)
    store = WeaviateStore(fake_weaviate.url, "secret-key-do-not-log", "GflKeyCheck")
    try:
        store.ensure(4, "test-model")
    finally:
        store.client.collections.delete(store.collection_name)
        store.close()
    assert "secret-key-do-not-log" not in caplog.text


def test_cloud_url_needs_an_api_key():
    with pytest.raises(ValueError, match="WEAVIATE_API_KEY"):
        WeaviateStore("https://abc123.c0.europe-west3.gcp.weaviate.cloud", None, "Listing")
