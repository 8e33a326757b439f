"""One listing's guest summary through the one generation path: the chat model's, checked, else the template's."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from gfl_dagster.generation.generate import ChatModel, Generated, Template, generate_validated
from gfl_dagster.reviews.guest_summary import NOTHING_TO_SAY, GuestSummary, evidence, template_summary
from gfl_dagster.reviews.summary_check import check_summary
from gfl_dagster.reviews.summary_prompt import chat_messages, review_data


def write_guest_summary(model: Optional[ChatModel], reviews: Iterable[Mapping[str, Any]]) -> tuple[Generated, GuestSummary]:
    """(the checked text and who wrote it, the template's summary with the review ids read).

    A listing whose reviews support no aspect gets no summary (text None) and no model call.
    """
    reviews = list(reviews)
    found = evidence(reviews)
    template = template_summary(found)
    if template.text is None:
        return Generated(None, template.model, [NOTHING_TO_SAY]), template
    shown = (review_data(reviews, found),)
    generated = generate_validated(model, chat_messages(reviews, found),
                                   lambda text: check_summary(text, reviews, found, shown),
                                   Template(template.model, lambda: template.text), max_tokens=160)
    return generated, template
