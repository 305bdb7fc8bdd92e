"""How the number of sentences the model is shown (RAG_PROMPT_SENTENCES) moves the answer's time:
one warm process, the same dev questions answered with each value in alternating passes, so a
busy neighbour slows each alike.

    .venv/bin/python benchmarks/prompt_sentences.py --store DIR [--values 3,1] [--questions 16]
        [--passes 2] [--out FILE]

`--store` must hold the bundled corpus (`rag --store DIR ingest`). Only answers the model wrote
count (a refusal or an extractive answer never runs it). Prints, for each value, the answer's
`total_ms` and `first_token_ms` p50 and the model's prompt tokens; writes JSON; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from benchlib import DEV_QUESTIONS, load_questions, machine, percentiles, write_result

from rag.service import RagService
from rag.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--values", default="3,1", help="RAG_PROMPT_SENTENCES values, comma-separated")
    parser.add_argument("--questions", type=int, default=16, help="the first N dev questions")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    started = machine()
    values = [int(v) for v in args.values.split(",")]
    questions = [q["question"] for q in load_questions(DEV_QUESTIONS)[: args.questions]]
    service = RagService(Settings(store_path=args.store, mode="generative"))
    service.ask(questions[0])  # loads the model and the piece index; not counted
    seen: dict[int, dict[str, list[float]]] = {v: {"total_ms": [], "first_token_ms": [], "prompt": []} for v in values}
    for _ in range(args.passes):
        for value in values:
            service.settings.answer.prompt_sentences = value
            for question in questions:
                answer = service.ask(question)
                total, first = answer.timings.get("total_ms"), answer.timings.get("first_token_ms")
                if answer.refused or answer.model == "none" or total is None or first is None:
                    continue
                seen[value]["total_ms"].append(total)
                seen[value]["first_token_ms"].append(first)
                seen[value]["prompt"].append(answer.usage.prompt_tokens)
    figures: dict[str, Any] = {"questions": len(questions), "passes": args.passes, "by_value": {}}
    for value, got in seen.items():
        figures["by_value"][str(value)] = {
            "answers": len(got["total_ms"]),
            "total_ms": percentiles(got["total_ms"]),
            "first_token_ms": percentiles(got["first_token_ms"]),
            "prompt_tokens_p50": statistics.median(got["prompt"]) if got["prompt"] else None,
        }
        row = figures["by_value"][str(value)]
        print(
            f"prompt_sentences {value}: {row['answers']} answers, total p50 {row['total_ms']['p50']:.0f} ms, "
            f"first token p50 {row['first_token_ms']['p50']:.0f} ms, prompt tokens p50 {row['prompt_tokens_p50']}"
        )
    print(f"load {started['load_average']} -> {machine()['load_average']}")
    write_result("prompt_sentences", figures, args.out, started)


if __name__ == "__main__":
    main()
