"""The ads domain: ad copy per listing and audience, retired and rewritten as clicks judge it."""

from dagster import Definitions

from gfl_dagster.ads.assets import listing_ads

defs = Definitions(assets=[listing_ads])
