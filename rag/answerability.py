"""Does the collection answer the question? Decided from evidence, before any text is generated.

The decision is a logistic regression over features of the evidence, fitted on a pool of 1,197
labelled questions written blind (eval/sets/pool-*, forms-*, short-* and the opened sets) and shipped as
data: `rag/params/answerability.json`, written by `python -m rag.params.fit_answerability`,
which prints its leave-one-set-out figures. The features are meant to survive paraphrase (a
question in plain words shares few words with its abstract, while sentence-level similarity still
finds it) and to carry over to other collections (none is a raw BM25 score or a word count that
grows with the collection):

- similarity: the best chunk's cosine, the question's (and each part's) best cosine to single
  sentences of the top papers, how far the best paper stands above the next, whether the dense
  and lexical retrievers agree on it, and how well the least-matched phrase of the question
  ("GPUs" in "how many GPUs ...") is matched anywhere;
- words: the IDF-weighted share of the question's content words in a top paper; named terms
  ("CLIP", "TopoNet") none of the top papers mentions, or no one paper holds together; words that
  neither the collection nor the embedder's general vocabulary knows ("qlora");
- what is asked: a number for "how many", a person for "who", a reason for "why", the subject
  of a "what is X Y" question, in the top papers;
- the answer-bearing sentence model's best score in the best paper (rag.evidence);
- the question's words matched one by one to the best paper's, in context (rag.alignment): how
  much of the question they cover, the worst-covered word, the best-covering sentence;
- the question read beside the best paper in one pass (rag.joint): how far that moves the
  question, and towards the paper.

Fewer features did as well as more: a 27-feature model reached the same leave-one-set-out
figures (docs/decisions.md). Every feature is returned with the decision (`Coverage.signals`),
so a refusal can be read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.alignment import ALIGNMENT_FEATURES
from rag.evidence import Evidence
from rag.joint import JOINT_FEATURES
from rag.linear import LinearModel, load
from rag.question import Question
from rag.text import (
    TermStatistics,
    content_terms,
    holds_number,
    missing_names,
    names_all,
    singular,
    stated_direction,
    tokens,
)
from rag.types import Coverage

PARAMS = Path(__file__).resolve().parent / "params" / "answerability.json"
PARAMS_WITHOUT_WORDS = PARAMS.with_name("answerability_without_words.json")
TOP_PAPERS = 3  # the papers whose text the decision reads: the answer quotes at most these
TOP_SENTENCES = 3  # the best sentences of the best paper, where "what is asked" must be found

# how an abstract names people: "Smith et al.", "Tversky (1977)"
_NAMES_PERSON = re.compile(r"\bet al\b|\b[A-Z][a-z]+ [(\[]\d{4}")
_ASKS_REASON = re.compile(
    r"^\s*(?:why|how come)\b|\bwhat (?:is|was|are) the reason\b|\bwhy (?:do|does|did|is|are)\b", re.I
)
_GIVES_REASON = re.compile(
    r"\b(?:because|due to|since|owing to|thanks to|as a result|leads? to|led to|caus\w+|explain\w*|reason\w*|"
    r"so that|in order to|attribut\w+|stems? from|arises?|result\w* (?:in|from))\b",
    re.I,
)


def names_apart(question: Question, texts: Sequence[str]) -> bool:
    """A question about one paper whose names no single paper holds together: "GPU" in one paper
    and "TopNets" in another do not answer "Which GPUs trained TopNets?"."""
    names = question.named
    return len(names) >= 2 and not question.several and not any(names_all(names, t) for t in texts)


def missing_subject(question: Question, texts: Sequence[str]) -> bool:
    """The subject of a "what is X" question when no two neighbouring words of it appear
    together (next to each other or one word apart) in the top papers: the collection knows
    "decoding" and "draft models" but not speculative decoding. One-word subjects are left to
    the other checks, and so is a property of something the papers know ("X's Y")."""
    words = question.subject
    subject_tokens = tokens(" ".join(w.removesuffix("'s") for w in words))
    if len(words) < 2 or len(subject_tokens) < 2:
        return False
    haystack = " ".join(tokens(" ".join(texts)))
    owner = next((w.removesuffix("'s") for w in words if w.endswith("'s")), None)
    if owner and re.search(rf"\b{' '.join(map(re.escape, tokens(owner)))}\b", haystack):
        return False  # "GENNAPE's pretraining benchmark" is about GENNAPE, which the papers know
    near = r"s? (?:[a-z0-9]+ )?"  # a plural, and at most one word between
    return not any(
        re.search(rf"\b{re.escape(singular(first))}{near}{re.escape(singular(second))}s?\b", haystack)
        for first, second in zip(subject_tokens, subject_tokens[1:], strict=False)
    )


def features(
    question: Question, evidence: Evidence, stats: TermStatistics, answers: Sequence[tuple[float, int, int]] = ()
) -> dict[str, float]:
    """The evidence as numbers. `answers` are the answer-bearing sentence model's (score, paper,
    sentence) candidates (rag.evidence.answer_candidates)."""
    retrieval = evidence.retrieval
    if not retrieval.papers or not evidence.papers:
        return dict.fromkeys(FEATURES, 0.0)
    hits = retrieval.papers
    best = evidence.papers[0]
    texts = [p.text for p in evidence.papers]
    best_sims = best.sims if len(best.sims) else np.zeros(1)
    all_sims = np.concatenate([p.sims for p in evidence.papers if len(p.sims)] or [np.zeros(1)])
    top_sentences = [best.sentences[i] for i in np.argsort(-best_sims)[:TOP_SENTENCES]] if best.sentences else []
    weights = {t: stats.idf(t) for t in question.terms}
    total = sum(weights.values()) or 1.0

    def cover(text: str) -> float:
        present = content_terms(text)
        return sum(w for t, w in weights.items() if t in present) / total if weights else 0.0

    def best_of(sims: Sequence[np.ndarray[Any, Any]]) -> float:
        return max((float(np.max(s)) for s in sims if len(s)), default=0.0)

    parts = [best_of([p.part_sims[k] for p in evidence.papers]) for k in range(len(best.part_sims))]
    phrases = [best_of([p.phrase_sims[k] for p in evidence.papers]) for k in range(len(best.phrase_sims))]
    about = [t for t in texts if names_all(question.named, t)] or texts
    fused = [p.fused for p in hits]
    ranks = [r for r in (hits[0].dense_rank, hits[0].lexical_rank) if r is not None]
    both = len(ranks) == 2
    asks_reason = _ASKS_REASON.search(question.read_as) is not None
    return {
        "dense": hits[0].dense,
        "sentence_top": float(np.max(all_sims)),
        "parts_min": min(parts) if parts else float(np.max(all_sims)),
        "fused_gap": fused[0] - fused[1] if len(fused) > 1 else fused[0],
        "agreement": 1.0 if both and max(ranks) <= 3 else 0.5 if both and max(ranks) <= 10 else 0.0,
        "phrase_min_any": min(phrases, default=0.5),
        "terms": max(cover(t) for t in texts),
        "names_missing": min(1.0, len(missing_names(question.named, texts)) / 2),
        "names_apart": float(names_apart(question, texts)),
        "unknown_words": min(1.0, len(stats.unknown_words(question.read_as)) / 2),
        "subject_missing": float(missing_subject(question, texts)),
        "quantity_missing": float(question.quantity and not any(holds_number(s) for s in top_sentences)),
        "person_missing": float(question.person and not any(_NAMES_PERSON.search(t) for t in about)),
        "reason_missing": float(asks_reason and not any(_GIVES_REASON.search(s) for s in top_sentences)),
        "answer_score_best": _sigmoid(max((a[0] for a in answers if a[1] == 0), default=-10.0)),
        # left out when there is no alignment: the decision then reads a fit without them (`Models`)
        **(evidence.alignment.features() if evidence.alignment is not None else {}),
        **(evidence.joint.features() if evidence.joint is not None else {}),
    }


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


FEATURES = (
    "dense",
    "sentence_top",
    "parts_min",
    "fused_gap",
    "agreement",
    "phrase_min_any",
    "terms",
    "names_missing",
    "names_apart",
    "unknown_words",
    "subject_missing",
    "quantity_missing",
    "person_missing",
    "reason_missing",
    "answer_score_best",
    *ALIGNMENT_FEATURES,
    *JOINT_FEATURES,
)
# what an embedder that gives one vector a text (a remote server) cannot give
WITHOUT_WORDS = tuple(f for f in FEATURES if f not in ALIGNMENT_FEATURES and f not in JOINT_FEATURES)
# the features that, when set, name why a question was refused
_REASONS = {
    "names_missing": "a name the top papers do not mention",
    "names_apart": "names no one paper holds together",
    "subject_missing": "its subject",
    "unknown_words": "a word the collection does not use",
    "quantity_missing": "a number",
    "person_missing": "a person's name",
    "reason_missing": "a reason",
}


@dataclass(frozen=True)
class Models:
    """The decision fitted twice on the same pool (rag/params/fit_answerability.py): reading the
    question's words matched in context (rag.alignment) and the question read beside the best
    paper (rag.joint), and without them, for evidence that lacks either (an embedder that gives
    one vector a text, such as a remote server, or a question of asking words alone). Reading
    the missing features as their pool mean instead, the first fit refused "What is grokking?"
    through a remote embedder with the Grokking paper present: its other weights had been
    fitted beside the alignment."""

    words: LinearModel
    without_words: LinearModel

    def for_evidence(self, evidence: Evidence) -> LinearModel:
        return self.words if evidence.alignment is not None and evidence.joint is not None else self.without_words

    @classmethod
    def neutral(cls) -> Models:
        """Models that read the features and decide nothing: for computing features to fit on."""
        return cls(LinearModel.neutral(FEATURES), LinearModel.neutral(WITHOUT_WORDS))


def load_models(words: Path = PARAMS, without_words: Path = PARAMS_WITHOUT_WORDS) -> Models:
    return Models(load(words), load(without_words))


def contradiction(
    question: Question, evidence: Evidence, answers: Sequence[tuple[float, int, int]]
) -> tuple[str, str] | None:
    """(paper id, sentence) when the best paper's likeliest answer says the opposite of what a "why"
    question takes as given ("Why is GELU worse than ReLU?" against "... find performance
    improvements across all ..."). On the pool (1,197 questions, leave one set out) it flags 12
    questions, all false premises, 7 of which the model answered: refusal 0.543 -> 0.559 at false
    refusal 0.043 with session 16's sentence model, 0.557 at 0.045 with session 17's
    (/tmp/s17/premise.py, docs/decisions.md)."""
    if not question.premise or not evidence.papers:
        return None
    best = evidence.papers[0]
    at = next((i for _, paper, i in answers if paper == 0), None)
    if at is None or at >= len(best.sentences):
        return None
    sentence = best.sentences[at]
    return (best.paper.paper_id, sentence) if stated_direction(sentence) == -question.premise else None


def decide(
    question: Question,
    evidence: Evidence,
    stats: TermStatistics,
    models: Models,
    answers: Sequence[tuple[float, int, int]] = (),
) -> Coverage:
    """Answer or refuse, with the probability and every feature behind it."""
    values = features(question, evidence, stats, answers)
    if not evidence.papers:
        return Coverage(False, 0.0, values, ("any paper",))
    model = models.for_evidence(evidence)
    probability = model.probability(values)
    covered = probability >= model.threshold
    contradicted = contradiction(question, evidence, answers)
    missing: tuple[str, ...] = ()
    if contradicted is not None:
        return Coverage(False, probability, values, (), contradicted)
    if not covered:
        names = tuple(missing_names(question.named, [p.text for p in evidence.papers]))
        missing = names or tuple(why for name, why in _REASONS.items() if values.get(name, 0.0) >= 0.5)
    return Coverage(covered, probability, values, missing)
