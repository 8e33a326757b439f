"""The model service: chat completions and embeddings over the OpenAI protocol.

OpenAI itself, or any server that speaks its protocol (vLLM, Ollama, LM Studio,
llama.cpp's server) through a base URL. One client per process and configuration,
so every call reuses one connection pool; the client retries 429, 5xx and
timeouts itself, with backoff.
"""

from __future__ import annotations

import functools
import re
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


class ModelSettingError(ValueError):
    """The model service refused the request as configured: no retry helps, a setting must change."""


# OpenAI's reasoning models take `max_completion_tokens` and only their default temperature.
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)", re.IGNORECASE)
_REFUSED_PARAMETER = re.compile(r"(unsupported|not supported|unrecognized|unknown|extra)[^.]*?"
                                r"'?(max_tokens|max_completion_tokens|temperature)'?", re.IGNORECASE)


def chat_parameters(model: str, max_tokens: int, reasoning: bool = False) -> dict[str, Any]:
    """What to send a chat model: classic models take max_tokens and a low temperature."""
    if reasoning or _REASONING_MODEL.match(model):
        return {"max_completion_tokens": max_tokens}
    return {"max_tokens": max_tokens, "temperature": 0.3}


@functools.lru_cache(maxsize=8)
def _openai_client(base_url: Optional[str], api_key: Optional[str], timeout_s: float, max_retries: int) -> Any:
    from openai import OpenAI

    return OpenAI(api_key=api_key or "not-needed", base_url=base_url or None, timeout=timeout_s,
                  max_retries=max_retries)


_REASONING_SEEN: set[str] = set()  # models that refused the classic parameters once, in this process


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
        """One completion. A model that refuses max_tokens or temperature is asked again the way
        reasoning models are; if it refuses that too, ModelSettingError says which setting to change."""
        from openai import BadRequestError

        if not self.chat_model:
            raise ValueError("no chat model is configured (set GFL_CHAT_MODEL and OPENAI_API_KEY or OPENAI_BASE_URL)")
        create = functools.partial(self.client().chat.completions.create, model=self.chat_model,
                                   messages=list(messages))
        reasoning = self.chat_model in _REASONING_SEEN
        try:
            response = create(**chat_parameters(self.chat_model, max_tokens, reasoning))
        except BadRequestError as error:
            refused = _REFUSED_PARAMETER.search(str(error))
            if refused is None:
                raise
            if not reasoning:
                _REASONING_SEEN.add(self.chat_model)
                return self.chat(messages, max_tokens)
            raise ModelSettingError(
                f"the chat model {self.chat_model!r} refuses the parameter {refused.group(2)!r} in every form "
                f"gfl_dagster sends; set GFL_CHAT_MODEL to a chat-completions model (e.g. gpt-4o-mini)") from None
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
