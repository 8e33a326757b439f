"""Ad angles: the fact an ad leads with (price, place, space, reviews, stay, amenities ...).

The angles are data (`[[angle]]` in audiences.toml), validated on load like the
audiences. An angle applies to a listing that states one of its facts; the template
opens with the angle's `lead`, the chat model is asked to open with it, and
`lead_problem` checks that the written ad does: the angle's fact is the first fact
the ad states. Where a fact reads in text (a price as "$120", a room type as
"entire home", a stay as "2 nights") is decided here, once, for the check.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from gfl_dagster.ads.audiences import _SLUG, DEFAULT_PATH
from gfl_dagster.listings.description_check import ROOM_PHRASES, dollar_amounts
from gfl_dagster.listings.facts import description_input
from gfl_dagster.toml_reader import TEXT, checked_table, tomllib

_ROOM_WORDS = {"Entire home/apt": "the entire home", "Private room": "a private room",
               "Shared room": "a shared room", "Hotel room": "a hotel room"}
_LIST = ((list,), "list of strings")
_ANGLE_KEYS = {"slug": TEXT, "facts": _LIST, "lead": TEXT, "ask": TEXT, "unless": _LIST}
_AMOUNT = re.compile(r"\$\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?")


@dataclass(frozen=True)
class Angle:
    slug: str
    facts: tuple[str, ...]  # the facts it leads with: it applies when the listing states one of them
    lead: str  # the template's opening phrase
    ask: str  # what the chat model is asked to open with
    unless: tuple[str, ...] = ()  # fact values that are no selling point


def load_angles(path: Path | str | None = None) -> list[Angle]:
    """The angles of `path` (default: the shipped audiences.toml), in file order."""
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8")).get("angle")
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML: {error}") from None
    if not isinstance(tables, list) or not tables:
        raise ValueError(f"{path}: no angles: expected [[angle]] tables")
    angles, seen = [], set()
    for number, table in enumerate(tables, 1):
        label = f"angle {table.get('slug')!r}" if isinstance(table, dict) and table.get("slug") else f"angle #{number}"
        if not isinstance(table, dict):
            raise ValueError(f"{path}: {label}: must be a table ([[angle]]), got {table!r}")
        values = checked_table(table, _ANGLE_KEYS, f"{path}: {label}")
        if not all(isinstance(item, str) for key in ("facts", "unless") for item in values.get(key, ())):
            raise ValueError(f"{path}: {label}: facts and unless must be lists of strings")
        missing = [key for key in ("slug", "facts", "lead", "ask") if not values.get(key)]
        if missing:
            raise ValueError(f"{path}: {label}: {', '.join(missing)} missing or empty")
        if not _SLUG.match(values["slug"]) or values["slug"] in seen:
            raise ValueError(f"{path}: {label}: slug must be unique lower-case letters, digits, '_' or '-'")
        seen.add(values["slug"])
        try:
            values["lead"].format(**{key: "" for key in _placeholders(values["lead"])})
        except (ValueError, IndexError) as error:
            raise ValueError(f"{path}: {label}: lead is not a valid template: {error}") from None
        angles.append(Angle(values["slug"], tuple(values["facts"]), values["lead"], values["ask"],
                            tuple(values.get("unless", ()))))
    return angles


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def angle_facts(listing: Mapping[str, Any]) -> dict[str, Any]:
    """The facts an angle can lead with: the description's facts, which for a detailed row include its canonical
    amenities by their labels ("washer", "pool"; listings/facts.py rich_facts), never the host's own strings."""
    return description_input(listing)


def _stated(angle: Angle, facts: Mapping[str, Any]) -> bool:
    return any(facts.get(key) not in (None, "", [], ()) and facts.get(key) not in angle.unless for key in angle.facts)


def available_angles(angles: Iterable[Angle], facts: Mapping[str, Any]) -> list[Angle]:
    """The angles a listing with these facts (`angle_facts`) can lead with, in the file's order."""
    return [angle for angle in angles if _stated(angle, facts)]


def phrases(facts: Mapping[str, Any]) -> dict[str, str]:
    """The facts as the template writes them, keyed by the placeholders an angle's lead may use."""
    where = facts.get("neighbourhood") or facts["area"]
    if facts.get("neighbourhood") and facts["neighbourhood"] != facts["area"]:
        where = f"{facts['neighbourhood']}, {facts['area']}"
    nights = facts.get("minimum_nights")
    amenities = list(facts.get("amenities") or ())
    return {key: str(value) for key, value in facts.items() if value not in (None, "") and key != "amenities"} | {
        "room": _ROOM_WORDS.get(facts["room_type"], str(facts["room_type"]).lower()),
        "where": where,
        "nights": f"{nights} night{'s' if nights != 1 else ''}" if nights else "",
        "amenities": ", ".join(amenities[:3]),
    }


def uses(lead: str) -> set[str]:
    """The placeholders a lead fills in: the template states these facts first and not again."""
    return _placeholders(lead)


def _first_mention(key: str, value: Any, text: str) -> Optional[int]:
    """Where `text` first states the fact `key` with this value, or None."""
    if value in (None, "", [], ()):
        return None
    if key == "price_per_night":
        price = float(str(value).lstrip("$").replace(",", ""))
        return next((m.start() for m in _AMOUNT.finditer(text) if abs(dollar_amounts(m.group())[0] - price) <= 0.005),
                    None)
    if key == "room_type":
        patterns = [re.escape(p) for p in ROOM_PHRASES.get(value, (str(value).lower(),))]
    elif key == "minimum_nights":
        patterns = [rf"(?<![\d.,$]){int(value)}(?:\s*|-)nights?\b"]
    elif key == "reviews":
        patterns = [r"\breview"]
    elif isinstance(value, (list, tuple)):
        patterns = [rf"\b{re.escape(str(item))}\b" for item in value if str(item).strip()]
    else:
        patterns = [rf"\b{re.escape(str(value))}\b"]
    found = [m.start() for p in patterns for m in [re.search(p, text, re.IGNORECASE)] if m]
    return min(found, default=None)


def _named(keys: Iterable[str]) -> str:
    return " or ".join(key.replace("_", " ") for key in keys)


def lead_problem(text: str, angle: Angle, facts: Mapping[str, Any]) -> Optional[str]:
    """Why `text` does not lead with `angle` (None: it does): the angle's fact must be the first fact it states.

    `facts` are `angle_facts`; `text` has the listing's quoted name taken out, since the host's words
    state nothing on the ad's behalf.
    """
    positions = {key: _first_mention(key, value, text) for key, value in facts.items() if key != "name"}
    own = [positions[key] for key in angle.facts if positions.get(key) is not None]
    if not own:
        return (f"is a {angle.slug} ad but never states its {_named(angle.facts)}"
                + (f" ({', '.join(str(facts[k]) for k in angle.facts if facts.get(k))})"
                   if any(facts.get(k) for k in angle.facts) else ""))
    first = min(own)
    before = sorted(key for key, at in positions.items() if at is not None and at < first and key not in angle.facts)
    if before:
        return f"is a {angle.slug} ad but states its {', '.join(_named(before).split(' or '))} before its " \
               f"{_named(angle.facts)}"
    return None
