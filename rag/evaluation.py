"""`rag eval`: retrieval, citation, answer and refusal quality on a question file, with figures.

Question file: JSONL with `qid`, `kind`, `question`, `gold_titles`, `also_relevant`,
`answer_facts` (alternatives inside one fact separated by " | "), and optionally `sort` (why an
unanswerable question is: absent_topic, missing_detail, false_premise, off_topic) and `phrasing`
(plain, technical, casual). A question with no gold titles is unanswerable: the right behaviour
is a refusal.

Averages are over questions (macro), except `answer_fact_accuracy`, which is over facts, and
`first_sentence_fact_accuracy`, the same over the answer's first sentence only: does the answer
open with the answer, or make the reader find it in the quotes?
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import CorpusError


@dataclass(frozen=True)
class LabelledQuestion:
    qid: str
    kind: str
    question: str
    gold_titles: tuple[str, ...]
    also_relevant: tuple[str, ...] = ()
    answer_facts: tuple[str, ...] = ()
    sort: str | None = None  # why an unanswerable question is so
    phrasing: str | None = None  # plain, technical or casual
    absent_terms: tuple[str, ...] = ()  # what an unanswerable question names that the papers lack

    @property
    def answerable(self) -> bool:
        return bool(self.gold_titles)


@dataclass
class Outcome:
    """What the system did for one question; enough to compute every metric."""

    question: LabelledQuestion
    retrieved: list[str]  # titles, best first
    cited: list[str]
    answer: str
    refused: bool
    sentences: int
    unsupported_sentences: int  # in the final answer
    rejected_sentences: int  # generated, then rejected by the support check
    latency_ms: float
    first_token_ms: float | None
    extra: dict[str, Any] = field(default_factory=dict)
    opening: str | None = None  # the answer's first sentence; None where there is none to judge
    # each sentence of the answer: text, origin (model, quote, overview), citations, check result
    sentence_log: list[dict[str, Any]] = field(default_factory=list)


def load_questions(path: Path) -> list[LabelledQuestion]:
    questions = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise CorpusError(f"cannot read question file {path}: {e.strerror}", fix="check the path") from e
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(
                LabelledQuestion(
                    qid=str(row.get("qid", number)),
                    kind=str(row.get("kind", "question")),
                    question=str(row["question"]),
                    gold_titles=tuple(row.get("gold_titles") or ()),
                    also_relevant=tuple(row.get("also_relevant") or ()),
                    answer_facts=tuple(row.get("answer_facts") or ()),
                    sort=row.get("sort"),
                    phrasing=row.get("phrasing"),
                    absent_terms=tuple(row.get("absent_terms") or ()),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise CorpusError(
                f"{path}:{number}: not a question record ({e})", fix="each line needs at least a 'question'"
            ) from e
    if not questions:
        raise CorpusError(f"no questions in {path}", fix="pass a JSONL file of questions")
    return questions


def _norm(title: str) -> str:
    return " ".join(title.casefold().split())


def fact_found(fact: str, answer: str) -> bool:
    text = answer.casefold()
    return any(alt.strip().casefold() in text for alt in fact.split(" | ") if alt.strip())


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(statistics.fmean(values), 4) if values else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index], 1)


def per_question(o: Outcome, corpus_titles: set[str]) -> dict[str, Any]:
    q = o.question
    gold = {_norm(t) for t in q.gold_titles}
    relevant = gold | {_norm(t) for t in q.also_relevant}
    retrieved = [_norm(t) for t in o.retrieved]
    cited = list(dict.fromkeys(_norm(t) for t in o.cited))
    row: dict[str, Any] = {
        "qid": q.qid,
        "kind": q.kind,
        "question": q.question,
        "refused": o.refused,
        "answer": o.answer,
        "cited": o.cited,
        "retrieved": o.retrieved[:5],
        "latency_ms": round(o.latency_ms, 1),
        "first_token_ms": round(o.first_token_ms, 1) if o.first_token_ms is not None else None,
        "invented_citations": sum(1 for t in cited if t not in corpus_titles),
        "sentences": o.sentences,
        "unsupported_sentences": o.unsupported_sentences,
        "rejected_sentences": o.rejected_sentences,
        "words": len(o.answer.split()),
        "sort": q.sort,
        "phrasing": q.phrasing,
        "sentence_log": o.sentence_log,
        **o.extra,
    }
    if q.sort == "false_premise" and not o.refused:
        row["premise_repeated"] = premise_repeated(q, o)
    if q.answerable:
        row["recall_at_5"] = len(gold & set(retrieved[:5])) / min(len(gold), 5)
        row["reciprocal_rank"] = next((1 / i for i, t in enumerate(retrieved, start=1) if t in gold), 0.0)
        row["citation_recall"] = len(gold & set(cited)) / len(gold)
        if not o.refused and cited:
            row["citation_precision"] = sum(1 for t in cited if t in relevant) / len(cited)
        row["facts_found"] = sum(fact_found(f, o.answer) for f in q.answer_facts)
        row["facts"] = len(q.answer_facts)
        if o.opening is not None:
            row["opening_facts_found"] = sum(fact_found(f, o.opening) for f in q.answer_facts)
    return row


def premise_repeated(q: LabelledQuestion, o: Outcome) -> bool:
    """Does an answer to a false-premise question repeat the premise: name what no abstract
    names, or lead with a model sentence made of the question's own words?"""
    text = o.answer.casefold()
    if any(term.casefold() in text for term in q.absent_terms):
        return True
    lead = o.sentence_log[0] if o.sentence_log else None
    if lead is None or lead["origin"] != "model":
        return False
    asked = set(q.question.casefold().split())
    said = lead["text"].casefold().split()
    return bool(said) and sum(w in asked for w in said) / len(said) >= 0.7


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    summaries = [r for r in rows if r["kind"] == "summary" and "recall_at_5" in r]
    answerable = [r for r in rows if "recall_at_5" in r]
    unanswerable = [r for r in rows if "recall_at_5" not in r]
    facts = sum(r.get("facts", 0) for r in answerable)
    opened = [r for r in answerable if "opening_facts_found" in r]
    opened_facts = sum(r["facts"] for r in opened)
    sentences = sum(r["sentences"] for r in rows)
    generated = sentences + sum(r["rejected_sentences"] for r in rows)
    latencies = [r["latency_ms"] for r in rows]
    first_tokens = [r["first_token_ms"] for r in rows if r["first_token_ms"] is not None]
    lengths = [r["words"] for r in rows if not r["refused"] and r["kind"] != "summary" and "words" in r]
    return {
        "questions": len(rows),
        "recall_at_5": _mean(r["recall_at_5"] for r in answerable),
        "mrr": _mean(r["reciprocal_rank"] for r in answerable),
        "citation_precision": _mean(r["citation_precision"] for r in answerable if "citation_precision" in r),
        "citation_recall": _mean(r["citation_recall"] for r in answerable),
        "answer_fact_accuracy": round(sum(r.get("facts_found", 0) for r in answerable) / facts, 4) if facts else None,
        "first_sentence_fact_accuracy": round(sum(r["opening_facts_found"] for r in opened) / opened_facts, 4)
        if opened_facts
        else None,
        "refusal_accuracy": _mean(1.0 if r["refused"] else 0.0 for r in unanswerable),
        "false_refusal_rate": _mean(1.0 if r["refused"] else 0.0 for r in answerable),
        "invented_citations": sum(r["invented_citations"] for r in rows),
        "unsupported_sentence_rate": round(sum(r["unsupported_sentences"] for r in rows) / sentences, 4)
        if sentences
        else 0.0,
        "rejected_sentence_rate": round(sum(r["rejected_sentences"] for r in rows) / generated, 4)
        if generated
        else 0.0,
        "summary_coverage": _mean(r["citation_recall"] for r in summaries),
        "summary_citation_precision": _mean(r["citation_precision"] for r in summaries if "citation_precision" in r),
        "summary_invented_citations": sum(r["invented_citations"] for r in rows if r["kind"] == "summary"),
        "latency_ms_p50": _percentile(latencies, 0.5),
        "latency_ms_p95": _percentile(latencies, 0.95),
        "first_token_ms_p50": _percentile(first_tokens, 0.5),
        "answer_words_p50": _percentile(lengths, 0.5),
        "answer_words_p90": _percentile(lengths, 0.9),
        "refusal_by_sort": {
            sort: _mean(1.0 if r["refused"] else 0.0 for r in unanswerable if r.get("sort") == sort)
            for sort in sorted({r["sort"] for r in unanswerable if r.get("sort")})
        },
        "false_premises_repeated": sum(1 for r in rows if r.get("premise_repeated")),
        "false_refusal_by_phrasing": {
            phrasing: _mean(1.0 if r["refused"] else 0.0 for r in answerable if r.get("phrasing") == phrasing)
            for phrasing in sorted({r["phrasing"] for r in answerable if r.get("phrasing")})
        },
    }


def evaluate(
    questions: Sequence[LabelledQuestion],
    run: Callable[[LabelledQuestion], Outcome],
    corpus_titles: Iterable[str],
    progress: Callable[[Iterable[LabelledQuestion]], Iterable[LabelledQuestion]] = lambda qs: qs,
) -> dict[str, Any]:
    titles = {_norm(t) for t in corpus_titles}
    rows = [per_question(run(q), titles) for q in progress(questions)]
    result = summarize(rows)
    result["by_kind"] = {
        kind: summarize([r for r in rows if r["kind"] == kind]) for kind in sorted({r["kind"] for r in rows})
    }
    result["per_question"] = rows
    return result


TABLE_COLUMNS = [
    ("n", "questions"),
    ("R@5", "recall_at_5"),
    ("MRR", "mrr"),
    ("cit.P", "citation_precision"),
    ("cit.R", "citation_recall"),
    ("facts", "answer_fact_accuracy"),
    ("1st.facts", "first_sentence_fact_accuracy"),
    ("refuse", "refusal_accuracy"),
    ("false.ref", "false_refusal_rate"),
    ("invented", "invented_citations"),
    ("unsup", "unsupported_sentence_rate"),
    ("sum.cov", "summary_coverage"),
    ("words50", "answer_words_p50"),
    ("p50 ms", "latency_ms_p50"),
    ("ttft ms", "first_token_ms_p50"),
]


def format_table(result: dict[str, Any]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "-"
        return (
            f"{value:.2f}"
            if isinstance(value, float) and value < 10
            else str(int(value))
            if isinstance(value, float)
            else str(value)
        )

    header = f"{'kind':<14}" + "".join(f"{name:>10}" for name, _ in TABLE_COLUMNS)
    lines = [header, "-" * len(header)]
    for kind, figures in [*result["by_kind"].items(), ("overall", result)]:
        lines.append(f"{kind:<14}" + "".join(f"{cell(figures.get(key)):>10}" for _, key in TABLE_COLUMNS))
    return "\n".join(lines)


def outcome_from_answer(question: LabelledQuestion, answer: Any) -> Outcome:
    """Read an `rag.answer.Answer` (or its dict) into an Outcome."""
    data = answer if isinstance(answer, dict) else answer.to_dict()
    sentences = data.get("sentences", [])
    shown_unsupported = sum(1 for s in sentences if not s["supported"])
    return Outcome(
        question=question,
        retrieved=[p["title"] for p in data["retrieved"]],
        cited=[c["title"] for c in data["citations"]],
        answer=data["answer"],
        refused=bool(data["refused"]),
        sentences=len(sentences),
        unsupported_sentences=shown_unsupported,
        rejected_sentences=max(0, int(data.get("unsupported_sentences", 0)) - shown_unsupported),
        latency_ms=float(data["timings"]["total_ms"]),
        first_token_ms=data["timings"].get("first_token_ms"),
        extra={"coverage": data.get("coverage"), "notes": data.get("notes", [])},
        opening=_opening(data),
        sentence_log=_sentence_log(sentences),
    )


def _sentence_log(sentences: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    origin = {"generated": "model"}
    return [
        {
            "text": s["text"],
            "origin": origin.get(s.get("kind", "generated"), s.get("kind")),
            "citations": s["citations"],
            "supported": s["supported"],
            "check": s.get("check"),
        }
        for s in sentences
    ]


def _opening(data: dict[str, Any]) -> str:
    """The answer's first sentence as the reader meets it, with what opens it: the quotes'
    `From "Title" [n]:` or the lead's `According to "Title":`."""
    if not data.get("sentences"):
        return ""
    first = str(data["sentences"][0]["text"])
    at = data["answer"].find(first)
    return data["answer"][: at + len(first)] if at >= 0 else first


def outcome_from_summary(question: LabelledQuestion, summary: Any) -> Outcome:
    """Read an `rag.summary.Summary` (or its dict) into an Outcome: its matched set stands in
    for the retrieved papers, its citations for the cited ones."""
    data = summary if isinstance(summary, dict) else summary.to_dict()
    sentences = data.get("sentences", [])
    shown_unsupported = sum(1 for s in sentences if not s["supported"])
    return Outcome(
        question=question,
        retrieved=[m["title"] for m in data["matched"]],
        cited=[c["title"] for c in data["citations"]],
        answer=data["markdown"],
        refused=bool(data["refused"]),
        sentences=len(sentences),
        unsupported_sentences=shown_unsupported,
        rejected_sentences=max(0, int(data.get("unsupported_sentences", 0)) - shown_unsupported),
        latency_ms=float(data["timings"]["total_ms"]),
        first_token_ms=None,
        extra={"coverage": data.get("coverage"), "notes": data.get("notes", [])},
        sentence_log=_sentence_log(sentences),
    )
