"""Change capture, free of any one table: the watermark plan, per-area locks, poison rows, drift."""
