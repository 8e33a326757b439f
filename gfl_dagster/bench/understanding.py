"""`gfl bench understanding`: the query parser on the labelled sets (dev and test apart), the metamorphic
suite and the parse latency. No database, no model (unless `--parser model`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from gfl_dagster.bench.common import machine
from gfl_dagster.cli.common import print_json

SPLITS = ("dev", "old_dev", "test")
TITLES = {"dev": "dev (understanding_dev.jsonl)", "old_dev": "old dev (understanding_queries.py)",
          "test": "TEST (understanding_test.jsonl, frozen, held out)"}


@click.command("understanding")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--details", is_flag=True,
              help="Also list the failing dev sentences and metamorphic members (never the test split's).")
@click.option("--split", "splits", multiple=True, type=click.Choice([*SPLITS, "metamorphic"]),
              help="Score only these (repeatable; default: all).")
def bench_understanding(as_json: bool, details: bool, splits: tuple[str, ...]) -> None:
    """Query understanding scored per field: exact parse and each field's accuracy on the dev sets and the
    frozen test set (aggregate figures only), the metamorphic suite (equivalent phrasings, bound
    directions), and parse latency p50/p95. Needs GFL_SHARED_DATA for Barcelona, Singapore and Boston."""
    from gfl_dagster import settings
    from gfl_dagster.search.eval.understanding_eval import evaluate_all

    shared: Optional[Path] = settings.shared_data_dir()
    report = evaluate_all(shared, details=details, splits=splits or (*SPLITS, "metamorphic"))
    report["machine"] = machine()
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
    if "metamorphic" in report:
        eq, direction = report["metamorphic"]["equivalence"], report["metamorphic"]["direction"]
        click.echo(f"metamorphic: {eq['families_passed']}/{eq['families']} equivalence families whole, "
                   f"{eq['members_passed']}/{eq['members']} phrasings; direction errors "
                   f"{direction['errors']}/{direction['members']}")
    latency = report["latency_ms"]
    click.echo(f"parse latency: p50 {latency['p50']:.3f} ms, p95 {latency['p95']:.3f} ms, max {latency['max']:.3f} ms "
               f"wall clock; CPU time p50 {latency['cpu_p50']:.3f} ms, p95 {latency['cpu_p95']:.3f} ms "
               f"({latency['parses']} parses) on {report['machine']}")
    if details:
        print_json({split: report[split].get("failures", []) for split in (*SPLITS, "metamorphic")
                    if split in report and split != "test"})
