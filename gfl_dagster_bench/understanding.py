"""`gfl bench understanding`: the query parser on the labelled sets (dev and test apart), the metamorphic
suite and the parse latency. No database, no model (unless `--parser model`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from gfl_dagster.cli.common import print_json
from gfl_dagster_bench.common import machine

SPLITS = ("dev", "old_dev", "test")
TITLES = {"dev": "dev (understanding_dev.jsonl)", "old_dev": "old dev (understanding_queries.py)",
          "test": "TEST (understanding_test.jsonl, frozen, held out)"}


@click.command("understanding")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--details", is_flag=True,
              help="Also list the failing dev sentences and metamorphic members (never the test split's).")
@click.option("--split", "splits", multiple=True, type=click.Choice([*SPLITS, "metamorphic"]),
              help="Score only these (repeatable; default: all).")
@click.option("--parser", type=click.Choice(["rules", "model"]), default="rules", show_default=True,
              help="rules: search/understanding.py. model: the configured chat model (GFL_CHAT_MODEL, "
                   "OPENAI_BASE_URL), each answer checked, the rules standing in for an answer refused.")
@click.option("--end-to-end", "end_to_end", is_flag=True,
              help="Instead: load each city's file into a throwaway project and check every hit of the test "
                   "sentences' searches in SQL against the labels (aggregate figures only).")
def bench_understanding(as_json: bool, details: bool, splits: tuple[str, ...], parser: str, end_to_end: bool) -> None:
    """Query understanding scored per field: exact parse and each field's accuracy on the dev sets and the
    frozen test set (aggregate figures only), the metamorphic suite (equivalent phrasings, bound
    directions), and parse latency p50/p95. Needs GFL_SHARED_DATA for Barcelona, Singapore and Boston."""
    from gfl_dagster import settings
    from gfl_dagster_bench.eval.search.understanding_eval import evaluate_all
    from gfl_dagster.search.understanding import understand

    shared: Optional[Path] = settings.shared_data_dir()
    if end_to_end:
        figures = {"end_to_end": _end_to_end(shared), "machine": machine()}
        if as_json:
            print_json(figures)
            return
        for city, report in figures["end_to_end"].items():
            if "error" in report:
                click.echo(f"{city}: not run ({report['error']})")
                continue
            click.echo(f"{city}: {report['sentences']} test sentences, {report['hits']} hits, "
                       f"{report['share_satisfying']:.3f} satisfy every labelled constraint the data holds "
                       f"(without understanding: {report['baseline_share_satisfying']:.3f}); "
                       f"{report['sentences_without_hits']} found nothing; the answer says a fact is not in the "
                       f"data for {report['of_which_the_answer_says_so']}/{report['sentences_asking_facts_the_data_lacks']} "
                       f"sentences asking for one")
        return
    used, timings = {"model": 0, "rules": 0}, []
    parse = understand if parser == "rules" else _model_parser(used, timings)
    report = evaluate_all(shared, parse=parse, details=details, splits=splits or (*SPLITS, "metamorphic"),
                          repeat=0 if parser == "model" else 5)
    report["machine"], report["parser"] = machine(), parser
    if parser == "model":  # one pass, timed as it was scored: a model's answer is seconds, not a fraction of a ms
        from gfl_dagster_bench.common import percentile

        report["answers_used"] = used
        report["latency_ms"] = {"p50": round(percentile(timings, 0.5), 1), "p95": round(percentile(timings, 0.95), 1),
                                "max": round(max(timings), 1), "cpu_p50": None, "cpu_p95": None,
                                "parses": len(timings)}
    if as_json:
        print_json(report)
        return
    for split in SPLITS:
        if split not in report:
            continue
        figures = report[split]
        click.echo(f"{TITLES[split]}: {figures['sentences']} sentences, exact parse {figures['exact']:.3f}")
        click.echo("  " + "  ".join(f"{name} {f['accuracy']:.3f} ({f['active']})"
                                    for name, f in figures["fields"].items()))
        click.echo("  by city: " + "  ".join(f"{c} {v:.3f}" for c, v in figures["cities"].items()))
        applied = figures["facts_applied"]
        click.echo(f"  rich facts applied as filters (data holding them): {applied['facts_applied']}/"
                   f"{applied['facts_asked']} = {applied['share_applied']:.3f}; sentences with every fact applied "
                   f"{applied['rows_with_every_fact_applied']:.3f} of {applied['rows_asking']}")
    if "metamorphic" in report:
        eq, direction = report["metamorphic"]["equivalence"], report["metamorphic"]["direction"]
        click.echo(f"metamorphic: {eq['families_passed']}/{eq['families']} equivalence families whole, "
                   f"{eq['members_passed']}/{eq['members']} phrasings; direction errors "
                   f"{direction['errors']}/{direction['members']}")
    latency = report["latency_ms"]
    cpu = (f"; CPU time p50 {latency['cpu_p50']:.3f} ms, p95 {latency['cpu_p95']:.3f} ms"
           if latency.get("cpu_p50") is not None else "")
    click.echo(f"parse latency: p50 {latency['p50']:.3f} ms, p95 {latency['p95']:.3f} ms, max {latency['max']:.3f} ms "
               f"wall clock{cpu} ({latency['parses']} parses, parser {parser}) on {report['machine']}")
    if parser == "model":
        click.echo(f"model answers used: {report['answers_used']['model']}, refused by the check (rules read "
                   f"the sentence): {report['answers_used']['rules']}")
    if details:
        print_json({split: report[split].get("failures", []) for split in (*SPLITS, "metamorphic")
                    if split in report and split != "test"})


def _end_to_end(shared: Optional[Path], labelled: Optional[Path] = None, details: bool = False) -> dict:
    """Per city: its file loaded into a throwaway project, the test sentences searched, the hits checked."""
    from gfl_dagster_bench.common import throwaway_project
    from gfl_dagster.cli.project import ProjectClients
    from gfl_dagster.listings.load import load_listings_csv
    from gfl_dagster_bench.eval.search.understanding_end_to_end import end_to_end
    from gfl_dagster_bench.eval.search.understanding_eval import BUNDLED_NYC, CITY_FILES, TEST_SET, load_set
    from gfl_dagster.search.interpret import load_search_context

    rows = load_set(labelled or TEST_SET)
    figures = {}
    for city, (name, _, _) in CITY_FILES.items():
        path = BUNDLED_NYC if name is None else (shared / name if shared else None)
        if path is None:
            figures[city] = {"error": "GFL_SHARED_DATA is not set"}
            continue
        with throwaway_project(prefix=f"gfl-bench-e2e-{city}-"):
            engine = ProjectClients().engine()
            try:
                loaded = load_listings_csv(engine, path)
            except Exception as error:  # noqa: BLE001 - a file this loader cannot read is reported, not fatal
                said = str(error).split(";")[0].replace(str(path), path.name)
                figures[city] = {"error": f"{said[:160]} (the detailed file's loader is issue 20's)"}
                continue
            if not loaded.inserted + loaded.updated + loaded.unchanged:
                figures[city] = {"error": f"{path.name}: no row loaded"}
                continue
            figures[city] = end_to_end([row for row in rows if row["city"] == city], engine,
                                       load_search_context(engine), details=details and labelled != TEST_SET)
    return figures


def _model_parser(used: dict, timings: list):
    """The configured chat model's parse (one answer a sentence; a refused one: the rules), counted and timed."""
    import time

    from gfl_dagster.cli.project import ProjectClients
    from gfl_dagster.search.understanding_model import model_understand

    configured = ProjectClients().model_client
    if configured is None or not configured.has_chat:
        raise click.UsageError("--parser model needs a chat model: set GFL_CHAT_MODEL and OPENAI_BASE_URL")
    client = configured.model_copy(update={"attempts": 1})

    def parse(text, places):
        started = time.perf_counter()
        read = model_understand(text, places, model=client)
        timings.append((time.perf_counter() - started) * 1000)
        used["model" if any("read by" in note for note in read.notes) else "rules"] += 1
        return read
    return parse
