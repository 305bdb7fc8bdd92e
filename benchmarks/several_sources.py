"""What choosing a several-paper question's sources by topic membership (RAG_SEVERAL_SOURCES)
costs in time: one warm process per way, the several-paper questions of the opened sets asked in
extractive mode (no model runs, so the sources are the difference), members and margins in
alternating passes so a busy neighbour slows each alike.

    .venv/bin/python benchmarks/several_sources.py [--store DIR] [--sets dev,dev2] [--passes 2]
        [--out FILE]

The first pass of `members` embeds each candidate title once (they are remembered after): its
time is printed apart. Prints each way's answer p50 and p95 in ms; writes JSON; asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from benchlib import machine, percentiles, write_result

from rag.evaluation import load_questions
from rag.params.fitting import SETS
from rag.service import RagService
from rag.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, help="a store holding the bundled corpus (default: the configured one)")
    parser.add_argument("--sets", default="dev,dev2", help="names under eval/sets, comma-separated")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    started = machine()
    questions = [q.question for name in args.sets.split(",") if name for q in load_questions(SETS / f"{name}.jsonl")]
    extra: dict[str, Any] = {"store_path": args.store} if args.store else {}
    services = {
        way: RagService(Settings(mode="extractive", several_sources=way, **extra)) for way in ("members", "margins")
    }
    several = [q for q in questions if (r := services["margins"].analyse(q)).several and not r.is_summary_request]
    for service in services.values():
        service.ask("What is grokking?")  # loads the indexes; not counted
    times: dict[str, list[float]] = {"members, first": [], "members": [], "margins": []}
    for n in range(args.passes):
        for way, service in services.items():
            for q in several:
                t = time.perf_counter()
                service.ask(q)
                times[f"{way}, first" if way == "members" and n == 0 else way].append(1000 * (time.perf_counter() - t))
    figures = {way: percentiles(values) for way, values in times.items() if values}
    print(f"{len(several)} several-paper questions, {args.passes} passes")
    for way, f in figures.items():
        print(f"  {way:<15} p50 {f['p50']:.0f} ms  p95 {f['p95']:.0f} ms")
    write_result("several_sources", {"questions": len(several), "ms": figures}, args.out, started)


if __name__ == "__main__":
    main()
