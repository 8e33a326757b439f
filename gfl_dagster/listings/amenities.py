"""Canonical amenity features from the hosts' own amenity strings, by the mapping in amenities.toml.

The host's strings stay as written (they are shown as the host wrote them); the
features are what filters, descriptions and the grounding check can rely on:
"Free washer – In unit" and "Paid washer – In building" are both `washer`,
"Paid parking off premises" is `paid_parking` and never `free_parking`, "No pool"
is nothing. The vocabulary is data: a city with other strings needs patterns
added there, not code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from gfl_dagster.generation.folding import fold
from gfl_dagster.toml_reader import tomllib

DEFAULT_PATH = Path(__file__).with_name("amenities.toml")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Feature:
    name: str
    label: str
    match: tuple[re.Pattern, ...]
    unless: tuple[re.Pattern, ...]

    def found_in(self, folded: str) -> bool:
        return any(p.search(folded) for p in self.match) and not any(p.search(folded) for p in self.unless)


@dataclass(frozen=True)
class AmenityMap:
    features: tuple[Feature, ...]
    negations: tuple[re.Pattern, ...]
    _seen: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def label(self, name: str) -> str:
        """What a person calls the feature; a name the mapping no longer has (a row derived before it changed)
        reads as its words."""
        return next((f.label for f in self.features if f.name == name), name.replace("_", " "))

    def features_of(self, amenity: str) -> frozenset[str]:
        """The features one host string names (empty when it names none, or a lack)."""
        known = self._seen.get(amenity)
        if known is None:
            folded = " ".join(fold(amenity).split())
            if not folded or any(p.search(folded) for p in self.negations):
                known = frozenset()
            else:
                known = frozenset(f.name for f in self.features if f.found_in(folded))
            if len(self._seen) < 100_000:
                self._seen[amenity] = known
        return known

    def listing_features(self, amenities: Iterable[str]) -> list[str]:
        """The canonical features of a listing's amenity strings, in the mapping's order."""
        found: set[str] = set()
        for amenity in amenities:
            found |= self.features_of(amenity)
        return [name for name in self.names if name in found]


def _patterns(path: Path, where: str, values) -> tuple[re.Pattern, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise ValueError(f"{path}: {where} must be a list of regular expressions")
    compiled = []
    for value in values:
        try:
            compiled.append(re.compile(value))
        except re.error as error:
            raise ValueError(f"{path}: {where}: {value!r} is not a regular expression: {error}") from None
    return tuple(compiled)


def load_amenity_map(path: Path | str | None = None) -> AmenityMap:
    """The mapping in `path` (default: the shipped amenities.toml); a bad entry is named in a ValueError."""
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML: {error}") from None
    unknown = sorted(set(document) - {"feature", "negations"})
    if unknown:
        raise ValueError(f"{path}: unknown top-level key(s) {', '.join(unknown)} (known: feature, negations)")
    features = []
    for name, table in (document.get("feature") or {}).items():
        where = f"[feature.{name}]"
        if not _NAME.match(name):
            raise ValueError(f"{path}: {where}: a feature name is lower case letters, digits and _")
        extra = sorted(set(table) - {"label", "match", "unless"})
        if extra:
            raise ValueError(f"{path}: {where}: unknown key(s) {', '.join(extra)} (known: label, match, unless)")
        if "match" not in table:
            raise ValueError(f"{path}: {where}: no `match` patterns")
        features.append(Feature(name, str(table.get("label") or name.replace("_", " ")),
                                _patterns(path, f"{where} match", table["match"]),
                                _patterns(path, f"{where} unless", table.get("unless", []))))
    if not features:
        raise ValueError(f"{path}: no [feature.<name>] tables")
    return AmenityMap(tuple(features), _patterns(path, "negations", document.get("negations", [])))


@lru_cache(maxsize=1)
def default_amenity_map() -> AmenityMap:
    return load_amenity_map()


def amenity_features(amenities: Iterable[str]) -> list[str]:
    """The canonical features of a listing's amenity strings, by the shipped mapping."""
    return default_amenity_map().listing_features(amenities)
