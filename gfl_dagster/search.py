"""Plain-language search over the synced listings."""

from __future__ import annotations

from typing import Any

from gfl_dagster.resources.embedder import EmbedderResource
from gfl_dagster.resources.vector_store import VectorStore


class SearchError(ValueError):
    """The query cannot be run as given; the message says what to change."""


def semantic_search(embedder: EmbedderResource, store: VectorStore, text: str, limit: int = 10) -> list[dict[str, Any]]:
    """Listings nearest in meaning to `text`, best first."""
    if not text.strip():
        raise SearchError("the search text is empty")
    if limit < 1:
        raise SearchError(f"limit must be at least 1, got {limit}")
    return store.nearest(embedder.embed_query(text), limit)
