"""The host's own words (description, neighborhood_overview) as plain text.

Inside Airbnb publishes them as HTML fragments ("<br />", "<b>", entities). They
are untrusted text strangers wrote: the markup is parsed (standard library
HTMLParser), never kept or rendered; script and style bodies are dropped, line
breaks kept, control characters removed and the length bounded. The result is
data for a page to escape and a prompt to quote, never evidence for a claim.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

MAX_HOST_TEXT = 5000

_BREAKS = frozenset({"br", "p", "div", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "hr"})
_HIDDEN = frozenset({"script", "style", "template", "iframe", "object"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u2028\u2029\ufeff]")
_SPACES = re.compile(r"[ \t\r\f\v\xa0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# What the parser hands back as text but is markup: a tag cut off at the end (Inside Airbnb truncates long
# descriptions, sometimes inside "<br />"), an unterminated comment and what follows it.
_LEFTOVER_TAG = re.compile(r"<[A-Za-z!/?][^<>]*>?")


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag in _BREAKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in _BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(fragment: str, max_length: int = MAX_HOST_TEXT) -> str | None:
    """Plain text of a host's HTML fragment; None when nothing is left."""
    if not fragment or not fragment.strip():
        return None
    parser = _TextOnly()
    parser.feed(fragment)
    parser.close()
    text = _CONTROL.sub("", _LEFTOVER_TAG.sub("", "".join(parser.parts)))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return text[:max_length].rstrip() or None
