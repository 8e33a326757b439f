"""The one import of a TOML parser, for the vocabulary files that come with the project (audiences, amenities,
cities, aspects, ...): the standard library's tomllib from Python 3.11; on 3.10, tomli, the same parser
(a dependency there, see pyproject.toml). And `checked_table`, which checks a table's keys and value types
against a spec, so that a typo such as `max_prise` is an error naming the key, not a rule silently off."""

from pathlib import Path
from typing import Any, Mapping

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["tomllib", "read_toml", "checked_table", "INT", "NUMBER", "TEXT", "positive", "not_negative", "probability"]


def read_toml(path: Path, kind: str) -> dict[str, Any]:
    """The document of the TOML file at `path`, a `kind` file (what a missing one is called in the error):
    a missing file or invalid TOML is a ValueError naming the path."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such {kind} file") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML: {error}") from None


def positive(value: Any) -> bool:
    return value > 0


def not_negative(value: Any) -> bool:
    return value >= 0


def probability(value: Any) -> bool:
    return 0 < value < 1


# Each key's spec: (accepted types, what the error message calls them[, a further test]).
INT = ((int,), "whole number")
NUMBER = ((int, float), "number")
TEXT = ((str,), "string")


def checked_table(table: Mapping[str, Any], spec: Mapping[str, tuple], where: str) -> dict[str, Any]:
    """The table's values, each of the type `spec` names; any other key is an error."""
    values = {}
    for key, value in table.items():
        if key not in spec:
            raise ValueError(f"{where}: unknown key {key!r} (known: {', '.join(spec)})")
        types, wanted, *test = spec[key]
        # bool is an int in Python, but `max_price = true` is a typo, not a price.
        if isinstance(value, bool) or not isinstance(value, types) or (test and not test[0](value)):
            adjective = {positive: "positive ", not_negative: "non-negative "}.get(test[0], "") if test else ""
            raise ValueError(f"{where}: {key} must be a {adjective}{wanted}, got {value!r}")
        values[key] = value
    return values
