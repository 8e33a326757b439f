"""The search page and its JSON API: a small Starlette app over search/retrieval.py.

    GET /                 the page (static HTML + JS + CSS, no external assets: works offline)
    GET /api/options      areas (from the database), room types, property types (the data's), amenities, modes
                          and defaults for the form
    GET /api/search       {"hits", "understood", "message", "ranking", "audience"}; parameters named as
                          SearchQuery's fields, plus `literal` (1: take the text as it is), `user` (records
                          the search as feedback) and `audience` (a slug of ads/audiences.toml: whose ads)
    GET /api/recommend    {"text", "cited_ids", "hits", "model", "problems"}; same parameters
    POST /api/events      feedback events (one object or a list; see feedback/events.py) -> {"recorded": n,
                          "refused": 0}; refused whole (400, or 429 over the budget) with {"error", "refused",
                          "problems": [{"event": index, "reason"}]}
    GET /api/for-you      ?user=ID: recommended for that user (or a cold start that says so)
    GET /api/ads          every active ad of the listings a search finds (`audience` narrows them): for
                          inspecting ads, not a viewer's page (it records nothing)

A hit carries `ad`: the one ad its viewer sees, or null. The hit and its ad each carry an `impression_id`
(feedback/impressions.py; the ad's also signs in its propensity, which its impression then records) bound to
the session (the HttpOnly `gfl_session` cookie the page and the search
hand out): an impression, view, click or save is recorded only with the id of what this session was
shown, once per kind; a `book` only with the booking token (Authorization: Bearer, GFL_BOOKING_TOKEN).
The audience is declared (`audience`), named in the sentence or read from the user's history
(ads/viewer.py); with none, no ads. With a `user` parameter, the search is recorded as feedback.
Impressions are recorded by what draws the hits, once drawn (the page posts them to /api/events): an
answer the page dropped (a newer search overtook it, the person navigated away) was never seen and
counts nothing.

A query that cannot run answers 400 {"error": message}, the message SearchError gives.
Endpoints are plain functions: Starlette runs them in its thread pool, which is
what the blocking embedder and database calls need.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import time
from collections import Counter
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Collection, Optional

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gfl_dagster import settings
from gfl_dagster.search import retrieval as search
from gfl_dagster.db import queries
from gfl_dagster.ads.audiences import load_audiences
from gfl_dagster.ads.for_hits import active_ads, ad_json
from gfl_dagster.ads.viewer import AudienceError, declared_audience
from gfl_dagster.feedback.events import MAX_USER_ID, EventError, search_event, validate_event
from gfl_dagster.feedback.impressions import SESSION_COOKIE, Signer, check_served
from gfl_dagster.feedback.record import record_events
from gfl_dagster.feedback.serving import SearchServer
from gfl_dagster.recommendations.for_you import recommended_for
from gfl_dagster.search.interpret import SearchContext, load_search_context
from gfl_dagster.listings.amenities import default_amenity_map
from gfl_dagster.search.query import MULTI_VALUED, excerpt, query_from_params
from gfl_dagster.web.rate_limit import RateLimit
from gfl_dagster.listings.source import LISTINGS

STATIC_DIR = Path(__file__).resolve().parent / "static"

log = logging.getLogger(__name__)
MAX_EVENTS_BODY = 64 * 1024  # a page sends a few events at a time; anything larger is refused
MAX_PROBLEMS = 20  # a refused request names this many of its events' problems


CONTEXT_TTL_S = 30.0  # places and price bands change with the data, slowly


def _single_values(params: Any, known: Optional[Collection[str]] = None) -> dict[str, Any]:
    """The query string as {name: value}; a set or list filter (`areas=Brooklyn&areas=Queens`,
    `amenities=washer&amenities=pool`) as {name: [values]}.
    Any other parameter given twice is refused (which value was meant?); with `known`, so is any other name
    (a misspelt one silently ignored gives plausible, wrong answers)."""
    repeated = [excerpt(name) for name, count in Counter(name for name, _ in params.multi_items()).items()
                if count > 1 and name not in MULTI_VALUED]
    if repeated:
        raise search.SearchError(f"parameter(s) given more than once: {', '.join(repeated)}; give each once")
    unknown = [excerpt(name) for name in params if known is not None and name not in known]
    if unknown:
        raise search.SearchError(f"unknown parameter(s): {', '.join(unknown)}; known: {', '.join(known or ())}")
    return {name: params.getlist(name) if name in MULTI_VALUED else value for name, value in params.items()}


def _user_id(raw: str) -> str:
    """The `user` parameter ("" when not given), held to the rule of feedback events' user_id."""
    user_id = raw.strip()
    if len(user_id) > MAX_USER_ID or not user_id.isprintable():
        raise EventError(f"user must be printable text of at most {MAX_USER_ID} characters, got {excerpt(raw)}")
    return user_id


def _page_state(params: Any) -> tuple[dict[str, str], str, bool, str]:
    """The search parameters, and what the page sends beside them (not filters): the user id, `literal` and
    the declared audience."""
    values = _single_values(params)
    literal = values.pop("literal", "").strip().lower() in ("1", "true", "yes", "on")
    return values, _user_id(values.pop("user", "")), literal, values.pop("audience", "").strip()


class Json(JSONResponse):
    """JSON that also carries dates and Decimals (as the database returns them)."""

    def render(self, content: Any) -> bytes:
        # A lone surrogate (JSON bodies can carry "\ud800", echoed in an error) has no UTF-8 form: it goes out
        # as the same JSON escape it came in as.
        return json.dumps(content, ensure_ascii=False, default=_plain).encode("utf-8", "backslashreplace")


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return float(value) if hasattr(value, "as_tuple") else str(value)


def create_app(*, database: Any, embedder: Any, vector_store: Any, model_client: Any,
               event_budget: Optional[RateLimit] = None, signer: Optional[Signer] = None,
               booking_token: Optional[str] = None) -> Starlette:
    """The app over the project's resources (as project_resources() or the tests build them).

    The vector store is opened once for the app's lifetime (a Weaviate client
    is a connection worth keeping) and closed at shutdown.
    """

    event_budget = event_budget or RateLimit()
    signer = signer or Signer.from_environment()
    booking_token = booking_token or settings.value(settings.GFL_BOOKING_TOKEN)

    def session_of(request: Request) -> Optional[str]:
        value = request.cookies.get(SESSION_COOKIE)
        return value if signer.valid_session(value) else None

    def with_session(response: Any, request: Request, session: str) -> Any:
        if request.cookies.get(SESSION_COOKIE) != session:
            # HttpOnly: no script reads it; SameSite=Strict: no other site's page sends it.
            response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict")
        return response

    def may_book(request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return bool(booking_token) and scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), booking_token.encode())

    @asynccontextmanager
    async def lifespan(app: Starlette):
        with vector_store.session(LISTINGS) as app.state.store:
            yield

    def areas() -> list[dict[str, Any]]:
        with database.engine().connect() as connection:
            return [{"name": row.area, "listings": row.listings} for row in connection.execute(queries.LIST_AREAS)]

    cached: dict[str, Any] = {}

    def context() -> SearchContext:
        """The places and price bands the sentence is read against; reloaded when older than CONTEXT_TTL_S."""
        if time.monotonic() - cached.get("at", -CONTEXT_TTL_S) >= CONTEXT_TTL_S:
            cached.update(value=load_search_context(database.engine()), at=time.monotonic())
        return cached["value"]

    def page(request: Request) -> FileResponse:
        return with_session(FileResponse(STATIC_DIR / "index.html"), request,
                            session_of(request) or signer.new_session())

    def options(request: Request) -> Json:
        defaults = search.SearchQuery()
        amenities = default_amenity_map()
        return Json({
            "areas": areas(), "room_types": list(search.ROOM_TYPES), "modes": list(search.MODES),
            # the data's own property types (none for a summary file) and the canonical amenities
            "property_types": list(context().property_types or ()),
            "amenities": [{"slug": name, "label": amenities.label(name)} for name in amenities.names],
            "audiences": [{"slug": a.slug, "name": a.name} for a in load_audiences()[0]],
            "defaults": {"mode": defaults.mode, "limit": defaults.limit, "alpha": defaults.alpha},
        })

    def search_endpoint(request: Request) -> Json:
        params, user_id, literal, declared = _page_state(request.query_params)
        query = query_from_params(params)
        session = session_of(request) or signer.new_session()
        server = SearchServer(database.engine(), embedder, request.app.state.store, context, model_client, signer)
        found, audience = server.search(query, session, literal=literal, declared=declared, user_id=user_id)
        if user_id:
            record_events(database.engine(), [search_event(user_id, query.text or "(filters only)")])
        return with_session(Json({
            "hits": found.hits, "understood": found.interpretation.as_json(), "message": found.message,
            "ranking": found.ranking, "audience": audience.as_json() if audience else None}), request, session)

    async def events_endpoint(request: Request) -> Json:
        body = await request.body()
        if len(body) > MAX_EVENTS_BODY:
            return Json({"error": f"request body over {MAX_EVENTS_BODY} bytes"}, status_code=413)
        try:
            payload = json.loads(body or b"null")
        except (ValueError, RecursionError):  # RecursionError: nested thousands deep, which no event is
            raise EventError("the body must be JSON: an event object or a list of them") from None
        raws = payload if isinstance(payload, list) else [payload]
        # The budget counts events, valid or not: guessing impression ids costs as much as sending clicks.
        wait_s = event_budget.wait_s(request.client.host if request.client else "unknown", len(raws))
        if wait_s is not None:
            reason = (f"{len(raws)} events in one request are over this client's budget of {event_budget.burst}; "
                      "send fewer at a time" if wait_s == math.inf else
                      f"too many feedback events from this client; retry in {wait_s:.1f}s")
            return Json({"error": reason, "refused": len(raws), "problems": [{"event": None, "reason": reason}]},
                        status_code=429, headers={"Retry-After": RateLimit.retry_after(min(wait_s, 3600.0))})
        session = session_of(request)
        if session is None:
            return refuse_events(len(raws), [(None, "no session: writes need the session cookie the page "
                                                    f"({SESSION_COOKIE}) or a search hands out")])
        events, problems = [], []
        for index, raw in enumerate(raws):
            try:
                events.append(validate_event(raw))
            except EventError as error:
                problems.append((index, str(error)))
        if not problems:  # what is stored is what the impression ids vouch for (the propensity their own)
            events, problems = check_served(events, signer, session, may_book=may_book(request))
        if problems:
            return refuse_events(len(raws), problems)
        try:
            recorded = await run_in_threadpool(record_events, database.engine(), events)
        except EventError as error:
            return refuse_events(len(raws), [(None, str(error))])
        return Json({"recorded": recorded, "refused": 0})

    def refuse_events(count: int, problems: list[tuple[Optional[int], str]]) -> Json:
        """400, nothing stored: the first reason as `error`, and each event's (the first MAX_PROBLEMS)."""
        index, reason = problems[0]
        first = reason if index is None or count == 1 else f"event {index}: {reason}"
        return Json({"error": first, "refused": count,
                     "problems": [{"event": i, "reason": r} for i, r in problems[:MAX_PROBLEMS]]}, status_code=400)

    def ads_endpoint(request: Request) -> Json:
        """Every active ad of the listings a search finds: ?text=...&audience=... (and the search parameters)."""
        params, _, literal, declared = _page_state(request.query_params)
        audience = declared_audience(declared).slug if declared else None
        found = search.understood_search(query_from_params(params), embedder, request.app.state.store, context(),
                                         literal, model_client)
        names = {hit["id"]: hit["name"] for hit in found.hits}
        rank = {listing_id: n for n, listing_id in enumerate(names)}
        ads = sorted(active_ads(database.engine(), list(names), audience),
                     key=lambda ad: rank[ad.listing_id])  # the search's order
        return Json({"ads": [{**ad_json(ad), "listing_id": ad.listing_id, "listing": names[ad.listing_id]}
                             for ad in ads],
                     "understood": found.interpretation.as_json(), "message": found.message})

    def for_you(request: Request) -> Json:
        user_id = _user_id(_single_values(request.query_params, known=("user",)).get("user", ""))
        if not user_id:
            raise EventError("user is missing: ?user=ID")
        found = recommended_for(database.engine(), user_id)
        with database.engine().connect() as connection:
            rows = {row["id"]: dict(row) for row in connection.execute(
                queries.LISTINGS_WITH_DESCRIPTIONS_FOR, {"ids": list(found["listing_ids"])}).mappings()}
        listings = [rows[i] for i in found["listing_ids"] if i in rows]
        return Json({**found, "listings": listings})

    def recommend_endpoint(request: Request) -> Json:
        params, _, literal, _ = _page_state(request.query_params)
        advice = search.recommend(query_from_params(params), embedder, request.app.state.store, model_client,
                                  context=context(), literal=literal)
        return Json({"text": advice.text, "cited_ids": list(advice.cited_ids), "hits": advice.hits,
                     "model": advice.model, "problems": list(advice.problems), "message": advice.message,
                     "understood": advice.interpretation.as_json() if advice.interpretation else None})

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
            Route("/api/events", events_endpoint, methods=["POST"]),
            Route("/api/for-you", for_you),
            Route("/api/ads", ads_endpoint),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        exception_handlers={search.SearchError: refused, EventError: refused, AudienceError: refused,
                            Exception: failed},
        middleware=[Middleware(SecurityHeaders)],
        lifespan=lifespan,
    )


# Listing names and queries are strangers' text: the page sets them as text only, and the browser is
# told to run no script but the page's own file (no inline script, no other origin), as a second wall.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                           "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


class SecurityHeaders:
    """Plain ASGI, adding the headers as the response starts: Starlette's BaseHTTPMiddleware re-streams
    bodies, which truncated the page's FileResponse now and then ("Response content shorter than
    Content-Length")."""

    HEADERS = [(b"content-security-policy", CONTENT_SECURITY_POLICY.encode()), (b"x-content-type-options", b"nosniff")]

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.HEADERS]}
            await send(message)

        await self.app(scope, receive, with_headers)
