"""Choosing which members a several-paper answer cites (rag.params.fit_several), on hand-made
rows: each question's candidates with their membership probability, the papers the score
margins would cite instead, and the gold titles."""

from __future__ import annotations

import json

import pytest

from rag.params.fit_several import choose, cited, figures
from rag.settings import PACKAGE_DIR


def row(candidates: list[tuple[str, float]], gold: list[str], margins: list[str] | None = None) -> dict[str, object]:
    return {
        "set": "s",
        "qid": "q",
        "gold": gold,
        "relevant": gold,
        "candidates": [list(c) for c in candidates],
        "margins": margins or [],
    }


def test_members_above_the_bar_are_cited_up_to_the_count_and_the_margins_otherwise() -> None:
    r = row([("a", 0.9), ("b", 0.6), ("c", 0.3)], ["a", "b"], margins=["m"])
    assert cited(r, 0.5, 5) == ["a", "b"]
    assert cited(r, 0.2, 2) == ["a", "b"]
    assert cited(r, 0.95, 5) == ["m"]


def test_precision_and_recall_are_per_question_then_averaged() -> None:
    rows = [row([("a", 0.9), ("x", 0.8)], ["a", "b"]), row([("c", 0.9)], ["c"])]
    precision, recall = figures(rows, 0.5, 5)
    assert precision == pytest.approx((0.5 + 1.0) / 2)
    assert recall == pytest.approx((0.5 + 1.0) / 2)


def test_the_bar_chosen_keeps_the_gold_and_drops_the_rest() -> None:
    # gold papers score 0.6 and up, wrong ones 0.5 and below; questions have 1 and 3 gold papers,
    # so no count alone separates them: only a bar between 0.5 and 0.6 does
    rows = [
        row([("g1", 0.8), ("w1", 0.5), ("w2", 0.3)], ["g1"]),
        row([("g1", 0.9), ("g2", 0.7), ("g3", 0.6), ("w1", 0.4)], ["g1", "g2", "g3"]),
    ]
    threshold, count = choose(rows)
    assert 0.5 < threshold <= 0.6 and count >= 3
    assert figures(rows, threshold, count) == (1.0, 1.0)


def test_the_shipped_parameters_record_how_they_were_fitted() -> None:
    data = json.loads((PACKAGE_DIR / "params" / "several_sources.json").read_text(encoding="utf-8"))
    assert 0.0 < data["threshold"] < 1.0 and data["max_sources"] >= 1
    assert data["provenance"]["command"] == "python -m rag.params.fit_several"
    assert data["provenance"]["leave_one_set_out"]["pooled"]["citation_precision"] > 0
