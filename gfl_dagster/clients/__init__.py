"""The project's parts without Dagster: what the resources in resources/ delegate to, and what the commands that
must answer at once (`gfl search`, `gfl show`, `gfl recommend`) build directly (project.py), so they do not pay
for importing Dagster. The database engine is db/engine.py."""
