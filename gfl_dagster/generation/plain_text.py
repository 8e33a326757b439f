"""Is generated text plain prose of a sensible length? The first check every generator's text passes
(descriptions, ads, guest summaries, recommendations): no URL, markup or control character."""

from __future__ import annotations

import re

URL_PATTERN = re.compile(r"(https?://|www\.|\b[\w-]+\.(com|net|org|io|ly|co)\b)", re.IGNORECASE)
MARKUP_PATTERN = re.compile(r"(<[a-zA-Z/!][^>]*>|```|\*\*|__|^\s*#|^\s*[-*]\s|\[[^\]]*\]\([^)]*\))", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text_problems(text: str, max_length: int, min_length: int = 0) -> list[str]:
    """What keeps generated text from being plain text of a sensible length."""
    problems = []
    if len(text) < min_length:
        problems.append(f"too short ({len(text)} characters, minimum {min_length})")
    if len(text) > max_length:
        problems.append(f"too long ({len(text)} characters, maximum {max_length})")
    if URL_PATTERN.search(text):
        problems.append("contains a URL")
    if MARKUP_PATTERN.search(text):
        problems.append("contains markup")
    if _CONTROL.search(text):
        problems.append("contains control characters")
    return problems
