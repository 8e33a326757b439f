"""The search page: a small Starlette app over search/retrieval.py (see app.py)."""
