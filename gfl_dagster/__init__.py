"""gfl_dagster: a real-time generative feedback loop from Postgres rows to searchable vectors, on Dagster."""
