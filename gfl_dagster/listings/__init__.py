"""Pure listing logic (CSV rows, facts, prompts, checks, hashes): no Dagster, no I/O."""
