"""Assembles the code location: each domain's definitions, and the resources the environment configures.

listings: CSV rows -> descriptions -> vectors; reviews: guests' reviews -> what guests say, in each listing's
vector (and each review a stay); ads: copy per audience that learns from clicks;
feedback: what people do, fed back by a sensor; recommendations: recommended for you, per user.
"""

from dagster import Definitions

from gfl_dagster.ads import definitions as ads
from gfl_dagster.feedback import definitions as feedback
from gfl_dagster.listings import definitions as listings
from gfl_dagster.recommendations import definitions as recommendations
from gfl_dagster.resources.from_env import resources_from_env
from gfl_dagster.reviews import definitions as reviews

defs = Definitions.merge(listings.defs, reviews.defs, ads.defs, feedback.defs, recommendations.defs,
                         Definitions(resources=resources_from_env()))
