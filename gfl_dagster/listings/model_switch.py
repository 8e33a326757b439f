"""The listing_vectors step across an embedding-model change, without downtime (stores/generations.py).

While the configured model is not the live one, each run keeps its area of the live generation synced with the
live model (so search goes on serving every listing, changes included), then writes the same area into the
next generation with the configured model; the run that finds the next generation complete makes it live.
"""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import Engine

from gfl_dagster.change_capture.poison import POISON_AFTER_ATTEMPTS
from gfl_dagster.clients.embedder import embedder_for_model
from gfl_dagster.listings.embed import EmbedReport, embed_area
from gfl_dagster.listings.source import LISTINGS
from gfl_dagster.stores import generations
from gfl_dagster.stores.pgvector import PgVectorStore


def sync_vectors(engine: Engine, embedder: Any, vector_store: Any, area: str,
                 progress: Callable[[str], None] = lambda message: None) -> tuple[EmbedReport, dict[str, Any]]:
    """The area's vectors in the live generation (and the next one, during a model change); what it did."""
    with vector_store.session(LISTINGS) as store:
        if vector_store.backend != "pgvector":  # Weaviate refuses a collection of another model, naming it
            return embed_area(engine, embedder, store, area, progress), {}
        live = generations.live_model(engine, LISTINGS)
        serving = embedder if live is None else embedder_for_model(embedder, live)
        with generations.serving_generation(engine):
            report = embed_area(engine, serving, store, area, progress)
            if serving is embedder:
                if generations.abandon_next(engine, LISTINGS):
                    progress(f"the configured model is the live one again ({live}): the next generation was dropped")
                return report, {}
            building = generations.prepare_next(engine, LISTINGS)
            built = embed_area(building, embedder, PgVectorStore(building, LISTINGS), area, progress)
    switched = generations.switch_if_complete(engine, LISTINGS, POISON_AFTER_ATTEMPTS)
    if switched:
        progress(f"the vectors of {switched} are live: the generation of {live} was dropped")
        return report, {"embedding_model_switched_to": switched}
    state = generations.next_progress(engine, LISTINGS, POISON_AFTER_ATTEMPTS) or {}
    progress(f"next generation ({embedder.model_name}): {state.get('synced')}/{state.get('source')} listings, "
             f"live search still served by {live}")
    return report, {"live_embedding_model": live, "next_embedding_model": embedder.model_name,
                    "next_generation_embedded_here": built.embedded,
                    "next_generation_synced": f"{state.get('synced')}/{state.get('source')}",
                    "next_generation_pending_areas": ", ".join(state.get("pending_areas", [])) or "none"}
