"""How far the support check agrees with a strict reader: precision and recall against the audit
set's labels (eval/audit/), per decoding and per half.

    .venv/bin/python benchmarks/audit_checker.py                  # the shipped check
    .venv/bin/python benchmarks/audit_checker.py --sweep          # its thresholds swept on the dev half

The audit set holds model-written sentences (answers' leads and summaries' key points, from
benchmarks/audit_collect.py) and a strict reader's label for each: supported, partly wrong or
unsupported, with the kind of error. The reader never saw the check's verdict. Figures:
- precision: of the sentences the check accepts, the share the reader labelled supported;
- recall: of the sentences the reader labelled supported, the share the check accepts.
The audit is split in two halves by question set; the check's thresholds were set on the
`dev` half, so the `test` half is the honest figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.chunking import paper_sentences  # noqa: E402
from rag.corpus import load_corpus  # noqa: E402
from rag.question import analyse  # noqa: E402
from rag.settings import PROJECT_DIR, Settings  # noqa: E402
from rag.support import SupportChecker, Thresholds  # noqa: E402
from rag.text import TermStatistics  # noqa: E402
from rag.types import Source  # noqa: E402

AUDIT = PROJECT_DIR / "eval" / "audit"
# the halves, by the set a sentence's question came from
DEV_HALF = frozenset({"dev", "heldout", "heldout3", "topics-ta"})


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def verdicts(items: list[dict[str, Any]], checker: SupportChecker) -> dict[str, str]:
    out = {}
    for item in items:
        context = tuple(paper_sentences(item["abstract"]))
        source = Source(1, "audit", item["title"], context, context)
        question = analyse(item["question"]) if item["origin"] == "answer" else None
        out[item["id"]], _ = checker.verdict(item["sentence"], source, question)
    return out


def figures(items: list[dict[str, Any]], labels: dict[str, dict[str, Any]], found: dict[str, str]) -> dict[str, Any]:
    rows = [(labels[i["id"]]["label"], found[i["id"]] == "ok") for i in items if i["id"] in labels]
    accepted = [label for label, ok in rows if ok]
    supported = [ok for label, ok in rows if label == "supported"]
    return {
        "sentences": len(rows),
        "labelled supported": round(sum(label == "supported" for label, _ in rows) / max(1, len(rows)), 3),
        "accepted": len(accepted),
        "precision": round(sum(label == "supported" for label in accepted) / len(accepted), 3) if accepted else None,
        "recall": round(sum(supported) / len(supported), 3) if supported else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audit", type=Path, default=AUDIT, help="folder with sentences.jsonl and labels.jsonl")
    parser.add_argument("--sweep", action="store_true", help="sweep the thresholds on the dev half")
    args = parser.parse_args()
    items = load(args.audit / "sentences.jsonl")
    labels = {row["id"]: row for row in load(args.audit / "labels.jsonl")}
    from rag.embedding import Embedder

    settings = Settings()
    embedder = Embedder(settings.resolved_embedder_path())
    papers = load_corpus(settings.store.corpus_path).papers
    stats = TermStatistics(f"{p.title} {p.abstract}" for p in papers)
    checker = SupportChecker(embedder, settings.answer.support_threshold, common=stats.common_terms())
    found = verdicts(items, checker)

    def half(item: dict[str, Any]) -> str:
        return "dev" if item["set"] in DEV_HALF else "test"

    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        groups[f"{item['variant']:<10} {half(item)}"].append(item)
        groups[f"{item['variant']:<10} both"].append(item)
    print(f"{'decoding, half':<18}" + "".join(f"{k:>20}" for k in figures(items, labels, found)))
    for name in sorted(groups):
        f = figures(groups[name], labels, found)
        print(f"{name:<18}" + "".join(f"{v!s:>20}" for v in f.values()))
    kinds = Counter(k for i in items if i["id"] in labels for k in labels[i["id"]].get("kinds", []))
    print("kinds of error the reader found:", dict(kinds.most_common()))
    missed = Counter(
        k
        for i in items
        if i["id"] in labels and found[i["id"]] == "ok" and labels[i["id"]]["label"] != "supported"
        for k in labels[i["id"]].get("kinds", [])
    )
    print("kinds of error the check let through:", dict(missed.most_common()))
    reasons = Counter(found[i["id"]].split(":")[0].split(" is ")[0] for i in items if found[i["id"]] != "ok")
    print("why the check rejected:", dict(reasons.most_common(12)))
    if args.sweep:
        dev = [i for i in items if half(i) == "dev" and i["variant"] == "free"]
        print("\nsweep on the dev half, free decoding:")
        for words in (0.5, 0.6, 0.7, 0.8):
            for cosine in (0.5, 0.6, 0.7):
                checker = SupportChecker(
                    embedder,
                    cosine,
                    replace(Thresholds(), words_in_place=words, cosine=cosine),
                    common=stats.common_terms(),
                )
                f = figures(dev, labels, verdicts(dev, checker))
                print(f"  words_in_place {words} cosine {cosine}: precision {f['precision']} recall {f['recall']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
