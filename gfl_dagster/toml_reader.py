"""The one import of a TOML parser, for the vocabulary files that come with the project (audiences, amenities,
cities, aspects, ...): the standard library's tomllib from Python 3.11; on 3.10, tomli, the same parser
(a dependency there, see pyproject.toml)."""

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["tomllib"]
