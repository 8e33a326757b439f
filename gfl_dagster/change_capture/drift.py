"""Comparing what the source holds with what the vector store holds."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Drift:
    missing: list[int] = field(default_factory=list)  # in the source, absent from the store
    stale: list[int] = field(default_factory=list)  # stored at an older version than the source
    extra: list[int] = field(default_factory=list)  # in the store, gone from the source (or moved area)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.stale or self.extra)


def compare_versions(source: dict[int, int], store: dict[int, int]) -> Drift:
    drift = Drift()
    for key, version in source.items():
        stored = store.get(key)
        if stored is None:
            drift.missing.append(key)
        elif stored < version:
            drift.stale.append(key)
    drift.extra = [key for key in store if key not in source]
    return drift
