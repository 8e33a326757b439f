"""Vector stores: the contract (contract.py) and one file per backend (pgvector.py, weaviate.py)."""
