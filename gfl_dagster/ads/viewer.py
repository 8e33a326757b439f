"""Whose ads a searcher sees: the audience they declared, the one their sentence names, or their history's.

A listing shows at most one ad, written for the viewer's audience (ads/for_hits.py). The audience is,
first match wins:
- declared: the page's "Travelling as" selector, `audience=` in the API, `--audience` in the CLI;
- named in the sentence: an audience's `phrases` in audiences.toml ("for my family" names
  family_with_kids); the longest phrase wins, so "older couple" beats "couple";
- read from the user's history: the audiences of the ads they clicked and of the sentences they
  searched with (the most recent 100), the most frequent first, the more recent on a tie;
- none: no ads at all, rather than ads written for somebody else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from sqlalchemy import Engine

from gfl_dagster.ads.audiences import Audience, load_audiences
from gfl_dagster.db import queries

SOURCES = ("declared", "sentence", "history")


class AudienceError(ValueError):
    """An audience that is not one of audiences.toml's; the message lists them."""


@dataclass(frozen=True)
class ViewerAudience:
    slug: str
    name: str
    source: str  # one of SOURCES
    reason: str  # what decided it, as the page and the CLI say it
    phrase: Optional[str] = None  # the sentence's words that named it (source "sentence")

    def as_json(self) -> dict[str, Any]:
        return {"slug": self.slug, "name": self.name, "source": self.source, "reason": self.reason,
                "phrase": self.phrase}


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    """Whole words, any case, any spacing between them."""
    return re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, phrase.split())) + r"(?!\w)", re.IGNORECASE)


def named_audience(text: str, audiences: Sequence[Audience]) -> Optional[tuple[Audience, str]]:
    """The audience the sentence names and the words that name it (longest phrase, then earliest); None."""
    best: Optional[tuple[tuple[int, int], Audience, str]] = None
    for audience in audiences:
        for phrase in audience.phrases:
            match = _phrase_pattern(phrase).search(text or "")
            if match and (best is None or (len(phrase), -match.start()) > best[0]):
                best = ((len(phrase), -match.start()), audience, match.group(0))
    return None if best is None else (best[1], best[2])


def history_audience(history: Iterable[Any], audiences: Sequence[Audience]) -> Optional[tuple[Audience, str]]:
    """The audience of a user's recent events (newest first: `kind`, `query`, `audience` of a clicked ad),
    and why; None when nothing in them points to one."""
    by_slug = {audience.slug: audience for audience in audiences}
    clicks: dict[str, int] = {}
    searches: dict[str, int] = {}
    first_seen: dict[str, int] = {}
    for order, event in enumerate(history):
        if event.kind == "click" and event.audience in by_slug:
            slug = event.audience
            clicks[slug] = clicks.get(slug, 0) + 1
        elif event.kind == "search" and (named := named_audience(event.query or "", audiences)):
            slug = named[0].slug
            searches[slug] = searches.get(slug, 0) + 1
        else:
            continue
        first_seen.setdefault(slug, order)
    if not first_seen:
        return None
    slug = min(first_seen, key=lambda s: (-(clicks.get(s, 0) + searches.get(s, 0)), first_seen[s]))
    evidence = [f"{n} click{'s' if n != 1 else ''} on its ads" for n in [clicks.get(slug, 0)] if n]
    evidence += [f"{n} search{'es' if n != 1 else ''} naming it" for n in [searches.get(slug, 0)] if n]
    return by_slug[slug], " and ".join(evidence)


def declared_audience(declared: str, audiences: Optional[Sequence[Audience]] = None) -> Audience:
    """The audience named by its slug (or its name); AudienceError, listing the known ones, for any other."""
    audiences = audiences if audiences is not None else load_audiences()[0]
    audience = next((a for a in audiences if declared.strip() in (a.slug, a.name)), None)
    if audience is None:
        raise AudienceError(f"unknown audience {declared.strip()[:60]!r}; known: "
                            + ", ".join(a.slug for a in audiences))
    return audience


def viewer_audience(engine: Engine, declared: Optional[str], text: str, user_id: str = "",
                    audiences: Optional[Sequence[Audience]] = None) -> Optional[ViewerAudience]:
    """The viewer's audience (module docstring), or None: no ads. Raises AudienceError for an unknown one."""
    audiences = audiences if audiences is not None else load_audiences()[0]
    if (declared or "").strip():
        audience = declared_audience(declared, audiences)
        return ViewerAudience(audience.slug, audience.name, "declared", "you chose it")
    named = named_audience(text, audiences)
    if named:
        return ViewerAudience(named[0].slug, named[0].name, "sentence", f"your words \u201c{named[1]}\u201d",
                              named[1])
    if user_id:
        with engine.connect() as connection:
            history = connection.execute(queries.AUDIENCE_HISTORY, {"user_id": user_id}).all()
        found = history_audience(history, audiences)
        if found:
            return ViewerAudience(found[0].slug, found[0].name, "history", f"your history: {found[1]}")
    return None
