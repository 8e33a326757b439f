"""The model service: chat completions and embeddings over the OpenAI protocol.

OpenAI itself, or any server that speaks its protocol (vLLM, Ollama, LM Studio,
llama.cpp's server) through a base URL. One client per process and configuration,
so every call reuses one connection pool; the client retries 429, 5xx and
timeouts itself, with backoff.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from dagster import ConfigurableResource
from pydantic import Field

from gfl_dagster import settings


@dataclass(frozen=True)
class ChatReply:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@functools.lru_cache(maxsize=8)
def _openai_client(base_url: Optional[str], api_key: Optional[str], timeout_s: float, max_retries: int) -> Any:
    from openai import OpenAI

    return OpenAI(api_key=api_key or "not-needed", base_url=base_url or None, timeout=timeout_s,
                  max_retries=max_retries)


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

    def client(self) -> Any:
        return _openai_client(self.base_url, self.api_key, self.timeout_s, self.max_retries)

    @property
    def has_chat(self) -> bool:
        return bool(self.chat_model)

    def chat(self, messages: Sequence[dict[str, str]], max_tokens: int = 300) -> ChatReply:
        if not self.chat_model:
            raise ValueError("no chat model is configured (set GFL_CHAT_MODEL and OPENAI_API_KEY or OPENAI_BASE_URL)")
        response = self.client().chat.completions.create(model=self.chat_model, messages=list(messages),
                                                         temperature=0.3, max_tokens=max_tokens)
        text = (response.choices[0].message.content or "").strip() if response.choices else ""
        usage = response.usage
        return ChatReply(text, (usage.prompt_tokens or 0) if usage else 0, (usage.completion_tokens or 0) if usage else 0)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors in input order; a response with missing or repeated indices is refused."""
        response = self.client().embeddings.create(model=self.embedding_model, input=list(texts))
        data = sorted(response.data, key=lambda item: item.index)
        # A missing or duplicated index would silently give inputs each other's vectors.
        if [item.index for item in data] != list(range(len(texts))):
            raise ValueError(f"embeddings response has indices {[item.index for item in data]} for {len(texts)} inputs")
        return [item.embedding for item in data]
