"""The simulated users' personas: personas.toml (or any file in its format), read and checked.

A persona is an audience of ads/audiences.toml, the sentence it searches with, and what it wants of a
place (feedback/simulated_users.py judges a hit's fit by it). It belongs to the simulation's hidden side,
as the market's click model does (market.py): the code the simulation judges never reads it. Checked on
load: an unknown key, a room type, audience or amenity feature the project does not know, or a sentence
with a placeholder other than {area} is a ValueError naming the file, the persona and the key, so a typo
such as `max_prise` cannot silently make a persona want less.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from gfl_dagster.ads.audiences import load_audiences
from gfl_dagster.listings.amenities import default_amenity_map
from gfl_dagster.listings.csv_rows import ROOM_TYPES
from gfl_dagster.toml_reader import INT, NUMBER, TEXT, checked_table, positive, read_toml

DEFAULT_PERSONAS = Path(__file__).with_name("personas.toml")
TOP_RATING = 5  # review_scores_rating is out of 5


@dataclass(frozen=True)
class Persona:
    audience: str
    sentence: str  # {area} is filled in
    room_types: tuple[str, ...]
    max_price: Optional[float] = None
    # What it wants where the listing states it (the detailed files do; the summary file does not).
    min_guests: Optional[int] = None
    min_rating: Optional[float] = None
    features: tuple[str, ...] = ()  # amenity feature slugs (listings/amenities.toml)


_KEYS = {
    "audience": TEXT,
    "sentence": TEXT,
    "room_types": ((list,), f"list of room types ({', '.join(ROOM_TYPES)})"),
    "max_price": NUMBER + (positive,),
    "min_guests": INT + (positive,),
    "min_rating": ((int, float), f"number between 0 and {TOP_RATING}", lambda value: 0 <= value <= TOP_RATING),
    "features": ((list,), "list of amenity feature slugs (listings/amenities.toml)"),
}


def load_personas(path: Path | str | None = None, audiences: Optional[Sequence[str]] = None) -> tuple[Persona, ...]:
    """The personas of `path` (default: personas.toml), in file order. `audiences`: the slugs a persona may
    belong to (default: those of ads/audiences.toml)."""
    path = Path(path) if path is not None else DEFAULT_PERSONAS
    document = read_toml(path, "personas")
    known = list(audiences) if audiences is not None else [audience.slug for audience in load_audiences()[0]]
    features = set(default_amenity_map().names)
    try:
        unknown = sorted(set(document) - {"persona"})
        if unknown:
            raise ValueError(f"unknown top-level key(s) {', '.join(unknown)} (known: persona)")
        tables = document.get("persona")
        if not isinstance(tables, list) or not tables:
            raise ValueError("no personas: expected [[persona]] tables, each with audience, sentence and room_types")
        return tuple(_persona(table, number, known, features) for number, table in enumerate(tables, 1))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def _persona(table: Any, number: int, audiences: Sequence[str], features: set[str]) -> Persona:
    label = f"persona #{number}"
    if not isinstance(table, dict):
        raise ValueError(f"{label}: must be a table ([[persona]]), got {table!r}")
    if isinstance(table.get("audience"), str):
        label += f" ({table['audience']})"
    values = checked_table(table, _KEYS, label)
    missing = [key for key in ("audience", "sentence", "room_types") if not values.get(key)]
    if missing:
        raise ValueError(f"{label}: {', '.join(missing)} missing or empty")
    if values["audience"] not in audiences:
        raise ValueError(f"{label}: unknown audience {values['audience']!r} (known: {', '.join(audiences)})")
    try:
        placeholders = {field for _, field, _, _ in string.Formatter().parse(values["sentence"]) if field is not None}
    except ValueError as error:  # a lone brace
        raise ValueError(f"{label}: sentence {values['sentence']!r}: {error} (write {{area}} for the area)") from None
    if placeholders - {"area"}:
        raise ValueError(f"{label}: sentence {values['sentence']!r}: the only placeholder is {{area}}, got "
                         + ", ".join(f"{{{field}}}" for field in sorted(placeholders - {"area"})))
    room_types = values["room_types"]
    unknown = [room_type for room_type in room_types if room_type not in ROOM_TYPES]
    if unknown:
        raise ValueError(f"{label}: unknown room type(s) {unknown!r} (known: {', '.join(ROOM_TYPES)})")
    wanted = values.get("features", [])
    unknown = [feature for feature in wanted if not isinstance(feature, str) or feature not in features]
    if unknown:
        raise ValueError(f"{label}: unknown amenity feature(s) {unknown!r} (listings/amenities.toml's slugs, "
                         "e.g. kitchen, wifi, workspace, crib)")
    return Persona(values["audience"], values["sentence"], tuple(room_types),
                   None if values.get("max_price") is None else float(values["max_price"]),
                   values.get("min_guests"),
                   None if values.get("min_rating") is None else float(values["min_rating"]), tuple(wanted))
