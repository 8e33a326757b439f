"""Poison rows: a row that fails the same stage at the same content this often is skipped until it changes."""

from __future__ import annotations

from typing import Any, Optional

POISON_AFTER_ATTEMPTS = 3


def is_poison(failure: Optional[Any], input_hash: str) -> bool:
    """`failure` is the row's sync_failures record for the stage (None: it never failed)."""
    return failure is not None and failure.input_hash == input_hash and failure.attempts >= POISON_AFTER_ATTEMPTS
