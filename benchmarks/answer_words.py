"""What a limit on the answer's words (RAG_MAX_WORDS) costs in facts shown: every question of the
opened sets answered once with no limit, then each limit applied to the text as `rag.render.within`
applies it (the lead, then quotes in order while the words shown stay within the limit).

    .venv/bin/python benchmarks/answer_words.py [--store DIR] [--sets pool-pa,dev2] [--mode extractive]
        [--values 0,60,65,70,75] [--out FILE]

The sets default to the fitting pool (rag.params.fitting.FIT_SETS): every set here has been
opened, and none of the blind ones (heldout4, final-*) is read. Extractive mode by default: no
model runs, so the whole pool takes minutes, and the model's lead is a span of the same sentence.
Prints, for each set and pooled, the share of answer facts shown and the words p50/p90 of the
answered questions (summaries left out, as `rag eval` leaves them out); writes JSON; asserts
nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from benchlib import machine, write_result

from rag.evaluation import fact_found, load_questions
from rag.params.fitting import FIT_SETS, SETS
from rag.service import RagService
from rag.settings import Settings


def limited(text: str, limit: int) -> str:
    """The answer's text with the quotes that would pass `limit` words left out."""
    lines = [line for line in text.split("\n") if line.strip()]
    if limit <= 0 or not lines:
        return text
    kept, words = [lines[0]], len(lines[0].split())
    for line in lines[1:]:
        if words + len(line.split()) > limit:
            break
        kept.append(line)
        words += len(line.split())
    return "\n".join(kept)


def _percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, help="a store holding the bundled corpus (default: the configured one)")
    parser.add_argument("--sets", default=",".join(FIT_SETS), help="names under eval/sets, comma-separated")
    parser.add_argument("--mode", choices=("extractive", "generative"), default="extractive")
    parser.add_argument("--values", default="0,60,65,70,75", help="limits to try, comma-separated (0: none)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    started = machine()
    values = [int(v) for v in args.values.split(",")]
    extra: dict[str, Any] = {"store_path": args.store} if args.store else {}
    service = RagService(Settings(mode=args.mode, max_words=0, **extra))
    service.ensure_ingested()
    # per set and limit: facts shown, facts asked, words of each answered question
    figures: dict[str, dict[int, dict[str, Any]]] = {}
    for name in [s for s in args.sets.split(",") if s]:
        per = figures.setdefault(name, {v: {"shown": 0, "facts": 0, "words": []} for v in values})
        for q in load_questions(SETS / f"{name}.jsonl"):
            if q.kind == "summary":
                continue
            answer = service.respond(q.question)
            for v in values:
                if q.answerable:
                    per[v]["facts"] += len(q.answer_facts)
                if answer.refused:
                    continue
                text = limited(answer.answer, v)
                per[v]["words"].append(len(text.split()))
                if q.answerable:
                    per[v]["shown"] += sum(fact_found(f, text) for f in q.answer_facts)
        print(f"{name}: {len(per[values[0]]['words'])} answered")
    pooled = {
        v: {
            "shown": sum(f[v]["shown"] for f in figures.values()),
            "facts": sum(f[v]["facts"] for f in figures.values()),
            "words": [w for f in figures.values() for w in f[v]["words"]],
        }
        for v in values
    }
    table: dict[str, dict[str, Any]] = {}
    print(f"\n{'set':<10}{'limit':>6}{'facts shown':>13}{'p50':>6}{'p90':>6}")
    for name, per in [*figures.items(), ("pooled", pooled)]:
        table[name] = {}
        for v in values:
            f = per[v]
            share = round(f["shown"] / f["facts"], 4) if f["facts"] else None
            p50, p90 = _percentile(f["words"], 0.5), _percentile(f["words"], 0.9)
            table[name][str(v)] = {"facts_shown": share, "words_p50": p50, "words_p90": p90}
            print(f"{name:<10}{v or 'none':>6}{share if share is not None else '-':>13}{p50:>6}{p90:>6}")
    write_result("answer_words", {"mode": args.mode, "values": values, "figures": table}, args.out, started)


if __name__ == "__main__":
    main()
