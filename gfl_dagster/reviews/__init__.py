"""Guests ' reviews: a second source, and "what guests say" about each listing."""
