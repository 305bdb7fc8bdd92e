"""Measure ways of turning a follow-up question into a standalone retrieval query.

Each case is a two-turn conversation over the bundled corpus. The first turn is a question from
the dev set with one gold paper; the system answers it (extractive mode, no model) and cites
what it cites. The second turn is either
- a follow-up about the same paper ("And what dataset did it use?"), whose target is that gold
  paper, or
- a control: the next dev question, which stands on its own and has another gold paper. A good
  condenser leaves it alone; a bad one drags the old subject into it.

For each strategy the condensed query is answered by the real pipeline (retrieval, coverage,
extractive answer) and scored:
- hit@1, hit@5: the target paper is retrieved first / among the top 5;
- answered: the answer is not a refusal and cites the target paper;
- ms: the time spent condensing alone (mean and worst).

Strategies:
- none: the question as written;
- concat: the previous question, then the new one;
- rule: `rag.conversation.condense` with the text of the conversation only (a client that
  sends plain OpenAI messages);
- rule+cited: the same, with the titles the first answer cited (what the web page sends back);
- model: the bundled SmolLM2-135M rewrites the question (prompt in benchmarks/prompts/condense.*).

    .venv/bin/python benchmarks/condense.py [--dev eval/sets/dev.jsonl] [--no-model]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from rag.conversation import Turn, condense  # noqa: E402
from rag.generation import Generator  # noqa: E402
from rag.prompts import load_template  # noqa: E402
from rag.service import RagService  # noqa: E402
from rag.settings import PROJECT_DIR, Settings  # noqa: E402

FOLLOW_UPS = [
    "And what dataset did it use?",
    "What are its main results?",
    "Who are the authors of that paper?",
    "How does this method work?",
    "And what about the limitations?",
    "What problem does the paper address?",
    "How does it compare to earlier approaches?",
    "What experiments did they run?",
]


@dataclass
class Case:
    kind: str  # "follow-up" or "control"
    first: str
    second: str
    target: str  # gold title of the second turn


Condenser = Callable[[str, str, list[str]], str]  # (first question, second, titles cited) -> query


def load_cases(dev: Path) -> list[Case]:
    rows = [json.loads(line) for line in dev.read_text(encoding="utf-8").splitlines() if line.strip()]
    single = [r for r in rows if r["kind"] in ("factoid", "which_paper") and len(r["gold_titles"]) == 1]
    cases = []
    for i, row in enumerate(single):
        cases.append(Case("follow-up", row["question"], FOLLOW_UPS[i % len(FOLLOW_UPS)], row["gold_titles"][0]))
        nxt = single[(i + 1) % len(single)]
        cases.append(Case("control", row["question"], nxt["question"], nxt["gold_titles"][0]))
    return cases


def rule(first: str, second: str, cited: list[str]) -> str:
    return condense([Turn("user", first), Turn("assistant", "..."), Turn("user", second)]).query


def rule_cited(first: str, second: str, cited: list[str]) -> str:
    return condense([Turn("user", first), Turn("assistant", "...", tuple(cited)), Turn("user", second)]).query


def model_condenser(generator: Generator, prompts_dir: Path) -> Condenser:
    template = load_template(prompts_dir, "condense")

    def rewrite(first: str, second: str, cited: list[str]) -> str:
        history = f'User: {first}\nAssistant: (an answer citing "{cited[0]}")' if cited else f"User: {first}"
        messages = template.render(history=history, question=second)
        text = "".join(generator.stream(messages, 48)).strip()
        return (text.splitlines() or [second])[0].strip() or second

    return rewrite


def score(service: RagService, case: Case, query: str) -> dict[str, Any]:
    answer = service.ask(query, mode="extractive")
    titles = [p.title for p in answer.retrieved]
    return {
        "hit1": bool(titles) and titles[0] == case.target,
        "hit5": case.target in titles[:5],
        "answered": not answer.refused and any(c.title == case.target for c in answer.citations),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, default=PROJECT_DIR / "eval" / "sets" / "dev.jsonl")
    parser.add_argument("--no-model", action="store_true", help="skip the bundled-model strategy")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "benchmarks" / "results" / "condense.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    settings = Settings()
    service = RagService(settings)
    service.ensure_ingested()
    cases = load_cases(args.dev)

    strategies: dict[str, Condenser] = {
        "none": lambda first, second, cited: second,
        "concat": lambda first, second, cited: f"{first} {second}",
        "rule": rule,
        "rule+cited": rule_cited,
    }
    if not args.no_model:
        strategies["model"] = model_condenser(service.generator(), PROJECT_DIR / "benchmarks" / "prompts")

    first_cited: dict[str, list[str]] = {}
    for case in cases:
        if case.first not in first_cited:
            first_cited[case.first] = [c.title for c in service.ask(case.first, mode="extractive").citations]

    results: dict[str, Any] = {"cases": len(cases), "strategies": {}}
    examples: dict[str, list[dict[str, str]]] = {}
    for name, condenser in strategies.items():
        per_kind: dict[str, list[dict[str, Any]]] = {"follow-up": [], "control": []}
        timings: list[float] = []
        for case in cases:
            started = time.perf_counter()
            query = condenser(case.first, case.second, first_cited[case.first])
            timings.append((time.perf_counter() - started) * 1000)
            per_kind[case.kind].append(score(service, case, query))
            if case.kind == "follow-up" and len(examples.setdefault(name, [])) < 3:
                examples[name].append({"question": case.second, "query": query})
        summary: dict[str, Any] = {
            kind: {
                metric: round(sum(r[metric] for r in rows) / len(rows), 3) for metric in ("hit1", "hit5", "answered")
            }
            for kind, rows in per_kind.items()
        }
        summary["ms_mean"] = round(statistics.fmean(timings), 3)
        summary["ms_max"] = round(max(timings), 3)
        results["strategies"][name] = summary
        print(f"done: {name}", file=sys.stderr)

    n_follow = sum(c.kind == "follow-up" for c in cases)
    print(
        f"{len(cases)} conversations over {service.info()['papers']} papers: "
        f"{n_follow} follow-ups, {len(cases) - n_follow} controls"
    )
    print(
        f"{'strategy':<11} | {'follow-up hit@1':>15} {'hit@5':>6} {'answered':>8} "
        f"| {'control hit@1':>13} {'hit@5':>6} {'answered':>8} | {'ms mean':>8} {'ms max':>8}"
    )
    for name, s in results["strategies"].items():
        f, c = s["follow-up"], s["control"]
        print(
            f"{name:<11} | {f['hit1']:>15.2f} {f['hit5']:>6.2f} {f['answered']:>8.2f} "
            f"| {c['hit1']:>13.2f} {c['hit5']:>6.2f} {c['answered']:>8.2f} "
            f"| {s['ms_mean']:>8.2f} {s['ms_max']:>8.2f}"
        )
    for name, rows in examples.items():
        print(f"\n{name}:")
        for row in rows:
            print(f"  {row['question']!r} -> {row['query']!r}")
    results["examples"] = examples
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
