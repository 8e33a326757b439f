"""Is generated text grounded in its data? Pure, fast, standard-library checks.

Two questions about a text a model wrote (a listing description, an ad, a
recommendation blurb):

- `unsupported_claims`: which concrete claims does it make that its support
  (plain data: the facts in words, allowed places, allowed numbers, structured
  facts) does not back?
- `debris_problems`: is it prose about a place at all, or JSON/code, degenerate
  repetition, echoed input, or talk about the data and the prompt?

Both return reasons (empty list: fine). Nothing here knows about listings or the
database; the caller builds a `Support`.

What counts as a claim (word lists, so the check is predictable and fast):

- amenities and features: pool, balcony, terrace, patio, deck, rooftop, garden,
  yard, outdoor space, gym/fitness, view(s)/overlooking/skyline, parking, garage,
  laundry (w/d), washer, dryer, dishwasher, crib, high chair, EV charger,
  gazebo, projector, lounge/common room, fees (cleaning, service, additional), doorman/concierge, elevator,
  fireplace, air conditioning, hot tub/jacuzzi, sauna/spa, wifi, workspace/desk,
  kitchen, private bathroom, private entrance, lobby, high/top floor, pets,
  breakfast, an on-site restaurant (singular "restaurant"), chef/housekeeping,
  bikes, TV, utilities included, bed sizes (queen, king, bunk, sofa bed),
  renovated, and decor facts (hardwood floors, exposed brick, high ceilings,
  skylight, floor-to-ceiling windows, piano, bathtub, grill, murals, chandeliers,
  marble, granite, glass walls/floors/roofs, stone facade, crown moulding);
- property types the room type does not imply: penthouse, duplex, loft,
  townhouse, brownstone, villa, mansion, cottage, cabin, castle, resort, hotel,
  hostel, condo, studio, walk-up, high-rise/tower, boat;
- sizes and counts: N bedrooms ("4BR", "two-bedroom", "4 different bedrooms"),
  N beds ("2 queen beds"), N baths, N sq ft / square feet / m2, N guests /
  sleeps N, N floors / N-story / Nth floor, N rooms, N-foot ceilings;
- distances and landmarks: N minutes / hours / blocks / miles, steps from,
  walking distance, minutes from, short drive, close by / nearby / surrounded by
  / across from / in the vicinity; a park, a (super)market, hawker centre or food court, the subway (train,
  station, metro, bus), a ferry, the airport, the beach, a river / the ocean / a
  lake / a harbor / the waterfront, museums, stadiums, a zoo, universities,
  hospitals, malls (named ones quoted whole: "Fort Tryon Park"); what is nearby
  (restaurants, cafes, bars, pubs, shops, boutiques, galleries, nightlife); famous named
  landmarks (Central Park, Times Square, Empire State, Brooklyn Bridge, ...;
  "Times Sq" and "5th Ave" count as written out), and street addresses
  ("42nd Street", "123 Main Street", "West 713");
- place names: any of `known_places` not in `places`; well-known places outside
  the city (countries, US states, big cities, regions); "City, ST"; and a
  capitalised name after in/at/near/from/to/of ("in Riyadh") that is neither a
  place of the support nor in its texts;
- ratings and superlatives asserting quality the data cannot back: N-star,
  "4.9 rating", top-rated, highly rated, rated/ratings, N out of N, Superhost, best,
  award-winning, Michelin, luxury/luxurious, stunning, breathtaking,
  spectacular, world-class, unparalleled, exclusive, high-end/upscale/premium,
  famous/renowned/iconic, historic/landmark, popular; history ("dates back",
  "the 1920s", "19th century");
- numbers: dollar amounts, N nights / days, N reviews, N% (and bounds and ranges:
  "fewer than 10 reviews", "10 to 99 reviews", "100 or more reviews"), and
  "more than 100 guests have stayed" (a count of past guests, not a capacity).

Deliberately NOT claims (near-universal, harmless, or puffery hosts use all the
time): bed, bedroom, bathroom, shower, living room, dining room, windows, walls,
apartment, home, house, room, building, neighborhood; cozy, charming, lovely,
beautiful, comfortable, clean, quiet, sunny, bright, spacious, large, huge,
great, nice, excellent, convenient, quaint; "the city"; bare numbers without a
unit (list numbering). "New York", "NYC" and the like are allowed only if the caller puts
them in `places`.

Support rules:
- a feature is backed when its key word or a synonym ("balconies"/"balcony",
  "w/d"/"washer"/"laundry", "subway"/"train") appears in a support text, case-
  and accent-insensitively, on word boundaries, plurals included; some are
  backed by related words ("a garden" backs "outdoor space"). A place name
  inside a support text does not back a feature word in it: "Hell's Kitchen"
  does not back "kitchen", nor "Rockaway Beach" "beach".
- a count or distance ("4 bedrooms", "15 minutes") is backed only when a support
  text states the same unit with the same number ("4BR", "15 min"); a number
  elsewhere in the data (a price of 4) does not back it.
- dollar amounts, nights, reviews, percentages and counts of past guests are
  backed when the number is in `support.numbers` or written in a support text;
  a bound or a range is backed when one of those numbers lies in it.
- a place or landmark is backed when it is in `places` or named in a support
  text.
- text strangers wrote (a listing's name: the host's words) is never a support
  text: it backs nothing. The text may quote it, attributed, as `quoted`: the
  whole of it between quotation marks ("listed as “Loft near Central Park”",
  markup and punctuation aside) claims nothing, and nor do its words back
  anything elsewhere, in the text or in a support text that quotes it (an ad's
  stored description). Unquoted, its words are the text's own claims.
- abbreviations are read written out: a support text saying "W. Village",
  "UWS", "Bed-Stuy", "Prospect Hts" or "Times Sq" backs "West Village", "Upper
  West Side", "Bedford-Stuyvesant", "Prospect Heights", "Times Square".
- ranges are generous: "2 to 4 days" is backed by any number of the data
  between 2 and 4 (the data's numbers are not labelled, so which one a text
  speaks of is unknown).
- negations are not understood: "no pool" is a pool claim (simpler, and a
  description has no business listing what a place lacks).
- structured facts back claims directly: `features` (FEATURES keys the data
  backs: a listing's amenities mapped by its domain) back their words as a support
  text would; `measures` back quantities by MEASURES' rules: "sleeps 4" needs
  guests >= 4, "2 bedrooms" exactly 2 bedrooms, "rated 4.9" a rating that shows
  as 4.9. An unknown key is a ValueError, so a typo in a domain's mapping cannot
  silently back nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from gfl_dagster.generation.folding import WORDS, mask, words_of, fold
from gfl_dagster.generation.number_words import BASE_WORDS, PATTERN as NUMBER_IN_WORDS, number_in_words


@dataclass(frozen=True)
class Support:
    texts: tuple[str, ...]  # the facts in words, which back claims: room type, property type, neighbourhood ...
    # (never text strangers wrote: that goes in `quoted`)
    places: tuple[str, ...] = ()  # place names the text may name (the listing's neighbourhood, area, city)
    known_places: tuple[str, ...] = ()  # every place name known; naming one not in `places` is a claim
    numbers: tuple[float, ...] = ()  # numbers the text may state (price, minimum nights, review count ...)
    features: tuple[str, ...] = ()  # FEATURES keys the data backs ("laundry", "pool", "superhost", "studio")
    measures: tuple[tuple[str, float], ...] = ()  # measured facts by MEASURES key: ("guests", 4), ("rating", 4.87)
    quoted: tuple[str, ...] = ()  # strangers' text the text may quote (the host's name): quoted, it claims nothing


# ---------------------------------------------------------------------------
# Vocabulary. Each key: (category, regex of its words in folded text). The same
# regex finds the claim in the text and its backing in the support texts;
# _BACKED_ALSO lists other keys whose words back a key too.

FEATURES: dict[str, tuple[str, str]] = {
    # amenities and features
    "pool": ("amenity", r"(?:swimming\s+)?pools?"),
    "balcony": ("amenity", r"balcon(?:y|ies)"),
    "terrace": ("amenity", r"terrace[sd]?"),
    "patio": ("amenity", r"patios?"),
    "rooftop": ("amenity", r"roof\s*tops?|roof[\s-]+(?:deck|terrace|garden)s?"),
    "deck": ("amenity", r"(?:sun\s*)?decks?"),
    "garden": ("amenity", r"gardens?"),
    "yard": ("amenity", r"back\s*yards?|yards?|court\s*yards?"),
    "outdoor space": ("amenity", r"outdoor\s+(?:space|area)s?"),
    "gym": ("amenity", r"gyms?|fitness(?:\s+(?:center|centre|room))?|workout\s+rooms?"),
    "view": ("amenity", r"views?|overlook(?:s|ing)?|vistas?|panoram(?:a|as|ic)|skylines?|"
                        r"look(?:s|ing)?\s+out\s+(?:over|onto|on|across)"),
    "parking": ("amenity", r"parking"),
    "garage": ("amenity", r"garages?"),
    "laundry": ("amenity", r"laundr(?:y|ies)|w/d"),
    "washer": ("amenity", r"washers?|washing\s+machines?"),
    "dryer": ("amenity", r"(?:tumble\s+)?dryers?"),
    "hair dryer": ("amenity", r"hair\s*dryers?|blow\s*dryers?"),
    "dishwasher": ("amenity", r"dish\s*washers?"),
    "doorman": ("amenity", r"door\s*m[ae]n|concierges?|front\s+desk"),
    "elevator": ("amenity", r"elevators?|lifts?"),
    "fireplace": ("amenity", r"fire\s*places?"),
    "air conditioning": ("amenity", r"air[\s-]+condition(?:ing|ed|er|ers)?|a/c|central\s+air"),
    "hot tub": ("amenity", r"hot\s*tubs?|jacuzzis?|whirlpools?"),
    "sauna": ("amenity", r"saunas?|steam\s+rooms?|spas?"),
    "wifi": ("amenity", r"wi-?fi|wireless|internet"),
    "workspace": ("amenity", r"work\s*spaces?|desks?|home\s+offices?"),
    "kitchen": ("amenity", r"kitchen(?:s|ettes?)?"),
    "private bathroom": ("amenity", r"(?:private|own|en[\s-]?suite)\s+bath(?:room)?s?|en[\s-]?suite"),
    "private entrance": ("amenity", r"(?:private|separate|own)\s+entrances?"),
    "lobby": ("amenity", r"lobb(?:y|ies)"),
    "high floor": ("amenity", r"(?:high|top)\s+floors?"),
    "pets": ("amenity", r"pets?|pet-friendly|dog-friendly|dogs?|cats?"),
    "breakfast": ("amenity", r"breakfasts?|b&b"),
    "restaurant": ("amenity", r"restaurant|on-?site\s+(?:bar|cafe)"),
    "chef": ("amenity", r"chefs?|butlers?|housekeeping|maid\s+service|room\s+service"),
    "bikes": ("amenity", r"bikes?|bicycles?|citi\s*bikes?"),
    "tv": ("amenity", r"tvs?|televisions?|smart\s+tvs?|netflix|streaming"),
    "utilities": ("amenity", r"utilities(?:\s+included)?"),
    "bed size": ("amenity", r"(?:queen|king|double|twin|full)[\s-]+(?:size[d]?[\s-]+)?(?:beds?|mattress(?:es)?)|"
                            r"bunk\s*beds?|(?:upper|lower)[\s-]+(?:deck(?:er)?|bunk)(?:\s+beds?)?|"
                            r"sofa[\s-]*beds?|futons?|air\s*mattress(?:es)?"),
    "crib": ("amenity", r"(?:baby\s+)?cribs?|(?:travel\s+|baby\s+)?cots?|pack\s*'?n'?\s*plays?"),
    "high chair": ("amenity", r"high\s*chairs?"),
    "ev charger": ("amenity", r"ev\s+chargers?|ev\s+charging(?:\s+stations?)?|electric\s+(?:vehicle|car)\s+charg(?:er|ers|ing)"),
    "gazebo": ("amenity", r"gazebos?|pergolas?"),
    "projector": ("amenity", r"projectors?"),
    "lounge": ("amenity", r"lounges?(?![\s-]+(?:chairs?|beds?))|common\s+rooms?"),
    "fees": ("terms", r"(?:cleaning|service|extra|additional|other|hidden)\s+fees?"),
    "superhost": ("rating", r"super\s*hosts?|guest\s+favou?rites?"),
    "renovated": ("amenity", r"(?:newly\s+)?(?:renovated|refurbished|remodell?ed)|renovations?|brand[\s-]new"),
    "hardwood floors": ("decor", r"hardwood(?:\s+floors?)?"),
    "exposed brick": ("decor", r"exposed\s+brick"),
    "high ceilings": ("decor", r"(?:high|tall|vaulted|cathedral)\s+ceilings?"),
    "skylight": ("decor", r"sky\s*lights?|skylit"),
    "floor-to-ceiling windows": ("decor", r"floor[\s-]to[\s-]ceiling(?:\s+windows?)?"),
    "piano": ("decor", r"pianos?"),
    "bathtub": ("decor", r"bath\s*tubs?|soaking\s+tubs?|clawfoot"),
    "grill": ("decor", r"grills?|bbqs?|barbecues?"),
    "mural": ("decor", r"murals?"),
    "chandelier": ("decor", r"chandeliers?"),
    "marble": ("decor", r"marble"),
    "granite": ("decor", r"granite"),
    "glass": ("decor", r"glass\s+(?:walls?|floors?|roofs?|ceilings?)|stained\s+glass"),
    "stone facade": ("decor", r"(?:stone|brick)\s+(?:facades?|walls?)|facades?"),
    "crown moulding": ("decor", r"crown\s+mou?ldings?"),
    # property types the room type does not imply
    "penthouse": ("property type", r"penthouses?"),
    "duplex": ("property type", r"duplex(?:es)?|triplex(?:es)?"),
    "loft": ("property type", r"lofts?"),
    "townhouse": ("property type", r"town\s*(?:house|home)s?"),
    "brownstone": ("property type", r"brownstones?"),
    "villa": ("property type", r"villas?"),
    "mansion": ("property type", r"mansions?"),
    "cottage": ("property type", r"cottages?"),
    "cabin": ("property type", r"cabins?"),
    "castle": ("property type", r"castles?"),
    "resort": ("property type", r"resorts?"),
    "hotel": ("property type", r"hotels?|motels?"),
    "hostel": ("property type", r"hostels?"),
    "condo": ("property type", r"condos?|condominiums?"),
    "studio": ("property type", r"studios?"),
    "walk-up": ("property type", r"walk[\s-]*ups?"),
    "high-rise": ("property type", r"towers?|high[\s-]?rises?|skyscrapers?"),
    "boat": ("property type", r"(?:house\s*)?boats?|yachts?|(?:cruise\s+)?ships?"),
    # distances and landmarks by kind (named landmarks are in LANDMARKS)
    "walking distance": ("distance", r"steps\s+(?:from|to|away)|walking\s+distance|(?:short|easy|quick)\s+walk|"
                                     r"walkable|stone's\s+throw|minutes?\s+(?:away|from|to|walk)|"
                                     r"blocks?\s+(?:away|from|to)|"
                                     r"around\s+the\s+corner|close\s+by|nearby|surrounded\s+by|"
                                     r"(?:right\s+)?across\s+(?:from|the\s+(?:road|street))|"
                                     r"(?:in|within)\s+the\s+vicinity"),
    "short drive": ("distance", r"(?:short|quick)\s+(?:drive|ride|trip)|(?:drive|ride)\s+(?:from|to|away)"),
    "park": ("landmark", r"parks?|park\s*land"),
    "subway": ("landmark", r"subways?|metro|trains?|stations?|transit|mta|bus(?:es)?|bus\s+stops?"),
    "ferry": ("landmark", r"ferr(?:y|ies)"),
    "airport": ("landmark", r"airports?|jfk|la\s*guardia|lga|newark|ewr"),
    "beach": ("landmark", r"beach(?:es|front|side)?|boardwalk"),
    "river": ("landmark", r"rivers?|river(?:side|front)"),
    "ocean": ("landmark", r"oceans?|seas?|ocean\s*(?:front|side)|sea\s*(?:front|side|shore)"),
    "lake": ("landmark", r"lakes?|lake\s*(?:front|side)"),
    "harbor": ("landmark", r"harbou?rs?|marinas?"),
    "waterfront": ("landmark", r"water\s*(?:front|side)"),
    "museum": ("landmark", r"museums?"),
    "stadium": ("landmark", r"stadiums?|arenas?"),
    "zoo": ("landmark", r"zoos?"),
    "university": ("landmark", r"universit(?:y|ies)|colleges?|campus(?:es)?"),
    "hospital": ("landmark", r"hospitals?|medical\s+cent(?:er|re)s?"),
    "mall": ("landmark", r"(?:shopping\s+)?malls?|shopping\s+cent(?:er|re)s?"),
    "market": ("landmark", r"(?:super|farmers?'?\s+|night\s+|wet\s+)?markets?|hawker\s+cent(?:er|re)s?|"
                           r"food\s+(?:court|cent(?:er|re))s?"),
    # what is nearby: places to eat, drink and shop (the listing's facts never say)
    "restaurants and shops": ("nearby", r"restaurants|cafes?|coffee\s*(?:shops?|houses?)|eater(?:y|ies)|bistros?|"
                                        r"pubs?|bars|breweries|nightlife|shops|shopping|boutiques|galleries|stores"),
    # ratings and superlatives
    "top-rated": ("rating", r"(?:top|highly|best|well|five[\s-]star)[\s-]rated|top[\s-](?:notch|10|ten)"),
    "rating": ("rating", r"rat(?:ed|ing|ings)"),
    "best": ("rating", r"best"),
    "award": ("rating", r"award[\s-]winning|awards?"),
    "michelin": ("rating", r"michelin(?:[\s-]starred)?"),
    "luxury": ("rating", r"luxur(?:y|ious|iously)|luxe"),
    "stunning": ("rating", r"stunning"),
    "breathtaking": ("rating", r"breath\s*-?taking"),
    "spectacular": ("rating", r"spectacular|magnificent"),
    "world-class": ("rating", r"world[\s-]class"),
    "unparalleled": ("rating", r"unparall?ell?ed|unbeatable|unrivall?ed|unmatched"),
    "exclusive": ("rating", r"exclusive|exclusivity"),
    "high-end": ("rating", r"high[\s-]end|upscale|premium|premier|deluxe|five[\s-]star"),
    "famous": ("rating", r"famous|renowned|iconic|legendary|celebrated"),
    "historic": ("rating", r"historic(?:al)?|landmarks?"),
    "history": ("area", r"histor(?:y|ies)|dates?\s+back|(?:16|17|18|19)\d0s|"
                        r"(?:seventeenth|eighteenth|nineteenth|twentieth|17th|18th|19th|20th)[\s-]+century"),
    "popular": ("rating", r"popular|sought[\s-]after|in\s+demand"),
}

# Measured facts a `Support` can carry, and how each backs a quantity the text states:
#   "at most"  a capacity: "for 4 guests" is backed by room for 4 or more;
#   "equal"    a count: "2 bedrooms" only by 2 ("3+ bedrooms" by 3 or more);
#   "score"    a rating out of 5: "rated 4.9", "4.9 stars" by a rating that rounds or truncates to it
#              ("4.8+" by 4.8 or more).
MEASURES: dict[str, str] = {"guests": "at most", "bedrooms": "equal", "beds": "equal", "baths": "equal",
                            "rating": "score"}
# The units of quantities in the text that each measure backs.
_MEASURED_UNITS = {"guests": "guests", "bedrooms": "bedrooms", "beds": "beds", "baths": "baths",
                   "rating": "rating", "stars": "rating"}

# Other keys whose words back a key ("a garden" backs "outdoor space").
_BACKED_ALSO: dict[str, tuple[str, ...]] = {
    "outdoor space": ("terrace", "balcony", "patio", "deck", "rooftop", "garden", "yard"),
    "laundry": ("washer", "dryer"),
    "deck": ("rooftop",),
    "garage": ("parking",),
    "high floor": ("view",),
    "top-rated": ("rating",),
    "waterfront": ("river", "ocean", "lake", "harbor", "beach"),
    "ocean": ("beach",),
    "beach": ("ocean",),
}

# Famous named landmarks: a claim unless a support text names them. Abbreviations
# ("Times Sq", "5th Ave", "Barclays Ctr") are matched as the full name.
LANDMARKS = (
    "central park", "times square", "empire state building", "empire state", "brooklyn bridge",
    "manhattan bridge", "williamsburg bridge", "george washington bridge", "statue of liberty",
    "rockefeller center", "grand central", "penn station", "madison square garden", "high line",
    "prospect park", "coney island", "yankee stadium", "barclays center", "citi field",
    "world trade center", "one world trade", "freedom tower", "9/11 memorial", "wall street",
    "broadway", "fifth avenue", "park avenue", "madison avenue", "union square", "washington square",
    "bryant park", "lincoln center", "columbia university", "nyu", "moma", "museum of modern art",
    "metropolitan museum", "the met", "guggenheim", "chelsea market", "flushing meadows", "us open",
    "botanic garden", "botanical garden", "bronx zoo", "hudson river", "east river", "hudson", "hudson yards",
    "the vessel", "chrysler building", "flatiron building", "radio city", "carnegie hall",
    "apollo theater", "smorgasburg", "domino park", "mccarren park", "astoria park", "tompkins square",
    "staten island ferry", "jfk airport", "laguardia airport", "newark airport", "columbus circle",
    "manhattan skyline", "new york skyline", "city skyline", "ellis island", "governors island",
)
_ABBREVIATIONS = {
    "square": r"sq(?:uare|\.)?", "avenue": r"ave(?:nue|\.)?", "street": r"st(?:reet|\.)?",
    "center": r"(?:center|centre|ctr\.?)", "building": r"(?:building|bldg\.?)", "fifth": r"(?:fifth|5th)",
    "theater": r"theat(?:er|re)", "garden": r"gardens?", "park": r"park",
}

# Places outside the city that a description of a listing here has no reason to name.
WORLD_PLACES = (
    # countries ("United States" and "America" are true of every listing here; "Chad" and "Jordan" are names)
    "Afghanistan", "Albania", "Algeria", "Andorra", "Angola", "Antigua", "Argentina", "Armenia", "Australia",
    "Austria", "Azerbaijan", "Bahamas", "Bahrain", "Bangladesh", "Barbados", "Belarus", "Belgium", "Belize", "Benin",
    "Bhutan", "Bolivia", "Bosnia", "Botswana", "Brazil", "Brunei", "Bulgaria", "Burkina Faso", "Burundi",
    "Cambodia", "Cameroon", "Canada", "Cape Verde", "Central African Republic", "Chile", "China", "Colombia",
    "Comoros", "Congo", "Costa Rica", "Croatia", "Cuba", "Cyprus", "Czech Republic", "Czechia", "Denmark",
    "Djibouti", "Dominican Republic", "Ecuador", "Egypt", "El Salvador", "Equatorial Guinea", "Eritrea", "Estonia",
    "Eswatini", "Ethiopia", "Fiji", "Finland", "France", "Gabon", "Gambia", "Germany", "Ghana", "Greece",
    "Grenada", "Guatemala", "Guinea", "Guyana", "Haiti", "Honduras", "Hungary", "Iceland", "India", "Indonesia",
    "Iran", "Iraq", "Ireland", "Israel", "Italy", "Ivory Coast", "Jamaica", "Japan", "Kazakhstan", "Kenya",
    "Kiribati", "Kosovo", "Kuwait", "Kyrgyzstan", "Laos", "Latvia", "Lebanon", "Lesotho", "Liberia", "Libya",
    "Liechtenstein", "Lithuania", "Luxembourg", "Madagascar", "Malawi", "Malaysia", "Maldives", "Mali", "Malta",
    "Mauritania", "Mauritius", "Mexico", "Micronesia", "Moldova", "Monaco", "Mongolia", "Montenegro", "Morocco",
    "Mozambique", "Myanmar", "Namibia", "Nauru", "Nepal", "Netherlands", "Holland", "New Zealand", "Nicaragua",
    "Niger", "Nigeria", "North Korea", "North Macedonia", "Norway", "Oman", "Pakistan", "Palau", "Palestine",
    "Panama", "Papua New Guinea", "Paraguay", "Peru", "Philippines", "Poland", "Portugal", "Puerto Rico", "Qatar",
    "Romania", "Russia", "Rwanda", "Samoa", "San Marino", "Saudi Arabia", "Senegal", "Serbia", "Seychelles",
    "Sierra Leone", "Singapore", "Slovakia", "Slovenia", "Somalia", "South Africa", "South Korea", "Korea",
    "South Sudan", "Spain", "Sri Lanka", "Sudan", "Suriname", "Sweden", "Switzerland", "Syria", "Taiwan",
    "Tajikistan", "Tanzania", "Thailand", "Togo", "Tonga", "Trinidad", "Tunisia", "Turkey", "Turkmenistan",
    "Tuvalu", "Uganda", "Ukraine", "United Arab Emirates", "UAE", "United Kingdom", "UK", "England", "Scotland",
    "Wales", "Uruguay", "Uzbekistan", "Vanuatu", "Vatican", "Venezuela", "Vietnam", "Yemen", "Zambia", "Zimbabwe",
    # regions, and places near the city that are not in it
    "Europe", "Asia", "Africa", "South America", "Central America", "Middle East", "Caribbean", "Mediterranean",
    "Scandinavia", "Riviera", "Tuscany", "Provence", "Bavaria", "Alps", "Midwest", "New England", "West Coast",
    "Long Island", "Hamptons", "Westchester", "Upstate New York", "Catskills", "Poconos", "New Rochelle",
    "White Plains", "Jersey Shore",
    # US states but New York (Washington: only "Washington State"/"Washington, DC")
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware", "Florida",
    "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas", "Kentucky", "Louisiana", "Maine",
    "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska",
    "Nevada", "New Hampshire", "New Jersey", "New Mexico", "North Carolina", "North Dakota", "Ohio", "Oklahoma",
    "Oregon", "Pennsylvania", "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah",
    "Vermont", "Virginia", "Washington State", "Washington, DC", "Washington D.C.", "West Virginia",
    "Wisconsin", "Wyoming",
    # big cities
    "London", "Paris", "Rome", "Berlin", "Madrid", "Barcelona", "Lisbon", "Amsterdam", "Brussels", "Vienna",
    "Prague", "Budapest", "Athens", "Istanbul", "Moscow", "Dublin", "Edinburgh", "Munich", "Bonn", "Frankfurt",
    "Hamburg", "Milan", "Venice", "Florence", "Naples", "Zurich", "Geneva", "Stockholm", "Oslo", "Copenhagen",
    "Helsinki", "Warsaw", "Tokyo", "Kyoto", "Osaka", "Beijing", "Shanghai", "Hong Kong", "Seoul", "Bangkok",
    "Mumbai", "Delhi", "New Delhi", "Dubai", "Abu Dhabi", "Riyadh", "Jeddah", "Doha", "Cairo", "Tel Aviv",
    "Jerusalem", "Sydney", "Melbourne", "Toronto", "Montreal", "Vancouver", "Mexico City", "Cancun", "Havana",
    "Rio de Janeiro", "Sao Paulo", "Buenos Aires", "Los Angeles", "San Francisco", "Chicago", "Boston",
    "Philadelphia", "Miami", "Las Vegas", "Seattle", "Atlanta", "Houston", "Dallas", "Austin", "Denver",
    "Phoenix", "New Orleans", "Nashville", "Orlando", "San Diego", "Detroit", "Baltimore", "Honolulu",
    "Hoboken", "Jersey City", "Yonkers", "Albany", "Long Beach",
)
_REGION_CODES = (
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC BC ON QC AB MB SK NS NB NL PE"
).split()

# Numbers in words are read by generation/number_words.py (text2num); "single" is one too ("a single bed").
_WORDS_NUM = rf"(?:{NUMBER_IN_WORDS}|single)"
_ORDINALS = {"ground": 0, "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
             "eighth": 8, "ninth": 9, "tenth": 10}
_NUM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|" + _WORDS_NUM + r")"

# Units of quantities. "size"/"distance"/"rating" units are backed only by the same
# unit and number in a support text; "number" units by the number anywhere in the data.
UNITS: dict[str, tuple[str, str]] = {
    "bedrooms": ("size", r"bed\s*rooms?|bdrms?|brs?|bds?"),
    "baths": ("size", r"bath(?:room)?s?|ba"),
    "beds": ("size", r"beds?"),
    "sq ft": ("size", r"sq\.?\s*f(?:ee)?t\.?|sqft|sf|square\s+f(?:ee|oo)t|square\s+met(?:er|re)s?|sq\.?\s*m|m2|sqm"),
    "guests": ("size", r"guests?|people|persons?|adults?|travell?ers"),
    "floors": ("size", r"stor(?:y|ies|ey|eys)|floors?|levels?"),
    "rooms": ("size", r"rooms?"),
    "stars": ("rating", r"stars?"),
    "minutes": ("distance", r"min(?:ute)?s?\.?"),
    "hours": ("distance", r"h(?:ou)?rs?|hours?"),
    "blocks": ("distance", r"blocks?"),
    "miles": ("distance", r"miles?|mi|km|kilomet(?:er|re)s?|met(?:er|re)s?"),
    "ceiling height": ("size", r"(?:foot|feet|ft\.?)\s+(?:high\s+)?ceilings?"),
    "feet": ("size", r"foot|feet|ft\.?"),
    "nights": ("number", r"nights?|days?"),
    "reviews": ("number", r"reviews?"),
    "percent": ("number", r"%|percent"),
    "dollars": ("number", r"dollars?|usd"),
}

_B = r"(?<!\w)"  # word start
_E = r"(?!\w)"  # word end


def _alternation(patterns: Iterable[str], prefix: str) -> str:
    return "|".join(f"(?P<{prefix}{i}>{regex})" for i, regex in enumerate(patterns))


def _landmark_regex(name: str) -> str:
    return r"[\s-]+".join(_ABBREVIATIONS.get(word, re.escape(word)) for word in name.split())


def _split_top(pattern: str) -> list[str]:
    """The top-level alternatives of a regex."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = pattern.index("]", i + 2)
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


def _leading_literals(pattern: str) -> set[str]:
    """Literal strings one of which starts every match of `pattern` (for a fast prefilter)."""
    literals: set[str] = set()
    for alternative in _split_top(pattern):
        if alternative.startswith("(?:"):
            depth, i = 0, 0
            while True:  # the group's end
                if alternative[i] == "\\":
                    i += 2
                    continue
                depth += alternative[i] == "("
                depth -= alternative[i] == ")"
                i += 1
                if depth == 0:
                    break
            group, rest = alternative[3:i - 1], alternative[i:]
            if rest.startswith("?"):
                literals |= _leading_literals(group) | _leading_literals(rest[1:])
            else:
                literals |= {lit for g in _split_top(group) for lit in _leading_literals(g + rest)}
            continue
        literal = ""
        for i, char in enumerate(alternative):
            if i + 1 < len(alternative) and alternative[i + 1] in "?*{":
                break
            if char == "\\" and i + 1 < len(alternative) and not alternative[i + 1].isalnum():
                literal += alternative[i + 1]
                continue
            if not (char.isalnum() or char in "/&'"):
                break
            if i and alternative[i - 1] == "\\":
                literal = literal[:-1]
                break
            literal += char
        if not literal:
            raise ValueError(f"no leading literal in {alternative!r}")
        literals.add(literal)
    return literals


class _Alternation:
    """A word-bounded alternation of named patterns, found fast.

    One big alternation tried at every word start is slow in `re`. Every pattern
    here starts with one of a few literals; a literal-only regex finds where one
    starts, and there only the patterns that can start with that literal are
    tried, in their original order (the first that matches wins, as in the big
    alternation).
    """

    def __init__(self, patterns: Sequence[str], prefix: str):
        self.names = [f"{prefix}{i}" for i in range(len(patterns))]
        literal_sets = [_leading_literals(p) for p in patterns]
        literals = sorted(set().union(*literal_sets), key=len, reverse=True)
        self.trigger = re.compile(_B + "(?:" + "|".join(re.escape(x) for x in literals) + ")")
        self.full = re.compile(_B + "(?:" + _alternation(patterns, prefix) + ")" + _E)
        self.by_literal: dict[str, re.Pattern] = {}
        for literal in literals:
            members = [i for i, lits in enumerate(literal_sets) if any(literal.startswith(x) for x in lits)]
            self.by_literal[literal] = re.compile(
                _B + "(?:" + "|".join(f"(?P<{self.names[i]}>{patterns[i]})" for i in members) + ")" + _E)

    def finditer(self, text: str) -> Iterable[re.Match]:
        """Like self.full.finditer(text); m.lastgroup names the pattern ("<prefix><index>")."""
        at = 0
        for candidate in self.trigger.finditer(text):
            if candidate.start() < at:
                continue
            m = self.by_literal[candidate.group()].match(text, candidate.start())
            if m:
                at = m.end()
                yield m


_FEATURE_KEYS = list(FEATURES)
_FEATURES = _Alternation([r for _, r in FEATURES.values()], "f")
_LANDMARK_NAMES = sorted(LANDMARKS, key=len, reverse=True)
_LANDMARKS = _Alternation([_landmark_regex(n) for n in _LANDMARK_NAMES], "l")
# Matched in folded text; the original must be capitalised there.
_WORLD_BY_FIRST_WORD: dict[str, list[str]] = {}
for _place in sorted({fold(p) for p in WORLD_PLACES}, key=len, reverse=True):
    _WORLD_BY_FIRST_WORD.setdefault(re.match(r"\w+", _place).group(), []).append(_place)
_CAPITALISED = re.compile(r"(?<!\w)[A-Z](\w*)")


def _world_places(original: str, folded: str) -> Iterable[tuple[int, int]]:
    """Spans of WORLD_PLACES written with a capital (a dict lookup per capitalised word)."""
    for m in _CAPITALISED.finditer(original):
        for place in _WORLD_BY_FIRST_WORD.get(folded[m.start():m.end()], ()):
            end = m.start() + len(place)
            if folded.startswith(place, m.start()) and not (end < len(folded) and (folded[end].isalnum()
                                                                                   or folded[end] == "_")):
                yield m.start(), end
                break


_CITY_STATE_RE = re.compile(r"(?<![\w.])([A-Z][A-Za-z'.-]*(?: [A-Z][A-Za-z'.-]*){0,2}),\s*(?:"
                            + "|".join(_REGION_CODES) + r")\b")

_UNIT_KEYS = list(UNITS)
_QUANTITY_RE = re.compile(
    _B + r"(?P<num>" + _NUM + r")(?P<k>k)?(?:\s*\+|\s+or\s+(?:more|over|fewer|less))?"
    r"(?:\s*-?\s*|\s+(?P<adj>[a-z]+)[\s-]+)(?:"
    + _alternation((r for _, r in UNITS.values()), "u") + r")" + _E
    + r"|(?P<sleeps>sleeps|accommodates|up\s+to)\s+(?P<num2>" + _NUM + r")(?!\s*(?:nights?|reviews?|%|\$))" + _E
    + r"|" + _B + r"(?P<ordinal>\d+(?=st|nd|rd|th)|" + "|".join(_ORDINALS) + r")(?:st|nd|rd|th)?[\s-]+floor" + _E
    + r"|\$\s*(?P<money>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?P<mk>k)?"
    + r"|" + _B + r"(?P<star>\d+(?:\.\d+)?|" + _WORDS_NUM + r")\s*-\s*star"
    + r"|" + _B + r"(?P<score>\d(?:\.\d+)?)\s+(?:guest\s+)?rating" + _E
    + r"|" + _B + r"rated\s+(?P<score2>\d(?:\.\d+)?)(?!\s*(?:nights?|%))" + _E
    + r"|" + _B + r"(?P<score3>\d+(?:\.\d+)?)\s*(?:out\s+of|/)\s*(?:5|10)" + _E
)
_QUANTITY_TRIGGER = re.compile(r"\$|" + _B + r"(?:\d|sleeps|accommodates|up\s+to|rated|"
                               + "|".join([*BASE_WORDS, "single", *_ORDINALS]) + ")")
# Words that may stand between a number and its unit ("4 different bedrooms") only if not these.
_NOT_ADJECTIVES = frozenset("or and to of the a an than more less fewer per in on at for from with by is are was "
                            "were has have had plus minus times out".split())
_PAST_GUESTS = re.compile(r"\s*(?:have|has|had|who|that|left|stayed|reviewed|rated|loved|enjoyed|gave)\b")
_BOUND_BEFORE = re.compile(
    r"(?:(?P<lt>fewer\s+than|less\s+than|under|below|up\s+to|at\s+most)"
    r"|(?P<gt>more\s+than|over|above|at\s+least|upwards\s+of)"
    r"|(?P<lo>" + _NUM + r")\s*(?:to|-|and)\s*)\s*\$?\s*$"
)
_BOUND_AFTER = re.compile(r"\s*(?:\+|or\s+more|or\s+over|plus)")
_OR_MORE = re.compile(r"\d\s*\+|\bor\s+(?:more|over)\b")
_OR_LESS = re.compile(r"\bor\s+(?:fewer|less)\b")
_BARE_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])\d+(?:\.\d+)?")

# A capitalised name after a preposition: "in Riyadh", "at the Red Door", "of St. Thomas Island".
_WORD = r"[A-Z][\w'-]*\w\.?"
_NAMED_PLACE_RE = re.compile(
    r"\b(?:in|at|near|from|to|of)\s+(?:the\s+)?"
    r"(?:(?:city|town|village|area|island|state|neighbou?rhood|borough)\s+of\s+)?"
    r"(?P<name>" + _WORD + r"(?: +(?:of +)?" + _WORD + r"){0,3}"
    r"(?:(?:, +| +(?:and|or|&) +|, +(?:and|or) +)(?:the +)?" + _WORD + r"(?: +" + _WORD + r"){0,3}){0,3})"
)
_NOT_PLACE_WORDS = frozenset(
    "the a an this that it its i my our your their his her we you they private entire shared hotel room "
    "home apt apartment studio monday tuesday wednesday thursday friday saturday sunday january february "
    "march april may june july august september october november december english spanish json".split()
)
_STREET_RE = re.compile(
    r"(?<!\w)(?:(?:East|West|E\.|W\.)\s+\d+(?:st|nd|rd|th)?(?:\s+(?:St|Street|Ave|Avenue|Block))?\.?"
    r"|(?:\d+\s+)?(?:\d+(?:st|nd|rd|th)?|[A-Z][a-z]+)\s+(?:St|Street|Ave|Avenue|Blvd|Boulevard|Rd|Road)\b\.?)"
)
_DIRECTIONS = re.compile(r"[ \t]+(?:East|West|North|South|Side|Heights)\b")
_NAME_BEFORE = re.compile(r"(?:[A-Z][\w'.-]*\w\.? +){1,3}$")  # "Fort Tryon " before "Park"

# Abbreviations in support texts, written out so that the text may spell them in full.
_ABBREVIATED = {
    "uws": "Upper West Side", "ues": "Upper East Side", "les": "Lower East Side", "l.e.s.": "Lower East Side",
    "fidi": "Financial District", "lic": "Long Island City", "bk": "Brooklyn", "bklyn": "Brooklyn",
    "bedstuy": "Bedford-Stuyvesant", "bed-stuy": "Bedford-Stuyvesant", "bed stuy": "Bedford-Stuyvesant",
    "wburg": "Williamsburg", "w'burg": "Williamsburg", "qns": "Queens", "bx": "Bronx", "nyc": "New York City",
    "ny": "New York", "hts": "Heights", "sq": "Square", "ave": "Avenue", "ctr": "Center", "bldg": "building",
    "apt": "apartment", "br": "bedroom", "bd": "bedroom", "ba": "bath",
}
_ABBREVIATION_RE = re.compile(
    r"(?<![\w.'])(?:" + "|".join(re.escape(a) for a in sorted(_ABBREVIATED, key=len, reverse=True))
    + r")\.?(?![\w'])", re.IGNORECASE)
_INITIAL_RE = re.compile(r"\b([WENS])\. *(?=[A-Z])")
_COMPASS = {"W": "West ", "E": "East ", "N": "North ", "S": "South "}


def _written_out(text: str) -> str:
    """`text` with its abbreviations written out ("W. Village" -> "West Village")."""

    def spelled(m: re.Match) -> str:
        abbreviation = m.group().lower()
        return _ABBREVIATED.get(abbreviation) or _ABBREVIATED[abbreviation.rstrip(".")]

    return _ABBREVIATION_RE.sub(spelled, _INITIAL_RE.sub(lambda m: _COMPASS[m.group(1)], text))


# ---------------------------------------------------------------------------
# The support, indexed once per Support (cached).

@dataclass(frozen=True)
class _Index:
    words: str  # ' w w w ': folded words of the support texts
    numbers: frozenset[float]
    quantities: frozenset[tuple[str, float]]
    allowed_places: frozenset[str]
    place_re: re.Pattern | None
    features: frozenset[str]
    landmarks: frozenset[int]
    quotation_re: re.Pattern | None
    measures: tuple[tuple[str, float], ...]


def _number(text: str) -> float | None:
    text = text.strip()
    if text == "single":
        return 1.0
    if text[:1].isalpha():
        value = number_in_words(text)
        return None if value is None else float(value)
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


@lru_cache(maxsize=64)
def _place_regex(names: frozenset[str]) -> re.Pattern | None:
    ordered = sorted(names, key=len, reverse=True)
    return re.compile(_B + "(?:" + "|".join(re.escape(n) for n in ordered) + ")" + _E) if ordered else None


def _quantities(folded: str) -> Iterable[tuple[str, float, int, int, str]]:
    """(unit key, value, start, end, kind) of each quantity in folded text."""
    at = 0
    for candidate in _QUANTITY_TRIGGER.finditer(folded):
        if candidate.start() < at:
            continue
        m = _QUANTITY_RE.match(folded, candidate.start())
        if not m:
            continue
        at = m.end()
        group = m.lastgroup
        if m.group("money") is not None:
            value = _number(m.group("money"))
            if value is not None:
                yield "dollars", value * (1000 if m.group("mk") else 1), m.start(), m.end(), "number"
        elif m.group("star") is not None:
            value = _number(m.group("star"))
            if value is not None:
                yield "stars", value, m.start(), m.end(), "rating"
        elif m.group("score") is not None or m.group("score2") is not None or m.group("score3") is not None:
            score = m.group("score") or m.group("score2") or m.group("score3")
            yield "rating", float(score), m.start(), m.end(), "rating"
        elif m.group("ordinal") is not None:
            ordinal = m.group("ordinal")
            yield "floor", float(_ORDINALS.get(ordinal, ordinal)), m.start(), m.end(), "size"
        elif m.group("sleeps") is not None:
            value = _number(m.group("num2"))
            if value is not None:
                yield "guests", value, m.start(), m.end(), "size"
        elif group and group.startswith("u"):
            if m.group("adj") and m.group("adj") in _NOT_ADJECTIVES:
                continue
            value = _number(m.group("num"))
            if value is None:
                continue
            if m.group("k"):
                value *= 1000
            unit = _UNIT_KEYS[int(group[1:])]
            kind = UNITS[unit][0]
            if unit == "guests" and _PAST_GUESTS.match(folded, m.end()):
                kind = "number"  # "more than 100 guests have stayed": a count, not a capacity
            yield unit, value, m.start(), m.end(), kind


@lru_cache(maxsize=256)
def _folded(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(fold(n).strip() for n in names if n and n.strip())


_QUOTE_OPEN = "\"'\u00ab\u2039"  # in folded text, curly quotes are straight
_QUOTE_CLOSE = "\"'\u00bb\u203a"


@lru_cache(maxsize=2048)
def _quotation_regex(quoted: tuple[str, ...]) -> re.Pattern | None:
    """Each of `quoted` whole between quotation marks, in folded text, whatever punctuation, markup or underscores
    stand between its words (a name "Luxe Loft | Roof_Deck" quoted as “Luxe Loft Roof Deck”)."""
    alternatives = {r"[\W_]+".join(map(re.escape, words)) for words in
                    (re.findall(r"[^\W_]+", fold(text)) for text in quoted) if words}
    if not alternatives:
        return None
    return re.compile(f"[{_QUOTE_OPEN}][\\W_]*?(?:" + "|".join(sorted(alternatives, key=len, reverse=True))
                      + f")[\\W_]*?[{_QUOTE_CLOSE}]")


def quotation_spans(text: str, quoted: Iterable[str]) -> list[tuple[int, int]]:
    """Where `text` quotes one of `quoted` whole, quotation marks included."""
    regex = _quotation_regex(tuple(quoted))
    return [m.span() for m in regex.finditer(fold(text))] if regex is not None else []


def without_quotations(text: str, quoted: Iterable[str]) -> str:
    """`text` with each quotation of one of `quoted` blanked: what the text says in its own words."""
    return mask(text, quotation_spans(text, quoted))


@lru_cache(maxsize=2048)
def _index(support: Support) -> _Index:
    # An underscore separates words as a space does ("Queen Bed_Plush").
    own_texts = [without_quotations(t, support.quoted).replace("_", " ") for t in support.texts if t]
    texts = own_texts + [w for w in map(_written_out, own_texts) if w not in own_texts]
    raw_blob = "\n".join(fold(t) for t in texts)
    place_names = _folded(tuple(support.places)) | _folded(tuple(support.known_places))
    place_re = _place_regex(place_names)
    blob = mask(raw_blob, [m.span() for m in place_re.finditer(raw_blob)]) if place_re else raw_blob
    numbers = {float(n) for n in support.numbers if n is not None}
    numbers.update(v for v in (_number(m.group()) for m in _BARE_NUMBER.finditer(raw_blob)) if v is not None)
    quantities = {(unit, value) for unit, value, *_ in _quantities(raw_blob)}
    features = {_FEATURE_KEYS[int(m.lastgroup[1:])] for m in _FEATURES.finditer(blob)}
    unknown = sorted(set(support.features) - set(FEATURES))
    if unknown:
        raise ValueError(f"unknown feature key(s) {', '.join(map(repr, unknown))} in the support "
                         "(known: generation/grounding.py FEATURES)")
    features.update(support.features)
    unknown = sorted({key for key, _ in support.measures} - set(MEASURES))
    if unknown:
        raise ValueError(f"unknown measure(s) {', '.join(map(repr, unknown))} in the support (known: {', '.join(MEASURES)})")
    for key, others in _BACKED_ALSO.items():
        if features.intersection(others):
            features.add(key)
    landmarks = {int(m.lastgroup[1:]) for m in _LANDMARKS.finditer(raw_blob)}
    return _Index(
        words=words_of(raw_blob), numbers=frozenset(numbers), quantities=frozenset(quantities),
        allowed_places=_folded(tuple(support.places)),
        place_re=place_re, features=frozenset(features), landmarks=frozenset(landmarks),
        quotation_re=_quotation_regex(tuple(support.quoted)), measures=tuple((k, float(v)) for k, v in support.measures if v is not None),
    )


def _measure_backed(folded: str, start: int, end: int, unit: str, value: float,
                    measures: tuple[tuple[str, float], ...]) -> bool:
    """Is a quantity of the text ("for 4 guests", "2 bedrooms", "rated 4.9") backed by a measured fact?"""
    key = _MEASURED_UNITS.get(unit)
    facts = [v for k, v in measures if k == key]
    if not facts:
        return False
    before = _BOUND_BEFORE.search(folded[max(0, start - 24):start])
    at_least = bool(_BOUND_AFTER.match(folded, end) or _OR_MORE.search(folded, start, end)
                    or (before and before.group("gt")))
    rule = MEASURES[key]
    for fact in facts:
        if at_least or rule == "at most":
            if fact >= value - 1e-9:
                return True
        elif rule == "equal":
            if abs(fact - value) < 1e-9:
                return True
        elif any(abs(value - shown) < 1e-9 for shown in (round(fact, 1), round(fact, 2), int(fact * 10) / 10)):
            return True
    return False


def _bound_backed(folded: str, start: int, end: int, value: float, numbers: frozenset[float]) -> bool:
    before = _BOUND_BEFORE.search(folded[max(0, start - 24):start])
    after = _BOUND_AFTER.match(folded, end) or _OR_MORE.search(folded, start, end)
    if after or (before and before.group("gt")):
        return any(n >= value for n in numbers)
    if _OR_LESS.search(folded, start, end) or (before and before.group("lt")):
        return any(n <= value for n in numbers)
    if before and before.group("lo"):
        low = _number(before.group("lo"))
        if low is not None:
            return any(low <= n <= value for n in numbers)
    return value in numbers


def _fmt(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else str(value)


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def unsupported_claims(text: str, support: Support) -> list[str]:
    """Each concrete claim in `text` that `support` does not back, as a reason naming the claim, e.g.
    'claims "pool" (amenity) but the listing does not say so'.

    One reason per distinct claim (first occurrence quoted). Negations are not
    understood: "no pool" counts as a pool claim. See the module docstring for the
    vocabulary and the support rules.
    """
    if not text:
        return []
    index = _index(support)
    folded = fold(text)
    reasons: list[str] = []
    seen: set[str] = set()

    def report(key: str, surface: str, category: str, detail: str = "the listing does not say so") -> None:
        if key in seen:
            return
        seen.add(key)
        surface = " ".join(surface.split())
        label = category if fold(surface) == key.split("|")[0] else f"{category}: {key.split('|')[0]}"
        reasons.append(f'claims "{surface}" ({label}) but {detail}')

    def named(name: str) -> bool:
        return f" {' '.join(WORDS.findall(fold(name)))} " in index.words

    # 1. Strangers' text quoted whole (the host's name, attributed) claims nothing.
    masked: list[tuple[int, int]] = [m.span() for m in index.quotation_re.finditer(folded)] \
        if index.quotation_re is not None else []
    work = mask(folded, masked)

    # 2. Named landmarks.
    spans = []
    for m in _LANDMARKS.finditer(work):
        spans.append(m.span())
        if int(m.lastgroup[1:]) not in index.landmarks and m.group() not in index.allowed_places:
            report(_LANDMARK_NAMES[int(m.lastgroup[1:])], text[m.start():m.end()], "landmark")

    # 3. Known place names (the support's own and every other one).
    if index.place_re is not None:
        for m in index.place_re.finditer(work):
            spans.append(m.span())
            name = m.group()
            if name not in index.allowed_places and not named(name):
                end = m.end()
                direction = _DIRECTIONS.match(text, end)
                if direction:
                    end = direction.end()
                where = ", ".join(p for p in support.places[:2] if p) or "elsewhere"
                report(name, text[m.start():end], "place", f"the listing is in {where}")
    work = mask(work, spans)
    masked += spans
    original = mask(text, masked, "\0")  # masked stretches break names apart

    # 4. Places outside the city, "City, ST", and capitalised names after a preposition.
    def unknown_place(name: str) -> bool:
        folded_name = fold(name).strip(" .,")
        words = WORDS.findall(folded_name)
        if not words or words[0] in _NOT_PLACE_WORDS or folded_name in index.allowed_places:
            return False
        if any(folded_name.startswith(p + " ") or folded_name.startswith(p + ",") for p in index.allowed_places):
            return False
        return not named(folded_name) and not all(f" {w} " in index.words for w in words)

    place_spans = []
    for start, end in _world_places(original, folded):
        if not named(folded[start:end]) and folded[start:end] not in index.allowed_places:
            place_spans.append((start, end))
            report(folded[start:end], text[start:end], "place", "the listing does not name it")
    for m in _CITY_STATE_RE.finditer(original):
        if unknown_place(m.group(1)):
            place_spans.append(m.span())
            report(fold(m.group()), m.group(), "place", "the listing does not name it")
    original = mask(original, place_spans, "\0")
    for m in _NAMED_PLACE_RE.finditer(original):
        name = m.group("name").rstrip(".,")
        if unknown_place(name) and not _FEATURES.full.fullmatch(fold(name)):
            report(fold(name), name, "place", "the listing does not name it")
    for m in _STREET_RE.finditer(original):
        name = m.group().rstrip(".")
        if not named(name):
            report(fold(name), name, "street address")
    work = mask(work, place_spans)

    # 5. Quantities: sizes, counts, distances, money, nights, reviews.
    spans = []
    for unit, value, start, end, kind in _quantities(work):
        spans.append((start, end))
        if kind == "number":
            backed = _bound_backed(work, start, end, value, index.numbers)
        else:
            backed = ((unit, value) in index.quantities
                      or _measure_backed(work, start, end, unit, value, index.measures))
        if not backed:
            key = (f"${_fmt(value)}" if unit == "dollars" else f"floor {_fmt(value)}" if unit == "floor"
                   else f"{_fmt(value)} {unit}")
            report(key, text[start:end], kind if kind != "number" else "number")
    work = mask(work, spans)

    # 6. Features, property types, landmarks by kind, ratings.
    for m in _FEATURES.finditer(work):
        key = _FEATURE_KEYS[int(m.lastgroup[1:])]
        if key in index.features:
            continue
        category, start = FEATURES[key][0], m.start()
        if category == "landmark" and text[start].isupper():  # a named one: "Fort Tryon Park"
            before = _NAME_BEFORE.search(original, max(0, start - 60), start)
            if before and not original[before.start():start].split()[0].lower() in _NOT_PLACE_WORDS:
                start = before.start()
        report(f"{key}|{_stem(fold(' '.join(text[start:m.end()].split())))}", text[start:m.end()], category)
    return reasons
