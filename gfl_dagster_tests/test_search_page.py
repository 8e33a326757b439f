"""The search page end to end: real Postgres, a real sync, the real app, headless Chromium.

Needs the Debian packages chromium and chromium-driver; without them the browser
tests skip (and fail under CI, which must never skip them: .ci/run installs them).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from gfl_dagster.search.retrieval import SearchError, SearchQuery, validate_query
from gfl_dagster.listings.describe import describe_area
from gfl_dagster.listings.embed import embed_area
from gfl_dagster.listings.load import load_listings_csv
from gfl_dagster.web.app import create_app
from gfl_dagster_tests.conftest import BUNDLED_CSV, HEADER_18
from gfl_dagster.listings.source import LISTINGS

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_HINT = "apt-get update && apt-get install -y chromium chromium-driver; pip install -e '.[test]'"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run")
WAIT_S = 20
BOROUGH = "Brooklyn"


def synced_slice(engine, resources, rows: int = 150) -> list[str]:
    """The first rows of the bundled CSV, described and embedded; returns their areas."""
    report = load_listings_csv(engine, BUNDLED_CSV, limit=rows)
    store = resources["vector_store"].open(LISTINGS)
    try:
        for area in report.areas:
            describe_area(engine, resources["model_client"], area)
            embed_area(engine, resources["embedder"], store, area)
    finally:
        store.close()
    return report.areas


def app_for(resources):
    return create_app(database=resources["database"], embedder=resources["embedder"],
                      vector_store=resources["vector_store"], model_client=resources["model_client"])


@contextmanager
def serving(app):
    """The app on 127.0.0.1 on a free port, in a background thread; yields its base URL."""
    import uvicorn

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))  # bound before the server starts: no race for the port
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the search app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(WAIT_S)
        listener.close()


def missing_browser_parts() -> list[str]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    return missing


@pytest.fixture()
def browser(tmp_path):
    missing = missing_browser_parts()
    if missing:
        message = f"the browser test needs {', '.join(missing)}; install with: {INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1200,1600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver, base_url: str) -> None:
    """Load the page and wait until it has drawn what its URL asks (nothing, for a bare URL)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base_url)
    ready = WebDriverWait(driver, WAIT_S).until(
        lambda d: d.find_element("css selector", "body").get_attribute("data-ready"))
    assert ready == "true", driver.find_element("id", "error").text
    wait_drawn(driver)


def wait_drawn(driver):
    """Wait until the page has drawn the answer to its current URL (its newest request); returns data-state."""
    from selenium.webdriver.support.ui import WebDriverWait

    def drawn(d):
        state, shown, search = d.execute_script(
            "return [document.body.dataset.state, document.body.dataset.shown, location.search]")
        return state if state in ("done", "error") and shown == search else False

    return WebDriverWait(driver, WAIT_S).until(drawn)


def wait_for(driver, css: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S).until(
        lambda d: [e for e in d.find_elements("css selector", css) if e.is_displayed()] or False)


def test_search_with_a_borough_filter_then_recommend(engine, resources, browser, tmp_path):
    from selenium.webdriver.support.ui import Select

    from gfl_dagster.ads.write_ads import write_ads

    assert BOROUGH in synced_slice(engine, resources)
    write_ads(engine, resources["model_client"], BOROUGH)  # ads exist; nobody said whose to show
    with serving(app_for(resources)) as base_url:
        open_page(browser, base_url)
        browser.find_element("id", "query").send_keys("quiet private room with good reviews")
        Select(browser.find_element("id", "borough")).select_by_visible_text(BOROUGH)
        browser.find_element("id", "search-button").click()
        assert wait_drawn(browser) == "done", browser.find_element("id", "error").text
        hits = wait_for(browser, "#results .hit")

        areas = [hit.find_element("css selector", ".hit-area").text for hit in hits]
        assert all(area.split(" · ")[0] == BOROUGH for area in areas), areas
        descriptions = [hit.find_element("css selector", ".hit-description").text for hit in hits]
        assert all(BOROUGH in text for text in descriptions), descriptions  # generated, and about this listing
        assert not shown_ads(browser), "no audience said, named or remembered: no ads"
        assert browser.find_element("id", "audience-line").text.startswith("No ads:")
        assert not browser.find_element("id", "for-you").is_displayed(), "no user, no recommendations"
        shown_ids = {hit.get_attribute("data-id") for hit in hits}

        browser.find_element("id", "recommend-button").click()
        assert wait_drawn(browser) == "done", browser.find_element("id", "error").text
        wait_for(browser, "#recommendation")
        assert browser.find_element("id", "recommendation-text").text.strip()
        cited = {link.get_attribute("data-id") for link in browser.find_elements("css selector", ".cited-listing")}
        assert cited and cited <= shown_ids, (cited, shown_ids)
        browser.save_screenshot(str(tmp_path / "search-page.png"))

        # Facts a summary file lacks: understood and shown as chips, said, and filtering nothing away.
        assert len(browser.find_elements("css selector", "#amenities option")) >= 30
        query = browser.find_element("id", "query")
        query.clear()
        query.send_keys("quiet room with a washer rated 4.8+")
        browser.find_element("id", "search-button").click()
        assert wait_drawn(browser) == "done", browser.find_element("id", "error").text
        assert wait_for(browser, "#results .hit")
        chips = {chip.text.split("\n")[0].rstrip("×").strip(): chip.get_attribute("data-field")
                 for chip in browser.find_elements("css selector", "#chips .chip")}
        assert chips["washer"] == chips["rated 4.8+"] == "note", chips
        said = browser.find_element("id", "searching-for").text
        assert "ratings are not in this data: not filtered" in said and "amenities are not in this data" in said
        assert browser.find_element("id", "min-rating").get_attribute("value") == ""


def history_for(engine, resources, user_id: str, area: str) -> list[int]:
    """A user who saved and viewed listings of `area`, with a stored "recommended for you"; returns its ids."""
    from gfl_dagster.feedback.events import Event
    from gfl_dagster.feedback.record import record_events
    from gfl_dagster.recommendations.refresh import refresh_bucket

    with engine.connect() as connection:
        liked = [row.id for row in connection.execute(
            text("SELECT id FROM listings WHERE area = :area ORDER BY id LIMIT 3"), {"area": area})]
        bucket = connection.execute(text("SELECT gfl_user_bucket(:u)"), {"u": user_id}).scalar_one()
    record_events(engine, [Event(kind, user_id, listing_id) for listing_id in liked for kind in ("view", "save")])
    with resources["vector_store"].session(LISTINGS) as store:
        assert refresh_bucket(engine, store, resources["model_client"], bucket).refreshed == 1
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT listing_ids FROM user_recommendations WHERE user_id = :u"),
                                       {"u": user_id}).scalar_one())


def save_whole_page(driver, path) -> None:
    """A screenshot of the whole page (the window grown to its height for the shot), as a person scrolls it."""
    width, height = driver.get_window_size()["width"], driver.get_window_size()["height"]
    driver.set_window_size(width, max(height, driver.execute_script("return document.body.scrollHeight") + 140))
    driver.save_screenshot(str(path))
    driver.set_window_size(width, height)


def shown_ads(driver) -> list[tuple[str, str]]:
    """(listing id, ad audience) of every ad on the page; asserts none has two."""
    pairs = []
    for hit in driver.find_elements("css selector", "#results .hit"):
        ads = hit.find_elements("css selector", ".ad")
        assert len(ads) <= 1, f"listing {hit.get_attribute('data-id')} shows {len(ads)} ads"
        pairs += [(hit.get_attribute("data-id"), ad.get_attribute("data-audience")) for ad in ads]
    return pairs


def test_a_user_with_an_audience_sees_one_ad_per_listing_and_their_recommendations_once(engine, resources, browser,
                                                                                          tmp_path):
    """A person who says who they travel as: one ad per listing, theirs; "recommended for you" once, apart from
    the results and saying where it comes from; the sentence's chips; all of it in the URL (reload, back)."""
    from selenium.webdriver.support.ui import Select

    from gfl_dagster.ads.write_ads import write_ads

    synced_slice(engine, resources)
    write_ads(engine, resources["model_client"], BOROUGH)
    recommended = history_for(engine, resources, "ana", "Manhattan")
    with serving(app_for(resources)) as base_url:
        open_page(browser, base_url)
        browser.find_element("id", "query").send_keys(f"a room in {BOROUGH} under $150")
        Select(browser.find_element("id", "audience")).select_by_visible_text("Young couple")
        browser.find_element("id", "user").send_keys("ana")
        browser.find_element("id", "search-button").click()
        assert wait_drawn(browser) == "done", browser.find_element("id", "error").text

        hits = browser.find_elements("css selector", "#results .hit")
        ads = shown_ads(browser)
        seen = len(ads)  # every ad drawn for ana, search after search: what her impressions must count
        assert hits and ads and {audience for _, audience in ads} == {"young_couple"}, ads
        assert all(ad.text.startswith("SPONSORED") for ad in browser.find_elements("css selector", ".ad")), \
            "an ad says it is one"
        with engine.connect() as connection:  # each ad's details say the fact it leads with (its angle)
            angle_of = dict(connection.execute(text("SELECT id, angle FROM listing_ads")).all())
        for ad in browser.find_elements("css selector", ".ad"):
            angle = angle_of[int(ad.find_element("css selector", ".ad-link").get_attribute("data-ad-id"))]
            assert ad.find_element("css selector", ".ad-angle").text == f"leads with: {angle}", ad.text
        assert browser.find_element("id", "audience-line").text == "Ads for: Young couple (you chose it)"
        chips = {chip.get_attribute("data-field") for chip in browser.find_elements("css selector", "#chips .chip")}
        assert {"borough", "max_price"} <= chips, chips
        assert all(hit.find_element("css selector", ".hit-area").text.startswith(BOROUGH) for hit in hits)

        boxes = [box for box in browser.find_elements("css selector", ".for-you") if box.is_displayed()]
        assert len(boxes) == 1, "the recommendation box once"
        box = boxes[0]
        assert "not from this search" in box.find_element("id", "for-you-basis").text
        said = box.text
        for listing_id in recommended:  # each recommended listing named once: in the blurb or in the list
            assert said.count(f"#{listing_id}") + said.count(f"[{listing_id}]") == 1, (listing_id, said)
        results_bottom = max(hit.rect["y"] + hit.rect["height"] for hit in hits)
        assert box.rect["y"] > results_bottom, "apart from the results, after them"
        save_whole_page(browser, tmp_path / "search-page-audience.png")

        # The URL holds the whole state: a reload draws the same page.
        url = browser.current_url
        assert "audience=young_couple" in url and "user=ana" in url
        before = [hit.get_attribute("data-id") for hit in hits]
        browser.refresh()
        wait_drawn(browser)
        seen += len(shown_ads(browser))
        assert Select(browser.find_element("id", "audience")).first_selected_option.text == "Young couple"
        assert browser.find_element("id", "user").get_attribute("value") == "ana"
        assert [h.get_attribute("data-id") for h in browser.find_elements("css selector", "#results .hit")] == before

        # Removing a chip searches again without it; the back button brings the chip and its results back.
        chip = next(c for c in browser.find_elements("css selector", "#chips .chip")
                    if c.get_attribute("data-field") == "max_price")
        chip.find_element("css selector", "button").click()
        assert wait_drawn(browser) == "done"
        seen += len(shown_ads(browser))
        assert "max_price" not in {c.get_attribute("data-field") for c in browser.find_elements("css selector", "#chips .chip")}
        browser.back()
        assert wait_drawn(browser) == "done"
        seen += len(shown_ads(browser))
        assert browser.current_url == url
        assert "max_price" in {c.get_attribute("data-field") for c in browser.find_elements("css selector", "#chips .chip")}

        # Nothing declared: the sentence names the audience ("for my family"), and only its ads show.
        Select(browser.find_element("id", "audience")).select_by_visible_text("Not said")
        query = browser.find_element("id", "query")
        query.clear()
        query.send_keys(f"an entire home in {BOROUGH} for my family")
        browser.find_element("id", "search-button").click()
        assert wait_drawn(browser) == "done", browser.find_element("id", "error").text
        assert browser.find_element("id", "audience-line").text.startswith("Ads for: Family with kids (your words")
        family = shown_ads(browser)
        assert {audience for _, audience in family} <= {"family_with_kids"}
        seen += len(family)
        save_whole_page(browser, tmp_path / "search-page-family.png")

        # A real click on an ad and a view of a listing count: they carry the impression ids this page's
        # session (its HttpOnly cookie, which no script on the page can read) was served.
        assert "gfl_session" not in browser.execute_script("return document.cookie")
        card = next(hit for hit in browser.find_elements("css selector", "#results .hit")
                    if hit.find_elements("css selector", ".ad-link"))
        clicked = (int(card.get_attribute("data-id")),
                   int(card.find_element("css selector", ".ad-link").get_attribute("data-ad-id")))
        card.find_element("css selector", ".hit-name").click()
        card.find_element("css selector", ".ad-link").click()  # last: its link may redraw the page
        stored = wait_for_rows(engine, "SELECT kind, listing_id, ad_id, trusted, id FROM feedback_events "
                                       "WHERE user_id = 'ana' AND kind IN ('click', 'view') "
                                       "AND impression_id IS NOT NULL", 2)  # not her history's, written before
        assert sorted(row[:4] for row in stored) == [("click", *clicked, True), ("view", clicked[0], None, True)], \
            stored
        first_action = min(row[4] for row in stored)
        wait_drawn(browser)

    with engine.connect() as connection:
        recorded = connection.execute(text(
            "SELECT count(*) FROM feedback_events WHERE user_id = 'ana' AND kind = 'impression' AND ad_id IS NOT NULL "
            "AND id < :before"), {"before": first_action}).scalar_one()
        propensities = connection.execute(text(
            "SELECT propensity FROM feedback_events WHERE user_id = 'ana' AND kind = 'impression' "
            "AND ad_id IS NOT NULL")).scalars().all()
    assert recorded == seen, "an impression of every ad drawn, and of nothing else"
    # Each with the probability the bandit chose it with.
    assert propensities and all(p is not None and 0 < p <= 1 for p in propensities), propensities


def wait_for_rows(engine, query: str, count: int, timeout_s: float = 10.0) -> list[tuple]:
    """The rows of `query` once there are `count` of them (the page posts its events without waiting)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with engine.connect() as connection:
            rows = [tuple(row) for row in connection.execute(text(query))]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_a_refused_query_shows_the_search_error(engine, resources, browser):
    # No data needed: contradictory bounds are refused before any search runs.
    expected = refusal(SearchQuery(min_price=300, max_price=100), known_areas=[])
    with serving(app_for(resources)) as base_url:
        open_page(browser, base_url)
        browser.find_element("id", "min-price").send_keys("300")
        browser.find_element("id", "max-price").send_keys("100")
        browser.find_element("id", "search-button").click()
        error = wait_for(browser, "#error")[0]
        assert error.text == expected
        assert not browser.find_elements("css selector", "#results .hit")


def refusal(query: SearchQuery, known_areas: list[str]) -> str:
    with pytest.raises(SearchError) as refused:
        validate_query(query, known_areas)
    return str(refused.value)


def test_api_answers_hits_and_refuses_bad_input_with_400(engine, resources):
    synced_slice(engine, resources, rows=40)
    with TestClient(app_for(resources)) as client:
        options = client.get("/api/options").json()
        assert options["areas"] and set(options["modes"]) == {"semantic", "hybrid", "keyword"}
        area = options["areas"][0]["name"]
        hits = client.get("/api/search", params={"text": "apartment", "borough": area, "limit": "3"}).json()["hits"]
        assert 0 < len(hits) <= 3 and {hit["neighbourhood_group"] for hit in hits} == {area}

        for params in ({"text": "x", "min_price": "cheap"}, {"text": "x", "min_price": "nan"},
                       {"text": "x", "colour": "red"}, {"text": "x", "min_price": "300", "max_price": "100"}):
            response = client.get("/api/search", params=params)
            assert response.status_code == 400 and response.json()["error"], params
        assert "min_price" in client.get("/api/search", params={"min_price": "cheap"}).json()["error"]
        for params, said in (({"amenities": ["washer", "washr"]}, "unknown amenity 'washr'"),
                             ({"min_rating": "6"}, "min rating must be at most 5"),
                             ({"superhost": "maybe"}, "superhost must be true or false"),
                             ({"superhost": ["true", "false"]}, "given more than once: 'superhost'")):
            response = client.get("/api/search", params=params)
            assert response.status_code == 400 and said in response.json()["error"], (params, response.json())
        assert len(options["amenities"]) >= 30 and options["property_types"] == []  # a summary file has none
        assert client.get("/").status_code == 200 and client.get("/static/app.js").status_code == 200


HOSTILE_NAMES = ('<img src=x onerror=alert(1)>', '"><script>window.pwned = 1</script>',
                 '<svg onload=alert(2)>Loft</svg>')


def test_strangers_text_shows_as_text_and_no_script_runs(engine, resources, browser, tmp_path):
    """Listing names are strangers' text: the page renders them as text, runs nothing, and its CSP forbids
    inline script besides."""
    from selenium.common.exceptions import NoAlertPresentException

    lines = [f'{9000001 + n},"{name.replace(chr(34), chr(34) * 2)}",1,Host,Brooklyn,Bushwick,40.7,-73.9,'
             f'Private room,55,2,3,,,1,100,0,' for n, name in enumerate(HOSTILE_NAMES)]
    csv_path = tmp_path / "hostile.csv"
    csv_path.write_text(HEADER_18 + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    load_listings_csv(engine, csv_path)
    with resources["vector_store"].session(LISTINGS) as store:
        describe_area(engine, resources["model_client"], "Brooklyn")
        embed_area(engine, resources["embedder"], store, "Brooklyn")
    with serving(app_for(resources)) as base_url:
        open_page(browser, f"{base_url}/?text=private+room+in+Bushwick&limit=10")
        hits = wait_for(browser, "#results .hit")
        names = [hit.find_element("css selector", ".hit-name").text for hit in hits]
        assert set(HOSTILE_NAMES) <= set(names), names
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text
        assert browser.execute_script("return window.pwned === undefined")
        assert not browser.find_elements("css selector", "#results img, #results svg, #results script")
        with TestClient(app_for(resources)) as client:
            policy = client.get("/").headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
