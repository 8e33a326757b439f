"""The model service: chat completions and embeddings over the OpenAI protocol.

OpenAI itself, or any server that speaks its protocol (vLLM, Ollama, LM Studio,
llama.cpp's server) through a base URL. One client per process and configuration,
so every call reuses one connection pool; the client retries 429, 5xx and
timeouts itself, with backoff and honouring Retry-After, and a "slow down" holds
back every thread of the process (SharedBackoff).
ModelClientResource (resources/model_client.py) delegates here; the quick commands use it directly.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from gfl_dagster import settings
from gfl_dagster.generation.spend import ModelUsage


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


class SharedBackoff:
    """One per model service and process: when the service says "slow down" (429 or 503 with Retry-After), every
    thread's next request waits it out, not only the one that was told. The client's own retries honour
    Retry-After per request; this makes a 429 storm slow the whole process down instead of each thread in turn."""

    MAX_WAIT_S = 60.0

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def before_request(self, _request: Any) -> None:
        with self._lock:
            delay = self._until - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def after_response(self, response: Any) -> None:
        if response.status_code not in (429, 503):
            return
        wait = retry_after_s(response.headers)
        if wait:
            with self._lock:
                self._until = max(self._until, time.monotonic() + min(wait, self.MAX_WAIT_S))


def retry_after_s(headers: Any) -> Optional[float]:
    """Seconds from `retry-after-ms` or `retry-after` (in seconds); None when absent or unreadable."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            seconds = float(headers.get(name, "")) / divisor
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds > 0:
            return seconds
    return None


_BACKOFFS: dict[Optional[str], SharedBackoff] = {}


@functools.lru_cache(maxsize=8)
def _openai_client(base_url: Optional[str], api_key: Optional[str], timeout_s: float, max_retries: int) -> Any:
    from openai import DefaultHttpxClient, OpenAI

    backoff = _BACKOFFS.setdefault(base_url, SharedBackoff())
    http_client = DefaultHttpxClient(event_hooks={"request": [backoff.before_request],
                                                  "response": [backoff.after_response]})
    return OpenAI(api_key=api_key or "not-needed", base_url=base_url or None, timeout=timeout_s,
                  max_retries=max_retries, http_client=http_client)


_REASONING_SEEN: set[str] = set()  # models that refused the classic parameters once, in this process


@dataclass(frozen=True)
class ModelClient:
    """An OpenAI-compatible endpoint. `chat_model` unset: no chat model, generators use their templates.
    Each client counts its own requests and tokens (`usage`), held to the day's budget (generation/spend.py)."""

    api_key: Optional[str] = field(default=None, repr=False)  # OPENAI_API_KEY; never logged
    base_url: Optional[str] = None  # OPENAI_BASE_URL, for compatible servers
    chat_model: Optional[str] = None  # GFL_CHAT_MODEL
    embedding_model: str = settings.DEFAULT_OPENAI_EMBEDDING_MODEL  # GFL_EMBEDDING_MODEL
    timeout_s: float = 60.0  # seconds before one request is abandoned (and retried)
    max_retries: int = 3  # retries of 429, 5xx and timeouts, with backoff
    concurrency: int = 8  # parallel chat requests per run
    attempts: int = 3  # answers asked for per generated text before its template stands in
    usage: ModelUsage = field(default_factory=ModelUsage, compare=False, repr=False)

    def sdk(self) -> Any:
        """The OpenAI SDK's client for this configuration, shared by the process."""
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
        self.usage.check_budget()
        create = functools.partial(self.sdk().chat.completions.create, model=self.chat_model,
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
        reply = ChatReply(text, (usage.prompt_tokens or 0) if usage else 0, (usage.completion_tokens or 0) if usage else 0)
        self.usage.record(self.chat_model, reply.prompt_tokens, reply.completion_tokens)
        return reply

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors in input order; a response with missing or repeated indices is refused."""
        response = self.sdk().embeddings.create(model=self.embedding_model, input=list(texts))
        self.usage.record(self.embedding_model, getattr(response.usage, "prompt_tokens", 0) or 0, 0)
        data = sorted(response.data, key=lambda item: item.index)
        # A missing or duplicated index would silently give inputs each other's vectors.
        if [item.index for item in data] != list(range(len(texts))):
            raise ValueError(f"embeddings response has indices {[item.index for item in data]} for {len(texts)} inputs")
        return [item.embedding for item in data]
