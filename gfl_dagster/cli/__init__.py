"""The `gfl` command line."""
