"""A markdown table of `rag eval --json` results, one column per file, for docs/evaluation.md.

    for s in dev2 heldout4; do rag eval eval/sets/$s.jsonl --json > out/$s-generative.json; done
    python scripts/eval_table.py out/*.json

A column is named after its file ("heldout4-generative"), and its folder when two files share a
name. A figure a set cannot give (summary
coverage on a set without summary requests) is shown as "-".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# (label, key in the result, key inside it or None), in the order a reader wants them
ROWS: list[tuple[str, str, str | None]] = [
    ("questions", "questions", None),
    ("recall@5", "recall_at_5", None),
    ("first sentence holds a fact", "first_sentence_fact_accuracy", None),
    ("first sentence, factoid questions", "by_kind", "factoid"),
    ("answer facts", "answer_fact_accuracy", None),
    ("citation precision", "citation_precision", None),
    ("citation recall", "citation_recall", None),
    ("refusal accuracy", "refusal_accuracy", None),
    ("false refusal rate", "false_refusal_rate", None),
    ("false premises repeated", "false_premises_repeated", None),
    ("summary coverage", "summary_coverage", None),
    ("summary citation precision", "summary_citation_precision", None),
    ("invented citations", "invented_citations", None),
    ("answer words p50", "answer_words_p50", None),
    ("answer words p90", "answer_words_p90", None),
]


def cell(result: dict[str, Any], key: str, inner: str | None) -> str:
    value = result.get(key)
    if inner is not None:  # by_kind -> factoid -> first sentence
        value = (value or {}).get(inner, {}).get("first_sentence_fact_accuracy")
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def table(paths: list[Path]) -> str:
    stems = [p.stem for p in paths]
    # the same file name from two runs: tell them apart by their folders ("base/dev2-generative")
    names = [f"{p.parent.name}/{p.stem}" if stems.count(p.stem) > 1 else p.stem for p in paths]
    results = {name: json.loads(p.read_text(encoding="utf-8")) for name, p in zip(names, paths, strict=True)}
    lines = ["| | " + " | ".join(results) + " |", "|---" * (len(results) + 1) + "|"]
    for label, key, inner in ROWS:
        lines.append(f"| {label} | " + " | ".join(cell(r, key, inner) for r in results.values()) + " |")
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(table([Path(p) for p in sys.argv[1:]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
