"""Fit whether a question asks about several papers; write rag/params/several_kind.json.

    .venv/bin/python -m rag.params.fit_kind            # LOSO figures, fit, write
    .venv/bin/python -m rag.params.fit_kind --report   # figures only

A several-paper question ("Which papers use X?", "Compare the approaches to Y") is answered with
the papers of a topic, a one-paper question with the sentence that answers. A logistic
regression over the cues of rag.question (`SEVERAL_FEATURES`: plural nouns such as "papers",
"compare" at the start, "the paper", a name, ...) decides, fitted on the pool's answerable
questions, each labelled by its writer's kind (multi and summary against factoid and
which_paper). Requests the summary reader catches (rag.question.summary_request) are routed
before this decision and left out. Figures are leave one
set out, against the single pattern the fitted decision replaced.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

import numpy as np

from rag.evaluation import load_questions
from rag.params.fitting import FIT_SETS, SETS, fit, leave_one_set_out, margins, print_weights, provenance, write
from rag.question import SEVERAL_FEATURES, SEVERAL_PARAMS, several_features, summary_request

C = 1.0
KINDS = {"factoid": False, "which_paper": False, "multi": True, "summary": True}
# the rule this replaces (rag/question.py before session 12): any of these words anywhere
OLD_RULE = re.compile(
    r"\b(papers|articles|abstracts|publications|approaches|methods|techniques"
    r"|(?<!paper )(?<!that )(?<!who )(?<!it )(studies|works)"
    r"|(this|the) (collection|corpus)|(work|research) on|literature|compare|comparison|contrast)\b",
    re.IGNORECASE,
)


def rows() -> list[dict[str, Any]]:
    out = []
    for name in FIT_SETS:
        for q in load_questions(SETS / f"{name}.jsonl"):
            # a request for a summary asks about several papers too: those the request reader
            # does not catch ("What does this collection say about X?") are kept as examples
            if q.answerable and q.kind in KINDS and summary_request(q.question) is None:
                out.append({"set": name, "text": q.question, "several": KINDS[q.kind]})
    return out


def _xy(selected: list[dict[str, Any]]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    x = np.array([[several_features(r["text"])[f] for f in SEVERAL_FEATURES] for r in selected], dtype=float)
    return x, np.array([1 if r["several"] else 0 for r in selected])


def _counts(selected: list[dict[str, Any]], said: list[bool]) -> str:
    missed = sum(r["several"] and not s for r, s in zip(selected, said, strict=True))
    misread = sum(not r["several"] and s for r, s in zip(selected, said, strict=True))
    right = len(selected) - missed - misread
    return f"{right / max(1, len(selected)):.3f} right, {missed} several-paper missed, {misread} one-paper misread"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", action="store_true", help="print the figures; write nothing")
    args = parser.parse_args()
    data = rows()
    decided: dict[int, bool] = {}

    def score(train: set[str], held: str) -> dict[int, float]:
        params = fit(*_xy([r for r in data if r["set"] in train]), SEVERAL_FEATURES, C)
        held_rows = [(i, r) for i, r in enumerate(data) if r["set"] == held]
        for (i, _), m in zip(held_rows, margins(params, _xy([r for _, r in held_rows])[0]), strict=True):
            decided[i] = bool(m >= 0.0)  # probability 0.5
        return {}

    leave_one_set_out([r["set"] for r in data], score)
    said = [decided[i] for i in range(len(data))]
    old = [OLD_RULE.search(r["text"]) is not None for r in data]
    print(f"{'set':<10}{'questions':>10}   the old pattern / fitted on the other sets")
    per_set: dict[str, Any] = {}
    for name in [*FIT_SETS, "pooled"]:
        chosen = [i for i, r in enumerate(data) if name == "pooled" or r["set"] == name]
        if not chosen:
            continue
        subset = [data[i] for i in chosen]
        new = _counts(subset, [said[i] for i in chosen])
        per_set[name] = new
        print(f"{name:<10}{len(chosen):>10}   {_counts(subset, [old[i] for i in chosen])}  /  {new}")
    params = fit(*_xy(data), SEVERAL_FEATURES, C)
    params["threshold"] = 0.5
    print_weights(SEVERAL_FEATURES, params["coef"])
    if args.report:
        return 0
    params["provenance"] = provenance("fit_kind", FIT_SETS, questions=len(data), C=C, leave_one_set_out=per_set)
    write(SEVERAL_PARAMS, params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
