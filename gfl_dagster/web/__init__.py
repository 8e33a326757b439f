"""The search page: a small Starlette app over search.py (see app.py)."""
