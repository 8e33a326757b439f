"""feedback_events: written by the search page, its API and `gfl feedback`, not by Dagster; declared so the
graph shows what it feeds (listing_ads learn from it, user_recommendations are built from it)."""

from dagster import AssetSpec

feedback_events = AssetSpec(
    "feedback_events", group_name="feedback", kinds={"postgres"},
    description="Append-only searches, impressions, views, clicks, saves and bookings (feedback/events.py).",
)
