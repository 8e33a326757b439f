"""How fast a detailed Inside Airbnb listings file is read into rows and rejects, and loaded into Postgres.

Builds a file of `--rows` records from real detailed files (the shared Singapore
and Boston ones by default), repeating them with fresh ids as needed, writes it
gzipped as Inside Airbnb publishes it and as plain CSV, and times
`parse_listings_file` on each (best of `--repeat`). With `--load`, also times
`gfl load` of the gzipped file into a throwaway embedded Postgres: the first load
(every row inserted) and a reload (every row unchanged).

    python -m gfl_dagster_bench.detailed_parse [--rows 10000] [--repeat 3] [--load] [FILE.csv.gz ...]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import itertools
import os
import tempfile
import time
from pathlib import Path

from gfl_dagster.listings.detailed_rows import parse_listings_file

SHARED_FILES = ("insideairbnb_singapore_2023-09_listings.csv.gz", "insideairbnb_boston_2024-06_listings.csv.gz")


def _records(path: Path) -> tuple[list[str], list[list[str]]]:
    with gzip.open(path, "rt", newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        return next(reader), list(reader)


def build_file(sources: list[Path], rows: int) -> bytes:
    """`rows` records of the sources in turn; a repeated record gets a new id so no id is a duplicate."""
    header, pool = None, []
    for source in sources:
        source_header, records = _records(source)
        if header is not None and source_header != header:
            raise SystemExit(f"{source} has another header than {sources[0]}: cannot be concatenated")
        header = source_header
        pool.extend(records)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for number, record in zip(range(rows), itertools.cycle(pool)):
        record = list(record)
        record[0] = str(number + 1)
        writer.writerow(record)
    return buffer.getvalue().encode("utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path,
                        help="detailed .csv.gz files (default: the shared Singapore and Boston files in $GFL_SHARED_DATA)")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--load", action="store_true", help="also time loading the gzipped file into Postgres")
    args = parser.parse_args(argv)
    files = args.files
    if not files:
        folder = os.environ.get("GFL_SHARED_DATA")
        if not folder:
            raise SystemExit("name detailed files or set GFL_SHARED_DATA to the folder holding " + ", ".join(SHARED_FILES))
        files = [Path(folder) / name for name in SHARED_FILES]
    data = build_file(files, args.rows)
    with tempfile.TemporaryDirectory() as folder:
        for name, content in (("listings.csv.gz", gzip.compress(data)), ("listings.csv", data)):
            path = Path(folder) / name
            path.write_bytes(content)
            best = float("inf")
            for _ in range(args.repeat):
                started = time.perf_counter()
                parsed = parse_listings_file(path)
                best = min(best, time.perf_counter() - started)
            print(f"{name}: {len(parsed.rows)} rows, {len(parsed.rejects)} rejects of {args.rows} records "
                  f"({len(content) / 1e6:.1f} MB) in {best:.2f} s: {args.rows / best:,.0f} rows/s (best of {args.repeat})")
        if args.load:
            time_load(Path(folder) / "listings.csv.gz")


def time_load(path: Path) -> None:
    """Load `path` twice into a throwaway project's embedded Postgres; print what each load wrote and took."""
    from gfl_dagster_bench.common import throwaway_project
    from gfl_dagster.db.engine import start_database
    from gfl_dagster.listings.load import load_listings_csv

    with throwaway_project("gfl-bench-load-"):
        engine = start_database(None)
        for attempt in ("first load", "reload"):
            report = load_listings_csv(engine, path)
            print(f"{attempt} of {path.name}: {report.inserted} inserted, {report.unchanged} unchanged, "
                  f"{report.rejected} rejected in {report.seconds:.2f} s: {report.rows_read / report.seconds:,.0f} "
                  "rows/s")
        engine.dispose()


if __name__ == "__main__":
    main()
