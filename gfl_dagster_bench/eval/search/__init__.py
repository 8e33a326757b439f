"""Offline evaluation of search quality: a labelled query set and ranking metrics."""
