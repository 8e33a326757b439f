"""Search: the query (query.py), retrieval and recommendations (retrieval.py), and its evaluation (eval/)."""
