"""Postgres: the embedded server, the schema and every SQL statement the project runs."""
