"""Offline evaluation of each domain's work against frozen labelled sets (search, listings' grounding, reviews)."""
