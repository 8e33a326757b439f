// The search page: fills the form from /api/options, calls /api/search and /api/recommend.
// Listing text is untrusted: it is only ever set as textContent, never as HTML.
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

// Only filled fields travel: the server treats a missing parameter as "no filter".
function queryString() {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (String(value).trim() !== "") params.append(name, value);
  }
  return params.toString();
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
  facts.appendChild(element("span", "hit-id", `#${hit.id}`));
  card.appendChild(facts);
  card.appendChild(element("p", "hit-description", hit.description || "No description yet."));
  return card;
}

function showHits(hits) {
  resultsList.replaceChildren(...hits.map(hitCard));
  statusLine.textContent = hits.length ? plural(hits.length, "listing") : "No listings match. Loosen a filter?";
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

async function runSearch() {
  showError("");
  recommendationBox.hidden = true;
  statusLine.textContent = "Searching…";
  try {
    showHits((await fetchJson(`/api/search?${queryString()}`)).hits);
  } catch (error) {
    resultsList.replaceChildren();
    statusLine.textContent = "";
    showError(error.message);
  }
}

// The recommendation is written from the same query's hits, so they are shown alongside it.
async function runRecommend() {
  showError("");
  statusLine.textContent = "Writing a recommendation…";
  try {
    const recommendation = await fetchJson(`/api/recommend?${queryString()}`);
    showHits(recommendation.hits);
    showRecommendation(recommendation);
  } catch (error) {
    recommendationBox.hidden = true;
    statusLine.textContent = "";
    showError(error.message);
  }
}

async function loadOptions() {
  const options = await fetchJson("/api/options");
  addOptions(document.getElementById("borough"), options.areas.map((area) => area.name));
  addOptions(document.getElementById("room-type"), options.room_types);
  const mode = document.getElementById("mode");
  addOptions(mode, options.modes, (value) => value[0].toUpperCase() + value.slice(1));
  mode.value = options.defaults.mode;
  if (!options.areas.length) statusLine.textContent = "No listings yet: run `gfl up` or `gfl sync` first.";
  document.body.dataset.ready = "true";
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  runSearch();
});
document.getElementById("recommend-button").addEventListener("click", runRecommend);
loadOptions().catch((error) => showError(`Could not load the form's options: ${error.message}`));
