"""Choosing the evidence: which retrieved papers are sources, and which of their sentences
answer. Pure functions of the question, the retrieval and the sentences: no store, no model.

- `relevant`: the papers close enough to the best one to count as sources; for a question
  about several papers, chosen by MMR so near-duplicates do not crowd others out.
- `rank_sentences`: a paper's sentences, best first, each chosen for what it adds.
- `pick_sentences`: the `n` best, plus one holding the kind of answer asked for, plus the best
  one for each part of a question that asks two things.
- `quote_counts`: how many sentences each source gets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.alignment import Alignment
from rag.corpus import Paper
from rag.joint import JointRead
from rag.linear import LinearModel
from rag.question import Question
from rag.retrieval import PaperHit, Retrieval, mmr
from rag.text import NUMBER, TermStatistics, content_terms, holds_number, introduces_name, names_all, names_other

SEVERAL_LIMIT = 5
_COVERAGE_WEIGHT = 1.0  # of question terms a quoted sentence adds, against its cosine (see rank_sentences)

Vector = np.ndarray[Any, Any]


@dataclass(frozen=True)
class PaperEvidence:
    """One top paper as the later stages read it: its sentences, and how each matches the
    question, each part of it, what it asks about, and each of its phrases."""

    hit: PaperHit
    paper: Paper
    sentences: list[str]
    vectors: Vector
    sims: Vector  # the question's cosine to each sentence
    part_sims: list[Vector] = field(default_factory=list)  # per part of a question asking several things
    asked_sims: Vector | None = None  # per sentence, to what a "which X" question asks about
    phrase_sims: list[Vector] = field(default_factory=list)  # per phrase of the question
    # per sentence, to the part of the question its paper's topic does not explain (see `topic_sims`)
    residual_sims: Vector | None = None
    centrality: Vector | None = None  # per sentence, its cosine to the paper's mean sentence

    @property
    def text(self) -> str:
        return f"{self.paper.title} {self.paper.abstract}"


@dataclass(frozen=True)
class Evidence:
    """What the decisions read: the retrieval, and its top papers in detail (best first)."""

    retrieval: Retrieval
    papers: list[PaperEvidence]
    # the question's words matched to the best paper's (None: no content word, or an embedder
    # that gives no word vectors, such as a remote server)
    alignment: Alignment | None = None
    # the question read beside the best paper (None: an embedder that cannot read a pair)
    joint: JointRead | None = None


@dataclass(frozen=True)
class SeveralSources:
    """Which of a topic's candidates a several-paper answer cites: those whose membership
    probability reaches `membership`, at most `max_sources` (rag/params/fit_several.py)."""

    membership: float
    max_sources: int

    def choose(self, candidates: Sequence[tuple[PaperHit, float]]) -> list[PaperHit]:
        """`candidates` most likely first, as rag.summary.Summarizer.papers_on gives them."""
        return [hit for hit, p in candidates if p >= self.membership][: self.max_sources]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SeveralSources:
        return cls(float(data["threshold"]), int(data["max_sources"]))


def topic_sims(question: Vector, vectors: Vector) -> tuple[Vector, Vector]:
    """Per sentence: its cosine to what the question asks beyond the paper's topic (the question's
    vector less its projection on the paper's mean sentence), and its cosine to that mean.

    A sentence that only restates the paper's topic matches a question that names the paper by
    its topic; the sentence that answers matches what is left."""
    centre = vectors.mean(axis=0)
    centre = centre / (np.linalg.norm(centre) or 1.0)
    rest = question - float(question @ centre) * centre
    rest = rest / (np.linalg.norm(rest) or 1.0)
    return vectors @ rest, vectors @ centre


def relevant(
    question: Question,
    retrieval: Retrieval,
    papers: Mapping[str, Paper],
    single_margin: float,
    several_margin: float,
    several_sentence_margin: float,
    max_sources: int,
) -> list[PaperHit]:
    """The retrieved papers that count as sources. `papers` holds the candidates' records."""
    if not retrieval.papers:
        return []
    # for several papers the fused dense + lexical score decides, since the sentence rerank
    # is tuned to put the one best paper first; a best sentence nearly as close as the best
    # paper's also counts, for papers whose chunks say it in other words
    if question.several:
        # close to the best, or naming what the question names ("Which papers use CBCT?")
        floor = max(p.fused for p in retrieval.papers) - several_margin
        sentence_floor = max(p.sentence for p in retrieval.candidates) - several_sentence_margin

        def named_in(hit: PaperHit) -> bool:
            paper = papers.get(hit.paper_id)
            return (
                bool(question.named)
                and paper is not None
                and names_all(question.named, f"{paper.title} {paper.abstract}")
            )

        close = [p for p in retrieval.candidates if p.fused >= floor or p.sentence >= sentence_floor or named_in(p)]
        return mmr(close, SEVERAL_LIMIT)
    floor = retrieval.papers[0].score - single_margin
    return [p for p in retrieval.candidates if p.score >= floor][:max_sources]


def rank_sentences(
    terms: frozenset[str] | set[str], vector: Vector, sentence_terms: Sequence[set[str]], vectors: Vector
) -> list[int]:
    """The indices of a paper's sentences, best first, each chosen for what it adds to those
    before it.

    One at a time: cosine to the question plus the share of the question's `terms` the sentence
    adds to those already chosen. A question in two parts ("how does X represent light, and how
    long does training take?") gets a sentence for each part near the top instead of three
    paraphrases of the first. On dev this lifted answer-fact accuracy from 0.77 to 0.87; any
    weight from 1 to 3 gives the same.
    """
    sims = vectors @ vector
    shared = [s & terms for s in sentence_terms]
    ranked: list[int] = []
    covered: set[str] = set()

    def gain(i: int) -> float:
        return float(sims[i]) + _COVERAGE_WEIGHT * len(shared[i] - covered) / max(1, len(terms))

    while len(ranked) < len(sentence_terms):
        best = max((i for i in range(len(sentence_terms)) if i not in ranked), key=gain)
        ranked.append(best)
        covered |= shared[best]
    return ranked


def pick_sentences(
    question: Question, ranked: Sequence[int], sentences: Sequence[str], n: int, part_picks: Sequence[int] = ()
) -> list[int]:
    """The indices of the `n` best-ranked sentences (see `rank_sentences`), in abstract order, with
    - for a question about several papers, the sentence in which the paper names its own
      contribution ("we present our predictor FLAN") in place of the last one, so that an
      answer comparing approaches names each of them;
    - one more if none holds the kind of answer the question asks for: a number for "how
      many", a name the question does not use for "which method";
    - for a question asking several things, `part_picks`: each part's best sentence.
    On dev none of these changed the figures; on the opened held-out sets each lifted answer
    facts by 0.03-0.08."""
    chosen, rest = list(ranked[:n]), list(ranked[n:])
    asked = question.named
    if question.several and n > 1 and not any(introduces_name(sentences[i], asked) for i in chosen):
        introducing = [i for i in rest if introduces_name(sentences[i], asked)][:1]
        if introducing:
            chosen = chosen[:-1] + introducing
    if question.quantity and not any(holds_number(sentences[i]) for i in chosen):
        chosen += [i for i in rest if holds_number(sentences[i])][:1]
    elif question.name and not any(names_other(sentences[i], asked) for i in chosen):
        chosen += [i for i in rest if names_other(sentences[i], asked)][:1]
    for best in part_picks:
        if best not in chosen:
            chosen.append(best)
    return sorted(chosen)


def quote_counts(n_sources: int, several: bool, quote_sentences: int) -> list[int]:
    """Sentences quoted from each source: the best source's `quote_sentences`, then the single
    best sentence of each other. A question about several papers has no best source: each
    gets two."""
    if several:
        return [2] * n_sources
    return [quote_sentences] + [1] * (n_sources - 1) if n_sources else []


# ---- the answer-bearing sentence ------------------------------------------------------------

ANSWER_PAPERS = 2  # the lead is looked for in the two best papers: the right one is second at times
# how an abstract gives a reason, and names people
_GIVES_REASON = re.compile(
    r"\b(?:because|due to|since|owing to|thanks to|as a result|leads? to|led to|caus\w+|explain\w*|reason\w*|"
    r"so that|in order to|attribut\w+|stems? from|arises?|result\w* (?:in|from))\b",
    re.I,
)
_ASKS_REASON = re.compile(r"^\s*(?:why|how come)\b|\bthe reason\b", re.I)
_NAMES_PERSON = re.compile(r"\bet al\b|\b[A-Z][a-z]+ [(\[]\d{4}")
# a yes-or-no question is answered by what the paper found ("We show that ...", "Results indicate")
_ASKS_YES_NO = re.compile(r"^\s*(?:do|does|did|can|could|is|are|was|were|will|would|should|has|have|may|might)\b", re.I)
_STATES_FINDING = re.compile(
    r"\b(?:we|our \w+|results?|experiments?|evaluations?|analys[ie]s|findings?|it is)\s+(?:\w+\s+){0,3}"
    r"(?:show|find|found|demonstrate|conclude|observe|prove|reveal|indicate|suggest|confirm|possible)\w*\b",
    re.I,
)
# a "how is it done" question is answered by the means: "by coupling", "using three operations"
_ASKS_MEANS = re.compile(r"^\s*how\s+(?:is|are|do|does|did|can|could|was|were)\b", re.I)
_GIVES_MEANS = re.compile(
    r"\b(?:by \w+ing|using|via|through|composition of|consists? of|compris\w+|based on|relies on)\b", re.I
)
# an amount in words or with a magnitude: "four", "eleven", "600k", "1.1B", "a dozen"
_QUANTITY = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|fifty|hundred|"
    r"thousand|million|billion|dozens?|\d+(?:\.\d+)?\s?[kKMBG])\b"
)

# how an abstract introduces what it names: "(X)", "we propose ... X" (within five words), "called
# X", "known as 'X'"; not the adjective ("our proposed X", "the proposed X" only name it)
_INTRODUCING = (
    r"(?<!our )(?<!the )(?<!this )\b(?:propos|introduc|present|develop|call|term|dub|nam|known\s+as|build|design)"
    r"\w*\s+(?:\S+\s+){0,5}?[\"'\u201c\u2018]?"
)
# and how it describes it: "X is / are / refers to", "X, a ...", "X (", "X: ..."
_DEFINING_VERB = r"\W{0,2}\s+(?:is|are|refers|denotes|means|consists|describes|represents)\b"
INTRODUCES, DESCRIBES, NAMES = 1.0, 0.75, 0.5


def defines(sentence: str, thing: str) -> float:
    """How `sentence` defines `thing`: INTRODUCES ("DeepONets" in "We propose deep operator
    networks (DeepONets) to ..."), DESCRIBES ("QZO is orthogonal to ..."), NAMES, or 0. An
    introduction answers "what is X?" where a description often says something else of X: on the
    opened short sets, "SalUn is the first principled MU approach ..." led where "the resultant
    method that we call saliency unlearning (SalUn) ..." holds the answer (session 18)."""
    if not thing:
        return 0.0
    text = sentence.lower()
    name = re.escape(thing.lower()).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[\s-]?")
    name = rf"{name[:-1]}s?" if thing.lower().endswith("s") else rf"{name}(?:e?s)?"  # one or many
    alone = rf"(?<![a-z0-9]){name}"
    if not re.search(rf"{alone}(?![a-z0-9])", text):
        return 0.0
    if re.search(rf"\({name}\)", text) or re.search(rf"{_INTRODUCING}{name}(?![a-z0-9])", text):
        return INTRODUCES
    describing = (rf"{alone}{_DEFINING_VERB}", rf"{alone}\s*(?:,|\(|\s[-\u2013\u2014]\s|:)")
    return DESCRIBES if any(re.search(p, text) for p in describing) else NAMES


# the matches a sentence is ranked by among all the candidates of its question
RANKED = ("cos_rank", "term_cover_rank", "asked_cos_rank", "part_cos_rank", "phrase_cos_rank")

SENTENCE_FEATURES = (
    "cos",
    "cos_gap",
    "part_cos",
    "asked_cos",
    "phrase_cos",
    "term_cover",
    "novelty",
    "asked_in",
    "number",
    "quantity_number",
    "number_near_asked",
    "names_other",
    "name_names_other",
    "introduces",
    "person",
    "reason",
    "first",
    "last",
    "position",
    "words",
    "paper_rank",
    "paper_gap",
    # a which-paper question is answered by the sentence that introduces the paper's contribution
    "paper_names_other",
    "paper_introduces",
    "paper_first",
    # the sentence among the others (rag.evidence.in_context): its neighbours' match to the
    # question, and where it ranks by each match. `python -m rag.params.fit_sentences --report`,
    # leave one set out: the top sentence held a fact in 0.616 of the pool's questions with these
    # and the three above, 0.587 without; no set fell
    "prev_cos",
    "next_cos",
    *RANKED,
    # what tells the answer from a sentence that restates the paper's topic (session 12): the
    # match to what the question asks beyond that topic, the match to the topic itself, the
    # question's terms weighted by how few of the paper's sentences hold them, and what a kind of
    # question is answered by (an amount in words, a finding, a means). Leave one set out over
    # the pool's 542 questions: 0.629 with these six, 0.616 without; 7 sets rose, 1 fell (dev)
    "residual_cos",
    "centrality",
    "local_cover",
    "quantity_word",
    "yes_no_finding",
    "means",
    # whether it defines what a "what is X?" question asks (session 17): fitted on the pool alone,
    # leave one set out 0.707 -> 0.716 over its 525 trainable questions (docs/decisions.md)
    "defines",
)


def sentence_features(
    question: Question,
    paper: PaperEvidence,
    i: int,
    rank: int,
    gap: float,
    stats: TermStatistics,
    spread: Mapping[str, int] | None = None,
) -> dict[str, float]:
    """What makes sentence `i` of `paper` the one that answers: its match to the question and to
    each part and phrase of it, the words it adds, whether it holds what is asked (a number for
    "how many", a name for "which"), where it stands, and how good its paper is."""
    sentence = paper.sentences[i]
    n = len(paper.sentences)
    words = content_terms(sentence)
    weights = {t: stats.idf(t) for t in question.terms}
    total = sum(weights.values()) or 1.0
    asked = content_terms(question.asked)
    cos = float(paper.sims[i])
    near_asked = False
    if asked and question.quantity:
        tokens = sentence.lower().split()
        spots = [k for k, w in enumerate(tokens) if NUMBER.search(w)]
        near_asked = any(content_terms(" ".join(tokens[max(0, k - 4) : k + 5])) & asked for k in spots)
    return {
        "cos": cos,
        "cos_gap": cos - float(np.max(paper.sims)),
        "part_cos": min((float(s[i]) for s in paper.part_sims), default=cos),
        "asked_cos": float(paper.asked_sims[i]) if paper.asked_sims is not None else 0.0,
        "phrase_cos": float(np.mean([s[i] for s in paper.phrase_sims])) if paper.phrase_sims else 0.0,
        "term_cover": sum(w for t, w in weights.items() if t in words) / total if weights else 0.0,
        "novelty": len(words - question.terms) / max(1, len(words)),
        "asked_in": float(bool(asked & words)),
        "number": float(holds_number(sentence)),
        "quantity_number": float(question.quantity and holds_number(sentence)),
        "number_near_asked": float(near_asked),
        "names_other": float(names_other(sentence, question.named)),
        "name_names_other": float(question.name and names_other(sentence, question.named)),
        "introduces": float(introduces_name(sentence, question.named)),
        "person": float(question.person and _NAMES_PERSON.search(sentence) is not None),
        "reason": float(
            _ASKS_REASON.search(question.read_as) is not None and _GIVES_REASON.search(sentence) is not None
        ),
        "first": float(i == 0),
        "last": float(i == n - 1),
        "position": i / max(1, n - 1),
        "words": min(1.0, len(sentence.split()) / 50),
        "paper_rank": float(rank),
        "paper_gap": gap,
        "paper_names_other": float(question.paper and names_other(sentence, question.named)),
        "paper_introduces": float(question.paper and introduces_name(sentence, question.named)),
        "paper_first": float(question.paper and i == 0),
        "residual_cos": float(paper.residual_sims[i]) if paper.residual_sims is not None else cos,
        "centrality": float(paper.centrality[i]) if paper.centrality is not None else 0.0,
        "local_cover": _local_cover(weights, words, spread or {}),
        "quantity_word": float(question.quantity and _QUANTITY.search(sentence) is not None),
        "yes_no_finding": float(
            _ASKS_YES_NO.search(question.read_as) is not None and _STATES_FINDING.search(sentence) is not None
        ),
        "means": float(_ASKS_MEANS.search(question.read_as) is not None and _GIVES_MEANS.search(sentence) is not None),
        "defines": defines(sentence, question.defined),
    }


def _local_cover(weights: Mapping[str, float], words: set[str], spread: Mapping[str, int]) -> float:
    """The share of the question's terms the sentence holds, of those its paper holds, each
    weighted by its idf over the number of the paper's sentences holding it: a term in every
    sentence names the paper's topic, one in a single sentence is likely what is asked."""
    local = {t: w / spread[t] for t, w in weights.items() if spread.get(t)}
    total = sum(local.values())
    return sum(w for t, w in local.items() if t in words) / total if total else 0.0


def term_spread(sentences: Sequence[str]) -> dict[str, int]:
    """How many of the sentences hold each term."""
    spread: dict[str, int] = {}
    for sentence in sentences:
        for term in content_terms(sentence):
            spread[term] = spread.get(term, 0) + 1
    return spread


def in_context(candidates: Sequence[tuple[int, int, dict[str, float]]]) -> None:
    """Add to each (paper, sentence, features) candidate of one question what depends on the
    others: the cosine of the sentences before and after it in its abstract (0 at an end), and
    its rank among all the candidates by each match in `RANKED` (0: the best)."""
    cos = {(paper, i): f["cos"] for paper, i, f in candidates}
    values = {name: np.array([f[name.removesuffix("_rank")] for _, _, f in candidates]) for name in RANKED}
    for k, (paper, i, features) in enumerate(candidates):
        features["prev_cos"] = cos.get((paper, i - 1), 0.0)
        features["next_cos"] = cos.get((paper, i + 1), 0.0)
        for name, v in values.items():
            features[name] = float((v > v[k]).sum())


def candidate_features(
    question: Question, evidence: Evidence, stats: TermStatistics
) -> list[tuple[int, int, dict[str, float]]]:
    """(paper rank, sentence, features) for every sentence of the best papers: what the
    answer-bearing sentence model reads, here and when it is fitted (rag.params.fitting)."""
    papers = evidence.papers[:ANSWER_PAPERS]
    if not papers:
        return []
    top = papers[0].hit.fused
    spreads = [term_spread(paper.sentences) for paper in papers]
    candidates = [
        (rank, i, sentence_features(question, paper, i, rank, top - paper.hit.fused, stats, spreads[rank]))
        for rank, paper in enumerate(papers)
        for i in range(len(paper.sentences))
    ]
    in_context(candidates)
    return candidates


def answer_candidates(
    question: Question, evidence: Evidence, stats: TermStatistics, model: LinearModel
) -> list[tuple[float, int, int]]:
    """(score, paper, sentence) for every sentence of the best papers, the most likely answer first
    (for a "what is X?" question, the likeliest sentence of the best paper that defines X)."""
    features = candidate_features(question, evidence, stats)
    scored = [(model.margin(f), rank, i) for rank, i, f in features]
    order = sorted(range(len(scored)), key=lambda k: (-scored[k][0], scored[k][1], scored[k][2]))
    order = definition_first(order, [rank for rank, _, _ in features], [f["defines"] for _, _, f in features])
    return [scored[k] for k in order]


def definition_first(order: list[int], papers: Sequence[int], defines: Sequence[float]) -> list[int]:
    """`order` (candidate indices, likeliest first) with the likeliest candidate that defines what
    a "what is X?" question asks moved to the front, if it is of the first candidate's paper: one
    that introduces X if there is one, else one that describes it (`defines`). The fitted weight
    of `defines` is small (83 such questions among the pool's 525), and a sentence that says what
    X is answers "what is X?" whatever else matches better. Leave one set out over the pool:
    first sentence 0.716 -> 0.730 (short-sa 0.65 -> 0.71, short-sb 0.53 -> 0.68, no set lower);
    def-da/db 0.42 -> 0.58 and 0.34 -> 0.38 (/tmp/s17/defrule.py). Introductions first (session
    18): the pool's one-paper questions 0.613 -> 0.633, def-da/db 0.56 -> 0.74 and 0.40 -> 0.52
    (`python -m rag.params.fit_sentences --report`, docs/decisions.md)."""
    if not order:
        return order
    # an introduction of X before a description of it (session 18)
    own = [k for k in order if papers[k] == papers[order[0]] and defines[k] >= DESCRIBES]
    level = max((defines[k] for k in own), default=0.0)
    best = next((k for k in own if defines[k] == level), None)
    return order if best is None else [best, *(k for k in order if k != best)]


# ---- what the answer shows --------------------------------------------------------------------

QUOTES = 2  # supporting quotes under the lead, at most (how many words they may add: RAG_MAX_WORDS)
_LONG = 30  # words: a longer sentence is cut to the clause that answers
_CLAUSE = re.compile(r";\s+|,\s+(?=(?:while|whereas|but|thus|which in turn|and thus)\b)|\s+--?\s+|\s+—\s+")


@dataclass(frozen=True)
class Pick:
    """A sentence chosen for the answer: as shown (perhaps cut to a clause), and whose it is."""

    paper_id: str
    text: str
    sentence: str  # the abstract's sentence it is taken from


def answering_clause(sentence: str, question: Question) -> str:
    """A long sentence cut to the clause that answers: the one sharing most with the question
    and holding what it asks for (a number for "how many", a new name for "which"). Cut only
    where the sentence itself joins clauses ("; ", ", while "), so the clause is verbatim."""
    if len(sentence.split()) <= _LONG:
        return sentence
    pieces = [p.strip() for p in _CLAUSE.split(sentence) if p.strip()]
    if len(pieces) < 2:
        return sentence
    asked = content_terms(question.asked)

    def value(piece: str) -> float:
        words = content_terms(piece)
        return (
            len(words & question.terms)
            + 2 * len(words & asked)
            + (2 if question.quantity and holds_number(piece) else 0)
            + (1 if question.name and names_other(piece, question.named) else 0)
        )

    best = max(pieces, key=value)
    if len(best.split()) < 8 or value(best) == 0:
        return sentence
    best = best[0].upper() + best[1:]
    return best if best.endswith((".", "!", "?")) else best.rstrip(",;:") + "."


def compose(
    question: Question, evidence: Evidence, candidates: Sequence[tuple[float, int, int]], sources: Sequence[str]
) -> tuple[Pick | None, list[Pick]]:
    """The lead (the sentence most likely to hold the answer, cut to its clause) and at most
    `QUOTES` supporting quotes, the most likely first (rag.render.within keeps those that fit). `sources`
    are the ids of the papers the answer may cite. A question about several papers gets no
    sentence lead (the answer opens with their titles): its quotes are each paper's best
    sentence."""
    papers = {p.paper.paper_id: p for p in evidence.papers}
    ranked = [
        (evidence.papers[rank].paper.paper_id, evidence.papers[rank].sentences[i])
        for _, rank, i in candidates
        if evidence.papers[rank].paper.paper_id in sources or (rank == 0 and not question.several)
    ]
    if question.several:
        firsts: dict[str, str] = {}
        for pid, sentence in ranked:
            firsts.setdefault(pid, sentence)
        return None, [Pick(pid, answering_clause(s, question), s) for pid, s in firsts.items()][:QUOTES]
    if not ranked:
        return None, []
    pid, sentence = ranked[0]
    lead = Pick(pid, answering_clause(sentence, question), sentence)
    quotes: list[Pick] = []
    for pid, sentence in ranked[1:]:
        if len(quotes) == QUOTES:
            break
        if sentence != lead.sentence and pid in papers:
            quotes.append(Pick(pid, answering_clause(sentence, question), sentence))
    return lead, quotes
