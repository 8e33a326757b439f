"""The model service as a Dagster resource: chat completions and embeddings over the OpenAI protocol.

The work is done Dagster-free in clients/model_client.py (which the quick commands use directly).
"""

from __future__ import annotations

from typing import Optional, Sequence

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from gfl_dagster import settings
from gfl_dagster.clients.model_client import ChatReply, ModelClient
from gfl_dagster.generation.spend import ModelUsage


class ModelClientResource(ConfigurableResource):
    """An OpenAI-compatible endpoint. `chat_model` unset: no chat model, generators use their templates."""

    api_key: Optional[str] = Field(default=None, description="OPENAI_API_KEY; never logged.")
    base_url: Optional[str] = Field(default=None, description="OPENAI_BASE_URL for compatible servers.")
    chat_model: Optional[str] = Field(default=None, description="Chat model (GFL_CHAT_MODEL); unset: templates only.")
    embedding_model: str = Field(default=settings.DEFAULT_OPENAI_EMBEDDING_MODEL,
                                 description="Embedding model (GFL_EMBEDDING_MODEL).")
    timeout_s: float = Field(default=60.0, description="Seconds before one request is abandoned (and retried).")
    max_retries: int = Field(default=3, description="Retries of 429, 5xx and timeouts, with backoff.")
    concurrency: int = Field(default=8, description="Parallel chat requests per run.")
    attempts: int = Field(default=3, description="Answers asked for per generated text before its template "
                                                 "stands in (or, for descriptions, the failure is recorded).")

    _client: Optional[ModelClient] = PrivateAttr(default=None)

    def client(self) -> ModelClient:
        """The Dagster-free client this resource configures, made once: its usage is this resource's."""
        if self._client is None:
            self._client = ModelClient(self.api_key, self.base_url, self.chat_model, self.embedding_model,
                                       self.timeout_s, self.max_retries, self.concurrency, self.attempts)
        return self._client

    @property
    def usage(self) -> ModelUsage:
        """Tokens and requests of this process's calls, and the budget they are held to (generation/spend.py)."""
        return self.client().usage

    @property
    def has_chat(self) -> bool:
        return bool(self.chat_model)

    def chat(self, messages: Sequence[dict[str, str]], max_tokens: int = 300) -> ChatReply:
        return self.client().chat(messages, max_tokens)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.client().embed(texts)
