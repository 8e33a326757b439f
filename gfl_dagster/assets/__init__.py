"""The asset graph: raw_listings -> listing_descriptions -> listing_vectors."""
