// The search page: fills the form from /api/options, calls /api/search and /api/recommend.
// Listing text is untrusted: it is only ever set as textContent, never as HTML.
// The whole state (text, filters, mode, audience, user id) lives in the URL: a search can be bookmarked,
// shared and reloaded, and the back button returns to the previous one.
// Only the newest request draws: an older answer arriving late (a slow search overtaken by the next
// one, the back button pressed mid-search) is dropped. The body's data-state says "busy" while the
// newest one runs and "done" or "error" once it has drawn, with data-shown = the URL it drew.
"use strict";

const form = document.getElementById("search-form");
const resultsList = document.getElementById("results");
const errorBox = document.getElementById("error");
const statusLine = document.getElementById("status");
const recommendationBox = document.getElementById("recommendation");

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function addOptions(select, values, labelOf) {
  for (const value of values) {
    const option = element("option", null, labelOf ? labelOf(value) : value);
    option.value = value;
    select.appendChild(option);
  }
}

// Only filled fields travel: the server treats a missing parameter as "no filter". Fields the page
// filled from what the sentence said do not travel as flags: the sentence says them again, and if it
// no longer does (the text changed), they must not stick.
function queryString() {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    const field = form.elements[name];
    if (field && field.dataset && field.dataset.understood) continue;
    if (String(value).trim() !== "") params.append(name, value);
  }
  return params.toString();
}

function fillForm(params) {
  for (const field of form.elements) {
    if (!field.name) continue;
    delete field.dataset.understood;
    if (field.type === "checkbox") field.checked = params.get(field.name) === field.value;
    else if (field.multiple) for (const option of field.options) option.selected = params.getAll(field.name).includes(option.value);
    else if (params.has(field.name)) field.value = params.get(field.name);
    else field.value = field.name === "mode" ? (form.dataset.defaultMode || "") : "";
  }
}

// The filters the sentence set, shown in the form too (marked, so they do not travel as flags).
const FORM_FIELDS = {borough: "borough", room_type: "room-type", min_price: "min-price", max_price: "max-price",
                     min_reviews: "min-reviews", min_rating: "min-rating", min_guests: "min-guests",
                     min_bedrooms: "min-bedrooms"};

function showUnderstood(understood, message) {
  const box = document.getElementById("understood");
  const chips = document.getElementById("chips");
  chips.replaceChildren();
  const spans = (understood && understood.spans) || [];
  for (const span of spans) {
    const chip = element("span", "chip", span.text);
    chip.dataset.field = span.field;
    if (span.field === "note") chip.title = String(span.value);  // understood, not filtered: "not in this data"
    const remove = element("button", "chip-remove", "\u00d7");
    remove.type = "button";
    remove.title = `Remove \u201c${span.text}\u201d from the search`;
    remove.addEventListener("click", () => removeConstraint(span));
    chip.appendChild(remove);
    chips.appendChild(chip);
  }
  const filters = (understood && understood.filters) || {};
  const fromSentence = (understood && understood.from_sentence) || {};
  for (const [name, id] of Object.entries(FORM_FIELDS)) {
    const field = document.getElementById(id);
    if (name in fromSentence && field.value === "") {
      field.value = filters[name];
      field.dataset.understood = "true";
    }
  }
  const searching = document.getElementById("searching-for");
  searching.textContent = spans.length ? `searching for: ${understood.text ? `\u201c${understood.text}\u201d` : "the filters alone"}` : "";
  // What was asked but not filtered (a fact this data lacks): said, so a chip is not taken for a filter.
  const unfiltered = ((understood && understood.notes) || []).filter((note) => note.includes("not filtered"));
  for (const note of unfiltered) searching.textContent += (searching.textContent ? " \u2014 " : "") + note;
  if (message) searching.textContent += (searching.textContent ? " \u2014 " : "") + message;
  box.hidden = !spans.length && !message;
}

// Removing a chip removes its words from the sentence (and its value from the form), then searches again.
function removeConstraint(span) {
  const query = document.getElementById("query");
  const text = query.value;
  if (text.slice(span.start, span.end) === span.text) {
    query.value = (text.slice(0, span.start) + " " + text.slice(span.end)).replace(/\s+/g, " ").trim();
  }
  const id = FORM_FIELDS[span.field];
  if (id) {
    const field = document.getElementById(id);
    field.value = "";
    delete field.dataset.understood;
  }
  submit("search");
}

async function fetchJson(path) {
  const response = await fetch(path);
  let body;
  try {
    body = await response.json();
  } catch (parseError) {
    throw new Error(`the server answered ${response.status} without JSON`);
  }
  if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
  return body;
}

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

function money(value) {
  if (value === null || value === undefined) return "price not given";
  return `$${Number(value).toLocaleString("en-US", {maximumFractionDigits: 2})} / night`;
}

function plural(count, word) {
  const n = count || 0;
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

// The detailed file's facts, as it names them; a listing loaded from a summary file has none.
function detailedFacts(hit) {
  const counted = (value, word) => (typeof value === "number" ? plural(value, word) : null);
  return [
    hit.property_type,
    counted(hit.accommodates, "guest"),
    counted(hit.bedrooms, "bedroom"),
    counted(hit.beds, "bed"),
    hit.bathrooms_text,
    typeof hit.review_scores_rating === "number" ? `\u2605 ${hit.review_scores_rating.toFixed(2)}` : null,
    hit.host_is_superhost ? "Superhost" : null,
    hit.instant_bookable ? "Instant book" : null,
  ].filter(Boolean);
}

// The host's own amenity strings, as written (text, never markup), the first few and how many more.
function amenitiesLine(amenities, shown = 8) {
  const more = amenities.length > shown ? ` and ${amenities.length - shown} more` : "";
  return `Amenities (the host's words): ${amenities.slice(0, shown).join(" · ")}${more}`;
}

function hitCard(hit) {
  const card = element("li", "hit");
  card.id = `listing-${hit.id}`;
  card.dataset.id = hit.id;
  const heading = element("div", "hit-heading");
  heading.appendChild(element("h3", "hit-name", hit.name || "(no name)"));
  heading.appendChild(element("span", "hit-price", money(hit.price)));
  card.appendChild(heading);
  const where = [hit.neighbourhood_group, hit.neighbourhood].filter(Boolean).join(" · ");
  card.appendChild(element("p", "hit-area", where));
  const facts = element("p", "hit-facts");
  facts.appendChild(element("span", "hit-room-type", hit.room_type));
  facts.appendChild(element("span", "hit-reviews", plural(hit.number_of_reviews, "review")));
  if (hit.minimum_nights) facts.appendChild(element("span", "hit-nights", `min. ${plural(hit.minimum_nights, "night")}`));
  if (typeof hit.score === "number") facts.appendChild(element("span", "hit-score", `score ${hit.score.toFixed(3)}`));
  for (const fact of detailedFacts(hit)) facts.appendChild(element("span", "hit-detail", fact));
  facts.appendChild(element("span", "hit-id", `#${hit.id}`));
  card.appendChild(facts);
  card.appendChild(element("p", "hit-description", hit.description || "No description yet."));
  if (Array.isArray(hit.amenities) && hit.amenities.length) {
    card.appendChild(element("p", "hit-amenities", amenitiesLine(hit.amenities)));
  }
  // What guests say: checked, extractive text over strangers' reviews, set as text (never as HTML).
  if (hit.guest_summary) {
    const guests = element("p", "hit-guests");
    guests.appendChild(element("span", "hit-guests-label", "What guests say: "));
    guests.appendChild(document.createTextNode(hit.guest_summary));
    card.appendChild(guests);
  }
  // At most one ad, written for the viewer's audience; its impression is posted once drawn.
  if (hit.ad) {
    const line = element("p", "ad");
    line.dataset.audience = hit.ad.audience;
    line.appendChild(element("span", "ad-label", "Sponsored"));
    const link = element("a", "ad-link", hit.ad.text);
    link.href = `#listing-${hit.id}`;
    link.dataset.adId = hit.ad.id;
    link.addEventListener("click", () => recordEvent({kind: "click", listing_id: hit.id, ad_id: hit.ad.id,
                                                      impression_id: hit.ad.impression_id}));
    line.appendChild(link);
    if (hit.ad.angle) {  // the fact the ad leads with: what the bandit learns each audience responds to
      const angle = element("span", "ad-angle", `leads with: ${hit.ad.angle}`);
      angle.title = "The fact this ad leads with; ads learn which one each audience responds to";
      line.appendChild(angle);
    }
    card.appendChild(line);
  }
  // Opening a card (its name) is a view. Every event names the impression the server served (its id, signed
  // for this page's session cookie): the server counts nothing it did not show.
  card.querySelector(".hit-name").addEventListener("click", () => recordEvent({kind: "view", listing_id: hit.id,
                                                                               impression_id: hit.impression_id}));
  return card;
}

function showHits(hits, message, ranking) {
  resultsList.replaceChildren(...hits.map(hitCard));
  statusLine.textContent = hits.length ? [plural(hits.length, "listing"), ranking].filter(Boolean).join(" \u00b7 ")
    : (message || "No listings match. Loosen a filter?");
}

// Whose ads the listings show, and why; or why there are none.
function showAudience(audience, hits) {
  const line = document.getElementById("audience-line");
  if (audience) {
    line.textContent = `Ads for: ${audience.name} (${audience.reason})`;
  } else {
    line.textContent = "No ads: choose \u201cTravelling as\u201d, or say who you are travelling with (\u201cfor my family\u201d).";
  }
  line.dataset.audience = audience ? audience.slug : "";
  line.hidden = !hits.length;
}

function showRecommendation(recommendation) {
  document.getElementById("recommendation-text").textContent = recommendation.text;
  document.getElementById("recommendation-model").textContent = recommendation.model ? `(${recommendation.model})` : "";
  const names = new Map(recommendation.hits.map((hit) => [String(hit.id), hit.name]));
  const cited = document.getElementById("cited");
  cited.replaceChildren();
  for (const card of resultsList.querySelectorAll(".hit.cited")) card.classList.remove("cited");
  for (const id of recommendation.cited_ids) {
    const link = element("a", "cited-listing", `${names.get(String(id)) || "listing"} (#${id})`);
    link.href = `#listing-${id}`;
    link.dataset.id = id;
    cited.appendChild(link);
    const card = document.getElementById(`listing-${id}`);
    if (card) card.classList.add("cited");
  }
  if (!recommendation.cited_ids.length) cited.textContent = "none";
  recommendationBox.hidden = false;
}

// The user of the search on screen (the URL's), not whatever the field holds since.
function currentUser() {
  return (new URLSearchParams(location.search).get("user") || "").trim();
}

// What people do is fed back (POST /api/events), only for a user id the person typed. A failed post
// (the server's budget reached, the network gone) loses that feedback, never the page.
// Posted 50 at a time: a hundred hits with their ads and a long query stay under the 64 KiB a post may carry.
const EVENTS_PER_POST = 50;

function recordEvents(events) {
  const user = currentUser();
  const posts = [];
  for (let start = 0; user && start < events.length; start += EVENTS_PER_POST) {
    const batch = events.slice(start, start + EVENTS_PER_POST).map((event) => ({...event, user_id: user}));
    posts.push(fetch("/api/events", {method: "POST", headers: {"Content-Type": "application/json"},
                                     body: JSON.stringify(batch)}).catch(() => {}));
  }
  return Promise.all(posts);
}

function recordEvent(event) {
  recordEvents([event]);
}

// An impression of every listing drawn and of the ad drawn beside it: posted once they are on screen,
// so an answer that was dropped or never drawn counts nothing.
function recordImpressions(hits, params) {
  const query = (new URLSearchParams(params).get("text") || "").trim().slice(0, 500) || "(filters only)";
  return recordEvents(hits.flatMap((hit) => [{kind: "impression", listing_id: hit.id, query, impression_id: hit.impression_id},
    // An ad's impression carries its propensity, the probability it was chosen with: what lets the logs
    // judge another policy off-line.
    ...(hit.ad ? [{kind: "impression", listing_id: hit.id, ad_id: hit.ad.id, query, impression_id: hit.ad.impression_id,
                   propensity: hit.ad.propensity}] : [])]));
}

// "Recommended for you" comes from the user's history, not from this search: it sits apart, below
// the results, says so, and names each listing once (the blurb's, then those it does not cite).
async function fetchForYou(user) {
  return user ? fetchJson(`/api/for-you?user=${encodeURIComponent(user)}`).catch(() => null) : null;
}

function showForYou(found) {
  const box = document.getElementById("for-you");
  box.hidden = !found;
  if (!found) return;
  document.getElementById("for-you-basis").textContent = `${found.basis[0].toUpperCase()}${found.basis.slice(1)}.`;
  document.getElementById("for-you-text").textContent = found.blurb;
  const cited = new Set([...found.blurb.matchAll(/\[(\d+)\]/g)].map((match) => match[1]));
  const list = document.getElementById("for-you-list");
  list.replaceChildren(...found.listings.filter((listing) => !cited.has(String(listing.id))).map((listing) => {
    const item = element("li", "for-you-listing", [listing.name || "(no name)", listing.neighbourhood_group,
      money(listing.price), `#${listing.id}`].filter(Boolean).join(" \u00b7 "));
    item.dataset.id = listing.id;
    return item;
  }));
  box.dataset.coldStart = String(found.cold_start);
}

let newest = 0;
let emptyPageStatus = "";

// A ticket for one request; `draws(ticket)` is false once a newer one has started.
function begin() {
  newest += 1;
  document.body.dataset.state = "busy";
  return newest;
}

function draws(ticket) {
  return ticket === newest;
}

function finish(ticket, state) {
  if (!draws(ticket)) return;
  document.body.dataset.shown = location.search;
  document.body.dataset.state = state;
}

async function runSearch(params) {
  const ticket = begin();
  showError("");
  recommendationBox.hidden = true;
  statusLine.textContent = "Searching…";
  try {
    const [found, forYou] = await Promise.all([fetchJson(`/api/search?${params}`), fetchForYou(currentUser())]);
    if (!draws(ticket)) return;
    showUnderstood(found.understood, found.message);
    showHits(found.hits, found.message, found.ranking);
    showAudience(found.audience, found.hits);
    showForYou(forYou);
    await recordImpressions(found.hits, params);
    finish(ticket, "done");
  } catch (error) {
    if (!draws(ticket)) return;
    resultsList.replaceChildren();
    statusLine.textContent = "";
    showError(error.message);
    finish(ticket, "error");
  }
}

// The recommendation is written from the same query's hits, so they are shown alongside it (without ads:
// the recommendation is the page's own pick).
async function runRecommend(params) {
  const ticket = begin();
  showError("");
  statusLine.textContent = "Writing a recommendation…";
  try {
    const recommendation = await fetchJson(`/api/recommend?${params}`);
    if (!draws(ticket)) return;
    showUnderstood(recommendation.understood, recommendation.message);
    showHits(recommendation.hits, recommendation.message);
    showAudience(null, []);
    showRecommendation(recommendation);
    finish(ticket, "done");
  } catch (error) {
    if (!draws(ticket)) return;
    recommendationBox.hidden = true;
    statusLine.textContent = "";
    showError(error.message);
    finish(ticket, "error");
  }
}

async function loadOptions() {
  const options = await fetchJson("/api/options");
  addOptions(document.getElementById("borough"), options.areas.map((area) => area.name));
  addOptions(document.getElementById("room-type"), options.room_types);
  addOptions(document.getElementById("property-type"), options.property_types || []);
  for (const amenity of options.amenities || []) {
    const option = element("option", null, amenity.label);
    option.value = amenity.slug;
    document.getElementById("amenities").appendChild(option);
  }
  for (const audience of options.audiences) {
    const option = element("option", null, audience.name);
    option.value = audience.slug;
    document.getElementById("audience").appendChild(option);
  }
  const mode = document.getElementById("mode");
  addOptions(mode, options.modes, (value) => value[0].toUpperCase() + value.slice(1));
  mode.value = options.defaults.mode;
  form.dataset.defaultMode = options.defaults.mode;
  if (!options.areas.length) emptyPageStatus = "No listings yet: run `gfl up` or `gfl sync` first.";
  document.body.dataset.ready = "true";
}

// A search is a new URL (a history entry); the page runs whatever the URL says.
function submit(action) {
  const params = new URLSearchParams(queryString());
  if (action === "recommend") params.set("action", "recommend");
  history.pushState(null, "", `?${params}`);
  runFromUrl();
}

function runFromUrl() {
  const params = new URLSearchParams(location.search);
  fillForm(params);
  const action = params.get("action");
  params.delete("action");
  if (![...params.keys()].length) {  // nothing asked (or back to the first page): an empty page
    const ticket = begin();
    resultsList.replaceChildren();
    for (const id of ["understood", "audience-line", "recommendation", "for-you"]) document.getElementById(id).hidden = true;
    statusLine.textContent = emptyPageStatus;
    finish(ticket, "done");
    return;
  }
  if (action === "recommend") runRecommend(params.toString());
  else runSearch(params.toString());
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  submit("search");
});
document.getElementById("recommend-button").addEventListener("click", () => submit("recommend"));
for (const field of form.elements) field.addEventListener("change", () => delete field.dataset.understood);
window.addEventListener("popstate", runFromUrl);
loadOptions().then(runFromUrl).catch((error) => {
  showError(`Could not load the form's options: ${error.message}`);
  document.body.dataset.ready = "failed";
});
