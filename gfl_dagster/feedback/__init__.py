"""The feedback domain: what people do with what was generated (searches, impressions, views, clicks, saves, bookings)."""
