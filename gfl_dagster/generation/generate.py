"""The one generation path: ask the chat model, check the answer, retry with the reasons, fall back.

Every generator (descriptions, recommendations, and the ads, blurbs and query
parsing built on them) is a prompt builder, a checker and a template, all pure
functions; this module runs them. Nothing generated leaves here unchecked: a
model answer is returned only when `check` finds no problem, and the template's
text is checked too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol, Sequence

Messages = list[dict[str, str]]
Check = Callable[[str], list[str]]


class ChatModel(Protocol):
    """The model service as generation uses it (resources/model_client.py's ModelClientResource is one)."""

    chat_model: Optional[str]
    attempts: int  # answers asked for before the template stands in

    @property
    def has_chat(self) -> bool: ...

    def chat(self, messages: Messages, max_tokens: int = 300) -> Any:
        """A reply with `text`, `prompt_tokens` and `completion_tokens`."""


@dataclass(frozen=True)
class Template:
    """The offline writer of a generator: deterministic, it restates facts and invents nothing."""

    name: str
    write: Callable[[], str]


@dataclass(frozen=True)
class Generated:
    text: Optional[str]  # None: no answer passed its check and there was no template to fall back on
    model: str  # the chat model that wrote `text`, or the template's name
    problems: list[str] = field(default_factory=list)  # why the last rejected answer was rejected
    prompt_tokens: int = 0
    completion_tokens: int = 0
    fell_back: bool = False  # the template stood in for a chat model whose answers were all rejected


def retry_messages(messages: Messages, rejected: str, problems: Sequence[str]) -> Messages:
    """The conversation again, with the rejected answer and what was wrong with it."""
    return list(messages) + [
        {"role": "assistant", "content": rejected},
        {"role": "user", "content": "That answer was rejected: " + "; ".join(problems)
                                    + ". Write it again following the rules."},
    ]


def from_template(template: Template, check: Check) -> Generated:
    text = template.write()
    problems = check(text)
    return Generated(None if problems else text, template.name, problems)


def generate_validated(
    model: Optional[ChatModel],
    messages: Messages,
    check: Check,
    template: Optional[Template] = None,
    *,
    max_tokens: int = 300,
) -> Generated:
    """A checked text: the model's (asked up to `model.attempts` times, each retry told the reasons), else the template's.

    With no chat model configured the template writes. Errors of the model service
    (after the client's own retries) propagate: the caller decides whether a row
    waits for the next run or a reader gets the template now.
    """
    if model is None or not model.has_chat:
        if template is None:
            raise ValueError("no chat model is configured and this generator has no template")
        return from_template(template, check)
    prompt_tokens = completion_tokens = 0
    problems: list[str] = []
    conversation = list(messages)
    for _ in range(max(1, model.attempts)):
        reply = model.chat(conversation, max_tokens=max_tokens)
        prompt_tokens += reply.prompt_tokens
        completion_tokens += reply.completion_tokens
        problems = check(reply.text) if reply.text else ["the answer is empty"]
        if not problems:
            return Generated(reply.text, model.chat_model or "", [], prompt_tokens, completion_tokens)
        conversation = retry_messages(messages, reply.text, problems)
    if template is None:
        return Generated(None, model.chat_model or "", problems, prompt_tokens, completion_tokens)
    fallback = from_template(template, check)
    return Generated(fallback.text, fallback.model, problems + fallback.problems, prompt_tokens, completion_tokens,
                     fell_back=True)
