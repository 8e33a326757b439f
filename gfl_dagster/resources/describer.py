"""Writes listing descriptions: an OpenAI-compatible chat model, or the offline template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping, Optional

from dagster import ConfigurableResource
from pydantic import Field

from gfl_dagster import settings
from gfl_dagster.listings.description_check import check_description
from gfl_dagster.listings.prompt import (
    TEMPLATE_MODEL,
    chat_messages,
    retry_messages,
    template_description,
)


@dataclass(frozen=True)
class DescribeOutcome:
    """A validated description, or the reason none could be produced."""

    text: Optional[str]
    problem: Optional[str] = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class DescriberResource(ConfigurableResource):
    """LLM (any OpenAI-compatible /chat/completions endpoint) or the offline template.

    Every output is validated against the listing; an invalid one is retried with
    the reasons, and after `max_attempts` reported as a problem, never stored.
    """

    backend: Literal["template", "openai"] = Field(
        default="template", description="'template' (offline, invents nothing) or 'openai'."
    )
    api_key: Optional[str] = Field(default=None, description="OPENAI_API_KEY; never logged.")
    base_url: Optional[str] = Field(default=None, description="OPENAI_BASE_URL for compatible servers.")
    model: str = Field(default=settings.DEFAULT_CHAT_MODEL, description="Chat model name.")
    max_attempts: int = Field(default=3, description="Generation attempts per listing before it is recorded as failed.")
    request_timeout_s: float = 60.0
    concurrency: int = Field(default=8, description="Parallel LLM requests per run.")

    @property
    def model_name(self) -> str:
        return TEMPLATE_MODEL if self.backend == "template" else self.model

    def _client(self) -> Any:
        from openai import OpenAI

        # max_retries: the client backs off on 429/5xx/timeouts by itself.
        return OpenAI(api_key=self.api_key or "not-needed", base_url=self.base_url or None,
                      timeout=self.request_timeout_s, max_retries=3)

    def describe(
        self,
        facts: Mapping[str, Any],
        listing: Mapping[str, Any],
        known_areas: Iterable[str],
        client: Any = None,
    ) -> DescribeOutcome:
        """One listing: generate, validate, retry with the reasons, give up with them."""
        areas = list(known_areas)
        if self.backend == "template":
            text = template_description(facts)
            problems = check_description(text, listing, areas)
            return DescribeOutcome(text if not problems else None, "; ".join(problems) or None)

        client = client or self._client()
        messages = chat_messages(facts)
        prompt_tokens = completion_tokens = 0
        problems: list[str] = []
        for _ in range(max(1, self.max_attempts)):
            response = client.chat.completions.create(model=self.model, messages=messages, temperature=0.3,
                                                      max_tokens=300)
            if response.usage is not None:
                prompt_tokens += response.usage.prompt_tokens or 0
                completion_tokens += response.usage.completion_tokens or 0
            text = (response.choices[0].message.content or "").strip() if response.choices else ""
            problems = check_description(text, listing, areas)
            if not problems:
                return DescribeOutcome(text, None, prompt_tokens, completion_tokens)
            messages = retry_messages(facts, text, problems)
        return DescribeOutcome(None, f"rejected after {self.max_attempts} attempts: " + "; ".join(problems),
                               prompt_tokens, completion_tokens)
