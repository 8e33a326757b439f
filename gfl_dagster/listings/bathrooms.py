"""Baths as Inside Airbnb writes them: "1.5 shared baths", "1 private bath", "Half-bath", "Shared half-bath".

The detailed file's `bathrooms_text` and the 2023+ summary names ("... · 1 private
bath") use the same words, so both read them here. A count with no "shared" or
"private" says nothing about sharing (None), not that the bath is private.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BATHS = re.compile(
    r"^(?:(?P<count>\d+(?:\.\d+)?)\s+)?(?:(?P<kind>shared|private)\s+)?"
    r"(?P<unit>half-bath|baths?)$",
    re.IGNORECASE,
)


class BathsError(ValueError):
    """The text is not a bath count in Inside Airbnb's words."""


@dataclass(frozen=True)
class Baths:
    count: float
    shared: bool | None  # True "shared", False "private", None when the text does not say


def parse_baths(text: str) -> Baths | None:
    """The bath count and its sharing; None for an empty text. Raises BathsError for anything else."""
    cleaned = " ".join(text.split())
    if not cleaned:
        return None
    match = _BATHS.match(cleaned)
    if match is None:
        raise BathsError(f"{text!r} is not a bath count such as '1.5 shared baths' or 'Half-bath'")
    count, kind, unit = match.group("count"), match.group("kind"), match.group("unit").lower()
    if unit == "half-bath":
        if count is not None:
            raise BathsError(f"{text!r} gives a count to a half-bath")
        number = 0.5
    elif count is None:
        raise BathsError(f"{text!r} has no number of baths")
    else:
        number = float(count)
    return Baths(number, None if kind is None else kind.lower() == "shared")
