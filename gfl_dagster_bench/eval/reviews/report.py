"""A measured report over a reviews file (not a test): how fast it reads, how many listings get a guest summary,
which aspects guests mention and summaries state, and what the template and its check cost per listing.

    python -m gfl_dagster_bench.eval.reviews.report $GFL_SHARED_DATA/insideairbnb_singapore_2023-09_reviews.csv.gz
"""

from __future__ import annotations

import collections
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from gfl_dagster.reviews.guest_summary import evidence, template_summary
from gfl_dagster.reviews.review_rows import parse_reviews
from gfl_dagster.reviews.summary_check import check_summary


def _ms(seconds: list[float], share: float) -> float:
    ordered = sorted(seconds)
    return 1000 * ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summaries_report(path: Path | str) -> dict[str, Any]:
    started = time.perf_counter()
    parsed = parse_reviews(path)
    read_s = time.perf_counter() - started
    by_listing: dict[int, list[dict]] = collections.defaultdict(list)
    for row in parsed.rows:
        by_listing[row["listing_id"]].append(row)
    summarize_s, check_s, stated, mentioned = [], [], collections.Counter(), collections.Counter()
    written = failed = untrusted = 0
    for reviews in by_listing.values():
        started = time.perf_counter()
        found = evidence(reviews)
        summary = template_summary(found)
        summarize_s.append(time.perf_counter() - started)
        untrusted += len(found.untrusted_ids)
        for key, count in found.counts.items():
            mentioned[key] += len(count.review_ids)
        if summary.text is None:
            continue
        written += 1
        stated.update(summary.aspects)
        started = time.perf_counter()
        failed += bool(check_summary(summary.text, reviews, found))
        check_s.append(time.perf_counter() - started)
    return {
        "reviews": len(parsed.rows), "rejects": len(parsed.rejects), "read_s": read_s,
        "rows_per_s": len(parsed.rows) / read_s, "listings": len(by_listing), "summaries": written,
        "failed_checks": failed, "untrusted_reviews": untrusted,
        "stated": dict(stated.most_common()), "mentioned": dict(mentioned.most_common()),
        "summarize_ms_mean": 1000 * statistics.mean(summarize_s), "summarize_ms_p50": _ms(summarize_s, 0.5),
        "summarize_ms_p95": _ms(summarize_s, 0.95), "check_ms_p50": _ms(check_s, 0.5) if check_s else None,
        "check_ms_p95": _ms(check_s, 0.95) if check_s else None,
    }


def report_text(figures: dict[str, Any]) -> str:
    lines = [
        f"read {figures['reviews']:,} reviews ({figures['rejects']} rejects) in {figures['read_s']:.1f} s: "
        f"{figures['rows_per_s']:,.0f} rows/s",
        f"{figures['summaries']:,} of {figures['listings']:,} listings with reviews get a summary; "
        f"{figures['failed_checks']} fail their check; {figures['untrusted_reviews']} reviews left out as "
        "instruction-like",
        f"template per listing: mean {figures['summarize_ms_mean']:.2f} ms, p50 {figures['summarize_ms_p50']:.2f} ms, "
        f"p95 {figures['summarize_ms_p95']:.2f} ms; its check: p50 {figures['check_ms_p50']:.2f} ms, "
        f"p95 {figures['check_ms_p95']:.2f} ms",
        "aspect: reviews mentioning it / summaries stating it",
    ]
    lines += [f"  {key}: {count:,} / {figures['stated'].get(key, 0):,}" for key, count in figures["mentioned"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report_text(summaries_report(sys.argv[1])))
