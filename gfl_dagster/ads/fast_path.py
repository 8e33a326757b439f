"""The listings' fast path with the ads after it: `gfl listen` rewrites a changed listing's ads in the same
pass, after its vector, so search never waits for them and no run is left for the sensor to start.

The ads extend the listings' fast path (ads follow listings), rather than listings naming the ads.
"""

from dataclasses import replace

from gfl_dagster.ads import write_ads
from gfl_dagster.ads.assets import listing_ads
from gfl_dagster.listings.fast_path import LISTINGS_FAST_PATH

LISTINGS_AND_ADS_FAST_PATH = replace(LISTINGS_FAST_PATH, assets=LISTINGS_FAST_PATH.assets + (listing_ads,),
                                     stages=LISTINGS_FAST_PATH.stages + (write_ads.STAGE,))
