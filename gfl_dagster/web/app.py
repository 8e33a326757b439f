"""The search page and its JSON API: a small Starlette app over search/retrieval.py.

    GET /                 the page (static HTML + JS + CSS, no external assets: works offline)
    GET /api/options      areas (from the database), room types, modes and defaults for the form
    GET /api/search       {"hits": [...]}; parameters named as SearchQuery's fields
    GET /api/recommend    {"text", "cited_ids", "hits", "model", "problems"}; same parameters

A query that cannot run answers 400 {"error": message}, the message SearchError gives.
Endpoints are plain functions: Starlette runs them in its thread pool, which is
what the blocking embedder and database calls need.
"""

from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gfl_dagster.search import retrieval as search
from gfl_dagster.db import queries
from gfl_dagster.db.search_sql import LIST_NEIGHBOURHOODS
from gfl_dagster.web.params import query_from_params

STATIC_DIR = Path(__file__).resolve().parent / "static"

log = logging.getLogger(__name__)


class Json(JSONResponse):
    """JSON that also carries dates and Decimals (as the database returns them)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, default=_plain).encode("utf-8")


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return float(value) if hasattr(value, "as_tuple") else str(value)


def create_app(*, database: Any, embedder: Any, vector_store: Any, model_client: Any) -> Starlette:
    """The app over the project's resources (as project_resources() or the tests build them).

    The vector store is opened once for the app's lifetime (a Weaviate client
    is a connection worth keeping) and closed at shutdown.
    """

    @asynccontextmanager
    async def lifespan(app: Starlette):
        with vector_store.session() as app.state.store:
            yield

    def areas() -> list[dict[str, Any]]:
        with database.engine().connect() as connection:
            return [{"name": row.area, "listings": row.listings} for row in connection.execute(queries.LIST_AREAS)]

    def known_names(query: search.SearchQuery) -> dict[str, Any]:
        """Areas (and neighbourhoods, when filtered on) as the database holds them now, to check names against."""
        known: dict[str, Any] = {"known_areas": [area["name"] for area in areas()]}
        if query.neighbourhood:
            with database.engine().connect() as connection:
                known["known_neighbourhoods"] = [row[0] for row in connection.execute(LIST_NEIGHBOURHOODS)]
        return known

    def page(request: Request) -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    def options(request: Request) -> Json:
        defaults = search.SearchQuery()
        return Json({
            "areas": areas(), "room_types": list(search.ROOM_TYPES), "modes": list(search.MODES),
            "defaults": {"mode": defaults.mode, "limit": defaults.limit, "alpha": defaults.alpha},
        })

    def search_endpoint(request: Request) -> Json:
        query = query_from_params(request.query_params)
        hits = search.search_listings(query, embedder, request.app.state.store, **known_names(query))
        return Json({"hits": hits})

    def recommend_endpoint(request: Request) -> Json:
        query = query_from_params(request.query_params)
        advice = search.recommend(query, embedder, request.app.state.store, model_client, **known_names(query))
        return Json({"text": advice.text, "cited_ids": list(advice.cited_ids), "hits": advice.hits,
                     "model": advice.model, "problems": list(advice.problems)})

    def refused(request: Request, error: Exception) -> Json:
        return Json({"error": str(error)}, status_code=400)

    def failed(request: Request, error: Exception) -> Json:
        log.exception("%s %s failed", request.method, request.url.path, exc_info=error)
        return Json({"error": f"internal error ({type(error).__name__}); see the server log"}, status_code=500)

    return Starlette(
        routes=[
            Route("/", page),
            Route("/api/options", options),
            Route("/api/search", search_endpoint),
            Route("/api/recommend", recommend_endpoint),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        exception_handlers={search.SearchError: refused, Exception: failed},
        lifespan=lifespan,
    )
