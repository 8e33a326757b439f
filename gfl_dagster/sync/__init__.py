"""The loop's steps, as plain functions over an engine and backends (the assets call these)."""
