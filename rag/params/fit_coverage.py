"""Fit whether the collection covers a summary's topic at all, and write rag/params/coverage.json.

    .venv/bin/python -m rag.params.fit_coverage            # leave-one-set-out figures, fit, write
    .venv/bin/python -m rag.params.fit_coverage --report   # figures only

Membership (fit_membership.py) judges each candidate against the topic's other candidates, so
on a topic the collection lacks the least bad candidate can still pass: blind topic sets had 0
of 4 and 1 of 4 such topics refused (session 17). This gate reads the topic as a whole, from the
same candidates: how close the likeliest member's best sentence and title are to the topic, and
the best chunk of any candidate. A summary is refused when the gate says so or when no candidate
passes membership.

Fitted on the four opened topic sets (topics-ta/tb/te/tf: 120 covered topics, 20 not), one row a
topic, from fit_membership's cached candidate rows; the likeliest member is the one the shipped
membership model ranks first (fitted on ta/tb, so in-sample there). Figures are leave one set
out, each held-out set decided by a fit and a threshold from the other three. The threshold is
the lowest out-of-set margin of a covered training topic: the gate refuses only topics further
from the collection than any covered topic it was fitted on, since refusing a topic the
collection has is the worse error (issue 16: "no refusal of a topic the collection has").
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from rag.linear import load
from rag.params.fit_membership import CACHE, CHECK_SETS, TOPIC_SETS, compute, gold_sizes
from rag.params.fitting import cached, fit, margins, print_weights, provenance, write
from rag.settings import PACKAGE_DIR

PARAMS = PACKAGE_DIR / "params" / "coverage.json"
SETS = (*TOPIC_SETS, *CHECK_SETS)
C = 1.0  # 0.3 and 3 refused the same topics in leave one set out (/tmp/s18/gate.py)
Row = dict[str, Any]


def topics(candidates: list[Row]) -> list[Row]:
    """One row a topic: its coverage features (rag.summary.coverage_features) over its candidates,
    ranked by the shipped membership model; whether the topic has gold papers, how many candidates
    pass membership, and whether the likeliest member uses every word of the topic."""
    from rag.summary import ALL_WORDS, coverage_features

    membership = load(PACKAGE_DIR / "params" / "membership.json")
    sizes = gold_sizes()
    by_topic: dict[tuple[str, str], list[Row]] = {}
    for r in candidates:
        by_topic.setdefault((r["set"], r["topic"]), []).append(r)
    out = []
    for (name, topic), rows in sorted(by_topic.items()):
        probability = [membership.probability(r["features"]) for r in rows]
        ranked = [r["features"] for _, r in sorted(zip(probability, rows, strict=True), key=lambda pr: -pr[0])]
        out.append(
            {
                "set": name,
                "topic": topic,
                "covered": sizes[topic] > 0,
                "members": sum(p >= membership.threshold for p in probability),
                # rag.summary.covers: a topic whose likeliest member uses all its words is covered
                "all_words": bool(ranked) and ranked[0]["term_cover"] >= ALL_WORDS,
                "features": coverage_features(ranked),
            }
        )
    return out


def _xy(rows: list[Row], names: tuple[str, ...]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    return np.array([[r["features"][f] for f in names] for r in rows]), np.array([int(r["covered"]) for r in rows])


def threshold(rows: list[Row], names: tuple[str, ...]) -> float:
    """The lowest margin a covered topic of `rows` gets from a fit on the other sets of `rows`."""
    lowest = np.inf
    for held in sorted({r["set"] for r in rows}):
        params = fit(*_xy([r for r in rows if r["set"] != held], names), names, C)
        covered = [r for r in rows if r["set"] == held and r["covered"]]
        if covered:
            lowest = min(lowest, float(margins(params, _xy(covered, names)[0]).min()))
    return float(lowest)


def leave_one_set_out(rows: list[Row], names: tuple[str, ...]) -> dict[str, bool]:
    """Each topic's gate decision (True: covered) from a fit and threshold that never saw its set."""
    decided = {}
    for held in sorted({r["set"] for r in rows}):
        train = [r for r in rows if r["set"] != held]
        params, cut = fit(*_xy(train, names), names, C), threshold(train, names)
        test = [r for r in rows if r["set"] == held]
        for r, m in zip(test, margins(params, _xy(test, names)[0]), strict=True):
            decided[r["topic"]] = bool(m >= cut) or r["all_words"]
    return decided


def figures(rows: list[Row], gate: dict[str, bool]) -> dict[str, str]:
    covered = [r for r in rows if r["covered"]]
    uncovered = [r for r in rows if not r["covered"]]

    def refused(selected: list[Row], with_gate: bool) -> str:
        n = sum(r["members"] == 0 or (with_gate and not gate[r["topic"]]) for r in selected)
        return f"{n} of {len(selected)}"

    return {
        "uncovered_refused_before": refused(uncovered, False),
        "uncovered_refused": refused(uncovered, True),
        "covered_refused_before": refused(covered, False),
        "covered_refused": refused(covered, True),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", action="store_true", help="print the figures; write nothing")
    parser.add_argument("--refresh", action="store_true", help="recompute the candidates' features")
    args = parser.parse_args()
    from rag.summary import COVERAGE_FEATURES

    rows = topics(cached(CACHE, compute, args.refresh))
    names = COVERAGE_FEATURES
    gate = leave_one_set_out(rows, names)
    print("leave one set out over the topic sets (before: membership alone; after: with the gate):")
    per_set = {}
    for name in (*SETS, "pooled"):
        f = figures([r for r in rows if name == "pooled" or r["set"] == name], gate)
        per_set[name] = f
        print(f"  {name:<10} " + "  ".join(f"{k} {v}" for k, v in f.items()))
    params = fit(*_xy(rows, names), names, C)
    cut = threshold(rows, names)
    params["threshold"] = 1.0 / (1.0 + float(np.exp(-cut)))
    print_weights(names, params["coef"])
    print(f"threshold (probability): {params['threshold']:.3f}")
    if args.report:
        return 0
    params["provenance"] = provenance("fit_coverage", SETS, topics=len(rows), C=C, leave_one_set_out=per_set)
    write(PARAMS, params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
