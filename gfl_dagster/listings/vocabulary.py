"""Each city's vocabulary as data: what a description may call the city, told from the places loaded.

A city is a small file in `cities/` (its names and nicknames, and the areas that tell it); which one a
listing is in comes from its places and the database's (any of the city's areas among them). Adding a
city is adding a file: the grounding check (generation/grounding.py) then accepts its names as places the
listing is in, as it accepts the listing's own neighbourhood.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources as package_files
from typing import Iterable

from gfl_dagster.generation.folding import fold
from gfl_dagster.toml_reader import tomllib


@dataclass(frozen=True)
class City:
    key: str  # the file's name ("new_york")
    names: tuple[str, ...]
    areas: tuple[str, ...]


def _folded(name: str) -> str:
    return " ".join(fold(name).split())


@functools.lru_cache(maxsize=1)
def cities() -> tuple[City, ...]:
    """Every city file, read once; a file without names or areas is refused, naming it."""
    found = []
    for entry in sorted(package_files.files("gfl_dagster.listings").joinpath("cities").iterdir(),
                        key=lambda entry: entry.name):
        if not entry.name.endswith(".toml"):
            continue
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        names, areas = tuple(data.get("names", ())), tuple(data.get("areas", ()))
        if not names or not areas:
            raise ValueError(f"cities/{entry.name} needs `names` and `areas` (lists of text)")
        found.append(City(entry.name.removesuffix(".toml"), names, areas))
    return tuple(found)


@functools.lru_cache(maxsize=64)
def _cities_of(places: frozenset[str]) -> tuple[City, ...]:
    share = {city: len(places.intersection(_folded(area) for area in city.areas)) / len(city.areas)
             for city in cities()}
    best = max(share.values(), default=0.0)
    return tuple(city for city, matched in share.items() if matched and matched == best)


def cities_of(places: Iterable[str]) -> tuple[City, ...]:
    """The city `places` (a listing's own, the database's) are in: the one with the largest share of its areas
    among them (a neighbourhood name such as "Chinatown" is found in several cities); all of the best on a tie."""
    return _cities_of(frozenset(_folded(place) for place in places if place))


def city_names(places: Iterable[str]) -> tuple[str, ...]:
    """What a description may call the city of these places: every name of every city they belong to."""
    return tuple(name for city in cities_of(places) for name in city.names)


def other_city_names(places: Iterable[str]) -> tuple[str, ...]:
    """The names of every city these places are not in: naming one places the listing elsewhere."""
    own = set(cities_of(places))
    return tuple(name for city in cities() if city not in own for name in city.names)


def city_areas(places: Iterable[str]) -> tuple[str, ...]:
    """The areas of the city of these places: a text placing a listing in another of them is wrong."""
    return tuple(area for city in cities_of(places) for area in city.areas)
