"""Asset checks, per area partition."""
