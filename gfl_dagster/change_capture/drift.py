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
    for listing_id, version in source.items():
        stored = store.get(listing_id)
        if stored is None:
            drift.missing.append(listing_id)
        elif stored < version:
            drift.stale.append(listing_id)
    drift.extra = [listing_id for listing_id in store if listing_id not in source]
    return drift
