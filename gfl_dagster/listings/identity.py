"""Deterministic identities: vector ids and content hashes."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

# Fixed namespace so a listing has the same vector id in every store and every run.
_LISTING_NAMESPACE = uuid.UUID("6f4f3c2e-9a57-5b1e-8d2a-0b6a1c9e7f10")


def vector_id(listing_id: int) -> str:
    """uuid5 of the listing id: re-syncing a listing overwrites, never duplicates."""
    return str(uuid.uuid5(_LISTING_NAMESPACE, f"listing:{int(listing_id)}"))


def content_hash(value: Any) -> str:
    """sha256 of a canonical JSON rendering (sorted keys, no whitespace)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
