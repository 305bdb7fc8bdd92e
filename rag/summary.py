"""Grounded summaries of a topic or of chosen papers: every paper on the topic, one cited line each.

1. The topic, from any phrasing: "Summarize X", "Give me an overview of X", "What does the
   collection cover on X?", "the work on X", a bare topic (rag.question.summary_request).
2. Candidates, recall first: retrieval for the topic as asked, for its head and its parts, and
   for the topic with the words its best papers share added (pseudo-relevance feedback).
3. Membership, judged paper by paper on sentence-level evidence (the topic's cosine to each
   sentence, how much of the paper is on it, its title, its words): a logistic regression fitted
   on 60 blind-written topics with complete gold lists (`python -m rag.params.fit_membership`,
   grouped by topic), shipped as rag/params/membership.json. No paper passing means the
   collection lacks the topic, and the summary says so.
4. The structure: a line that counts the matching papers; groups found by clustering them, each
   titled with a phrase its papers share; for each paper the sentence that states its own
   contribution, cited, or the model's one-line key point where it passes the support check.
5. `--json` gives the matched papers with the evidence for each and the near misses left out,
   with the reason.
"""

from __future__ import annotations

import difflib
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.alignment import ALIGNMENT_FEATURES, align
from rag.citations import parse_sentences
from rag.constrain import constraint_for
from rag.corpus import Paper
from rag.embedding import Embedder
from rag.errors import NotFoundError, QuestionError
from rag.evidence import answering_clause
from rag.generation import Generator, guard_repetition
from rag.linear import LinearModel
from rag.prompts import load_template
from rag.question import Question, analyse, topic_phrase
from rag.retrieval import PaperHit, Retriever
from rag.settings import Settings
from rag.support import SupportChecker
from rag.text import STOP, TermStatistics, content_terms, introduces_name, missing_names, named_terms
from rag.types import Answer, AnswerSentence, Citation, Source

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (done, total, title)
Vector = np.ndarray[Any, Any]

_QUOTED = re.compile(r"""['"‘“]([^'"’”]{12,300})['"’”]""")
_PARTS = re.compile(r"\s+(?:and|or|vs\.?|versus)\s+|\s*[,/;]\s*", re.IGNORECASE)
PRF_PAPERS = 3  # the best papers whose shared words extend the topic (pseudo-relevance feedback)
PRF_TERMS = 4  # and how many of their words
NEAR_MISSES = 8  # papers left out that --json lists with their reason
_RELATIVE = ("sentence_max", "sentence_top3", "title_cos", "chunk", "term_cover", "prf")
MEMBERSHIP_FEATURES = (
    "sentence_max",
    "sentence_top3",
    "sentence_share",
    "title_cos",
    "chunk",
    "lexical",
    "term_cover",
    "title_terms",
    "names_ok",
    "rank",
    "gap",
    "prf",
    "queries",
    "contribution_cos",
    # each of these against the topic's other candidates: how a paper stands among them matters more
    # than its raw score, which varies from topic to topic (precision 0.76 -> 0.86 in cross-validation)
    *(f"{f}_{k}" for f in _RELATIVE for k in ("rel", "z")),
)
# the topic's words matched one by one to each candidate's title and sentences (rag.alignment),
# raw and against the other candidates. Measured, not read by the shipped membership: grouped
# cross-validation on the topic sets gained coverage (0.762 -> 0.802 at precision 0.851 -> 0.830),
# but dev2's summaries lost some (0.735 -> 0.670) and a blind set did not gain (docs/decisions.md).
# `python -m rag.params.fit_membership --words` reports that fit again.
WORD_FEATURES = tuple(f"{f}{k}" for f in ALIGNMENT_FEATURES for k in ("", "_rel", "_z"))


@dataclass
class Group:
    label: str
    points: list[AnswerSentence] = field(default_factory=list)


@dataclass
class Summary:
    topic: str
    mode: str
    model: str
    refused: bool = False
    message: str = ""
    sources: list[Source] = field(default_factory=list)
    overview: list[AnswerSentence] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    matched: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[dict[str, Any]] = field(default_factory=list)
    unsupported_sentences: int = 0
    prompts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def sentences(self) -> list[AnswerSentence]:
        return self.overview + [p for g in self.groups for p in g.points]

    @property
    def citations(self) -> list[Citation]:
        by_n = {s.n: s for s in self.sources}
        cited = sorted({n for s in self.sentences for n in s.citations if n in by_n})
        out = []
        for n in cited:
            point = next((s.text for g in self.groups for s in g.points if n in s.citations), "")
            out.append(Citation(n, by_n[n].title, by_n[n].paper_id, point))
        return out

    def markdown(self) -> str:
        if self.refused:
            return self.message
        lines = [" ".join(_render(s) for s in self.overview)]
        for group in self.groups:
            lines += ["", f"**{group.label}**"]
            lines += [f"- {_render(p)}" for p in group.points]
        beyond = [m["title"] for m in self.left_out if m["reason"].startswith("beyond")]
        if beyond:
            lines += ["", "Also matching, beyond the summary's paper budget: " + "; ".join(beyond)]
        lines += ["", "**Sources**"]
        lines += [f"{s.n}. {s.title}" for s in self.sources]
        return "\n".join(lines).strip()

    def as_answer(self) -> Answer:
        """The summary as a chat answer: its Markdown, citations and refusal flag."""
        return Answer(
            self.topic,
            self.markdown(),
            self.refused,
            self.mode,
            self.model,
            ",".join(self.prompts) or "summary",
            citations=self.citations,
            sentences=self.sentences,
            notes=self.notes,
            unsupported_sentences=self.unsupported_sentences,
            timings=dict(self.timings),
            kind="summary",
            evidence=self.sources,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "refused": self.refused,
            "markdown": self.markdown(),
            "sentences": [s.to_dict() for s in self.sentences],
            "citations": [c.to_dict() for c in self.citations],
            "groups": [
                {"label": g.label, "papers": sorted({n for p in g.points for n in p.citations})} for g in self.groups
            ],
            "matched": self.matched,
            "left_out": self.left_out,
            "coverage": {
                "matched": len(self.matched),
                "used": len(self.sources),
                "left_out": [m["title"] for m in self.left_out if m["reason"].startswith("beyond")],
            },
            "unsupported_sentences": self.unsupported_sentences,
            "mode": self.mode,
            "model": self.model,
            "prompts": self.prompts,
            "notes": self.notes,
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
        }


def _render(sentence: AnswerSentence) -> str:
    return sentence.rendered() + ("" if sentence.supported else " (unsupported)")


TITLE_CACHE = 5000  # title vectors a summarizer remembers: 7.7 MB at 384 float32 dimensions


@dataclass
class Candidate:
    """A paper a query proposed for the topic, and the evidence for and against it."""

    hit: PaperHit
    paper: Paper
    sentences: list[str]
    vectors: Vector
    sims: Vector  # the topic's cosine to each sentence
    features: dict[str, float] = field(default_factory=dict)
    probability: float = 0.0


def contribution(sentences: Sequence[str], sims: Vector) -> int:
    """The sentence in which a paper states its own contribution ("We propose X ..."), the one
    closest to the topic among such; else its sentence closest to the topic."""
    order = [int(i) for i in np.argsort(-sims)]
    stating = [i for i in order[:4] if introduces_name(sentences[i], ()) or _STATES.search(sentences[i])]
    return stating[0] if stating else order[0]


_STATES = re.compile(
    r"\b(?:we|this (?:paper|work|article|study))\s+(?:\w+\s+)?(?:propose|present|introduce|develop|show|study|prove)",
    re.I,
)


# a group label's words must be in at most this share of the collection's papers
# (/tmp/s17/labels.py: "Neural", "Learn", "Deep" labelled groups at 0.2, the support check's
# COMMON_SHARE)
GENERIC_SHARE = 0.1


def shared_phrase(
    texts: Sequence[str], stats: TermStatistics, avoid: frozenset[str], titles: Sequence[str] = ()
) -> str:
    """A phrase of one to three words that most of the texts share, rarest in the collection
    first: what a group's papers have in common. Words of the topic itself (`avoid`) name no group.
    With `titles` (the group's), a phrase must be in one of them or be written as a name
    ("GNNs", "NAS"): words the abstracts share in passing ("has", "yet", "instead", "takes")
    labelled a third of the groups of the opened topic sets' summaries (/tmp/s17/labels.py)."""
    in_titles = " ".join(t.lower() for t in titles)
    counts: Counter[str] = Counter()
    spelled: dict[str, Counter[str]] = {}  # how each phrase is written: "SNN", not "snn"
    for text in texts:
        words = re.findall(r"[A-Za-z][A-Za-z0-9-]*", text)
        grams: set[str] = set()
        for n in (1, 2, 3):
            for k in range(len(words) - n + 1):
                run = words[k : k + n]
                if run[0].lower() in STOP or run[-1].lower() in STOP or len(run[-1]) < 3:
                    continue
                grams.add(" ".join(run))
        for phrase in grams:
            spelled.setdefault(phrase.lower(), Counter())[phrase] += 1
        counts.update({g.lower() for g in grams})
    need = max(2, (len(texts) + 1) // 2) if len(texts) > 1 else 1

    def value(gram: str) -> float:
        terms = content_terms(gram)
        if not terms or terms <= avoid:
            return -1.0
        if titles and gram not in in_titles and not any(c.isupper() for c in written(gram)[1:]):
            return -1.0
        # a word in many of the collection's papers ("neural", "learn", "without") names no group
        if all(stats.df.get(t, 0) > GENERIC_SHARE * stats.n for t in terms):
            return -1.0
        rarity = sum(stats.idf(t) for t in terms) / len(terms)
        return counts[gram] * rarity * (1.0 + 0.3 * (len(gram.split()) - 1))

    def written(gram: str) -> str:
        return spelled[gram].most_common(1)[0][0]

    # Ties are broken by the phrase itself, never by the order of a set: that order changes
    # with each process's string hashing, and a summary must read the same run after run. Of
    # equal weight, a phrase the papers write with a capital ("GNNs") labels a group better
    # than a plain word ("prove").
    shared = sorted(g for g, c in counts.items() if c >= need)
    best = max(shared, key=lambda g: (value(g), written(g)[0].isupper()), default="")
    return written(best) if best and value(best) > 0 else ""


class Summarizer:
    """Summaries over the collection's retriever, support check and (lazily loaded) model."""

    def __init__(
        self,
        settings: Settings,
        retriever: Retriever,
        embedder: Embedder,
        stats: TermStatistics,
        support: SupportChecker,
        generator: Callable[[], Generator],
        membership: LinearModel,
    ) -> None:
        self.settings = settings
        self.retriever = retriever
        self.embedder = embedder
        self.stats = stats
        self.support = support
        self.generator = generator
        self.membership = membership  # rag/params/membership.json
        self._title_vectors: dict[str, Vector] = {}

    def title_vectors(self, ids: Sequence[str]) -> Vector:
        """The embedded titles of papers `ids`, remembered between requests: embedding the
        40-odd titles a topic proposes was most of the time of finding its members (0.65 of 0.78 s
        on the bundled corpus, this machine). At most `TITLE_CACHE` are kept."""
        # read into a local map first: another request's thread may clear the cache meanwhile
        found = {pid: v for pid in ids if (v := self._title_vectors.get(pid)) is not None}
        missing = list(dict.fromkeys(pid for pid in ids if pid not in found))
        if missing:
            vectors = self.embedder.embed([self.retriever.papers[pid].title for pid in missing])
            found.update(zip(missing, vectors, strict=True))
            if len(self._title_vectors) + len(missing) > TITLE_CACHE:
                self._title_vectors.clear()
            self._title_vectors.update(zip(missing, vectors, strict=True))
        return np.array([found[pid] for pid in ids]) if ids else np.zeros((0, 1))

    # ---- choosing the papers ----------------------------------------------------------------

    def resolve(self, identifiers: Sequence[str]) -> list[Paper]:
        """Papers by id or title (case-insensitive; a unique close title is accepted)."""
        papers = self.retriever.papers
        by_title = {p.title.casefold(): p for p in papers.values()}
        found: list[Paper] = []
        for ident in identifiers:
            key = ident.strip().strip("'\"").casefold()
            paper = papers.get(ident.strip()) or by_title.get(key)
            if paper is None:
                close = difflib.get_close_matches(key, list(by_title), n=3, cutoff=0.6)
                if len(close) == 1 and difflib.SequenceMatcher(None, key, close[0]).ratio() >= 0.9:
                    paper = by_title[close[0]]
                else:
                    near = "; ".join(f'"{by_title[c].title}"' for c in close) or "none"
                    raise NotFoundError(
                        f'no paper "{ident}" in the collection; nearest titles: {near}',
                        fix="pass an exact title or a paper id (`rag papers QUERY` finds them)",
                    )
            if paper not in found:
                found.append(paper)
        return found

    def named_in(self, request: str) -> list[Paper]:
        """Papers a request names in quotes ("Summarize the papers 'A' and 'B'"), if all resolve."""
        quoted = _QUOTED.findall(request)
        if not quoted:
            return []
        try:
            return self.resolve(quoted)
        except NotFoundError:
            return []

    def queries(self, shown: str, query: str) -> list[str]:
        """What the candidates are gathered with: the topic as asked, its head, and its parts."""
        parts = [p for p in _PARTS.split(shown) if len(content_terms(p)) >= 1] if len(shown.split()) > 2 else []
        return list(dict.fromkeys(q for q in [query, shown, *parts] if q.strip()))

    def candidates(self, shown: str, query: str, vector: Vector, words: bool = False) -> list[Candidate]:
        """Every paper any of the topic's queries proposes, with its features for membership
        (and, with `words`, the word features measured for it: WORD_FEATURES)."""
        limit = self.settings.summary.summary_candidates
        main = self.retriever.retrieve_with_vector(query, vector, limit)
        ranked = sorted(main.candidates, key=lambda p: -p.fused)[:limit]
        hits: dict[str, PaperHit] = {h.paper_id: h for h in ranked}
        found_by: Counter[str] = Counter(h.paper_id for h in ranked[:20])
        queries = self.queries(shown, query)[1:]
        prf = self._feedback(shown, [h.paper_id for h in ranked[:PRF_PAPERS]])
        if prf:
            queries.append(prf)
        for extra in queries:
            retrieval = self.retriever.retrieve(extra, limit)
            for h in sorted(retrieval.candidates, key=lambda p: -p.fused)[:20]:
                hits.setdefault(h.paper_id, h)
                found_by[h.paper_id] += 1
        ids = [pid for pid in hits if pid in self.retriever.papers]
        loaded = self.retriever.load_sentences(ids)
        chunks = self.retriever.chunk_vectors(ids)
        titles = self.title_vectors(ids)
        best = ranked[0].fused if ranked else 0.0
        rank = {h.paper_id: k for k, h in enumerate(ranked)}
        centroids = {pid: loaded[pid][1].mean(axis=0) for pid in ids if pid in loaded and len(loaded[pid][1])}
        top = [centroids[h.paper_id] for h in ranked[:PRF_PAPERS] if h.paper_id in centroids]
        center = np.mean(top, axis=0) if top else None
        lexical_max = main.lexical_max or 1.0
        terms = content_terms(shown)
        weights = {t: self.stats.idf(t) for t in terms}
        total = sum(weights.values()) or 1.0
        names = named_terms(shown)
        out = []
        for k, pid in enumerate(ids):
            if pid not in loaded:
                continue
            sentences, vectors = loaded[pid]
            self.support.remember(sentences, vectors)
            paper = self.retriever.papers[pid]
            sims = vectors @ vector if len(vectors) else np.zeros(1)
            top3 = np.sort(sims)[-3:]
            text_terms = content_terms(f"{paper.title} {paper.abstract}")
            hit = hits[pid]
            c = Candidate(hit, paper, sentences, vectors, sims)
            c.features = {
                "sentence_max": float(np.max(sims)),
                "sentence_top3": float(np.mean(top3)),
                "sentence_share": float(np.mean(sims >= 0.35)),
                "title_cos": float(titles[k] @ vector),
                "chunk": float(np.max(chunks[pid] @ vector)) if pid in chunks and len(chunks[pid]) else hit.dense,
                "lexical": hit.lexical / lexical_max if pid in rank else 0.0,
                "term_cover": sum(w for t, w in weights.items() if t in text_terms) / total if weights else 0.0,
                "title_terms": len(terms & content_terms(paper.title)) / max(1, len(terms)),
                "names_ok": float(not missing_names(names, [f"{paper.title} {paper.abstract}"])),
                "rank": min(1.0, rank.get(pid, limit) / limit),
                "gap": best - hit.fused if pid in rank else 1.0,
                "prf": float(centroids[pid] @ center / (np.linalg.norm(centroids[pid]) * np.linalg.norm(center)))
                if center is not None and pid in centroids
                else 0.0,
                "queries": found_by[pid] / (len(queries) + 1),
                "contribution_cos": float(sims[contribution(sentences, sims)]) if len(sentences) else 0.0,
            }
            out.append(c)
        relative = _RELATIVE + (ALIGNMENT_FEATURES if words and self._match_words(shown, out) else ())
        for name in relative:
            values = np.array([c.features[name] for c in out]) if out else np.zeros(1)
            for c in out:
                c.features[f"{name}_rel"] = c.features[name] - float(values.max())
                c.features[f"{name}_z"] = (c.features[name] - float(values.mean())) / (float(values.std()) + 1e-6)
        return out

    def _match_words(self, shown: str, candidates: list[Candidate]) -> bool:
        """Add the topic's word-by-word match to each candidate's title and sentences; False
        (nothing added) where the topic has no content word or the embedder gives no word
        vectors. Fast only where ingest kept the collection's (rag.words)."""
        if not candidates:
            return False
        texts = [shown] + [t for c in candidates for t in (c.paper.title, *c.sentences)]
        vectors = self.embedder.word_vectors(texts)
        if vectors is None:
            return False
        at = 1
        aligned = []
        for c in candidates:
            n = 1 + len(c.sentences)
            aligned.append(align(vectors[0], vectors[at : at + n], self.stats))
            at += n
        if all(a is None for a in aligned):
            return False
        for c, a in zip(candidates, aligned, strict=True):
            c.features.update(a.features() if a is not None else dict.fromkeys(ALIGNMENT_FEATURES, 0.0))
        return True

    def _feedback(self, shown: str, ids: Sequence[str]) -> str:
        """The topic with the rarest words its best papers share: "pruning" gains "sparsity"."""
        counts: Counter[str] = Counter()
        surface: dict[str, str] = {}
        for pid in ids:
            paper = self.retriever.papers.get(pid)
            if paper is None:
                continue
            text = f"{paper.title} {paper.abstract}"
            for word in re.findall(r"[A-Za-z][A-Za-z-]{3,}", text):
                surface.setdefault(word.lower()[:6], word.lower())
            counts.update(content_terms(text))
        topic = content_terms(shown)
        # shared by the best papers, not the topic's own, and rare in the collection (at most 12 papers)
        shared = [t for t, c in counts.items() if c >= 2 and t not in topic and self.stats.df.get(t, 0) <= 12]
        shared.sort(key=lambda t: (-counts[t], -self.stats.idf(t), t))
        words = [surface.get(t, t) for t in shared[:PRF_TERMS]]
        return f"{shown} {' '.join(words)}" if words else ""

    def match(self, shown: str, query: str, vector: Vector) -> tuple[list[Candidate], list[Candidate]]:
        """The papers on the topic, most likely first, and the near misses."""
        scored = self.candidates(shown, query, vector)
        for c in scored:
            c.probability = self.membership.probability(c.features)
        scored.sort(key=lambda c: -c.probability)
        inside = [c for c in scored if c.probability >= self.membership.threshold]
        return inside, [c for c in scored if c.probability < self.membership.threshold]

    def papers_on(self, request: Question) -> list[tuple[PaperHit, float]]:
        """The candidates for a question about several papers ("Which papers use X?"), each with
        its probability of belonging to the question's topic, most likely first, as a summary of
        that topic would score them. Which of them an answer cites: rag/params/several_sources.json."""
        shown, query = _topic(request)
        inside, near = self.match(shown, query, self.embedder.embed_one(query))
        return [(c.hit, c.probability) for c in inside + near]

    # ---- the summary ------------------------------------------------------------------------

    def summarize(
        self,
        topic: str | Question | None = None,
        paper_ids: Sequence[str] = (),
        mode: str | None = None,
        progress: Progress | None = None,
    ) -> Summary:
        """A summary of `topic` (a request such as "Summarize X", or a bare topic) or of the papers
        named by id or title."""
        started = time.perf_counter()
        mode = mode or self.settings.answer.mode
        text = topic.text if isinstance(topic, Question) else topic
        if not text and not paper_ids:
            raise QuestionError("nothing to summarize", fix="give a topic, or papers with --paper")
        named = self.resolve(paper_ids) if paper_ids else self.named_in(text or "")
        request = analyse(text or "; ".join(p.title for p in named), self.settings.answer.max_question_chars)
        shown, query = _topic(request)
        if named:
            shown = "; ".join(p.title for p in named)
        vector = self.embedder.embed_one(query if not named else shown)
        summary = Summary(topic=shown, mode=mode, model="none")

        if named:
            chosen = []
            for p in named:
                sentences, vectors = self.retriever.sentences(p.paper_id)
                self.support.remember(sentences, vectors)
                chosen.append(Candidate(PaperHit(p.paper_id, p.title, 1.0), p, sentences, vectors, vectors @ vector))
            near: list[Candidate] = []
        else:
            chosen, near = self.match(shown, query, vector)
            if not chosen:
                summary.refused = True
                nearest = "; ".join(f'"{c.paper.title}"' for c in near[:3])
                summary.message = f'Nothing in the collection matches "{shown}".' + (
                    f" The nearest papers are: {nearest}." if nearest else ""
                )
                summary.left_out = [_left_out(c, "below the membership threshold") for c in near[:NEAR_MISSES]]
                summary.timings["total_ms"] = (time.perf_counter() - started) * 1000
                return summary
        budget = self.settings.summary.summary_max_papers
        used, beyond = chosen[:budget], chosen[budget:]
        summary.matched = [
            {
                "title": c.paper.title,
                "paper_id": c.paper.paper_id,
                "score": round(c.probability if not named else 1.0, 3),
                "evidence": c.sentences[int(np.argmax(c.sims))] if c.sentences else "",
                "used": c in used,
            }
            for c in chosen
        ]
        summary.left_out = [_left_out(c, f"beyond the summary's budget of {budget} papers") for c in beyond]
        summary.left_out += [
            _left_out(c, f"below the membership threshold ({c.probability:.2f})") for c in near[:NEAR_MISSES]
        ]

        points = []
        for n, c in enumerate(used, start=1):
            at = contribution(c.sentences, c.sims) if c.sentences else 0
            order = [at] + [int(i) for i in np.argsort(-c.sims) if int(i) != at][:2]
            passage = tuple(c.sentences[i] for i in order if i < len(c.sentences))
            source = Source(n, c.paper.paper_id, c.paper.title, passage, tuple(c.sentences))
            summary.sources.append(source)
            quote = answering_clause(passage[0], request) if passage else c.paper.title
            point = AnswerSentence(quote, [n], True, 1.0, kind="quote", check="quote")
            if mode == "generative" and passage:
                point = self._key_point(summary, source, shown) or point
            points.append(point)
            if progress:
                progress(n, len(used), c.paper.title)

        summary.groups = self._group(points, used, shown)
        summary.overview = [self._opening(summary, shown, len(chosen), bool(named))]
        summary.timings["total_ms"] = (time.perf_counter() - started) * 1000
        return summary

    def _key_point(self, summary: Summary, source: Source, topic: str) -> AnswerSentence | None:
        """The model's one line for a paper, if the support check signs it."""
        generator = self.generator()
        summary.model = generator.name
        template = load_template(self.settings.store.prompts_dir, "keypoint")
        if template.id not in summary.prompts:
            summary.prompts.append(template.id)
        messages = template.render(topic=topic, n=str(source.n), title=source.title, passage=" ".join(source.sentences))
        constraint = constraint_for(self.settings.answer.lead_decoding, source.title, source.sentences, source.n)
        stream = generator.stream(messages, self.settings.generation.max_tokens, constraint)
        text = "".join(guard_repetition(stream))
        written = next((s for s in parse_sentences(text) if re.search(r"[.!?]$", s.text)), None)
        if written is None:
            return None
        written.citations = [source.n]
        self.support.check(written, [source])
        if written.supported:
            return written
        summary.unsupported_sentences += 1
        return written if self.settings.answer.unsupported == "flag" else None

    def _group(self, points: list[AnswerSentence], used: Sequence[Candidate], topic: str) -> list[Group]:
        """Papers clustered by what their abstracts say, each group titled by a phrase they share."""
        if not points:
            return []
        centroids = np.stack([c.vectors.mean(axis=0) if len(c.vectors) else np.zeros(1) for c in used])
        norms = np.linalg.norm(centroids, axis=1, keepdims=True)
        centroids = centroids / np.where(norms == 0, 1, norms)
        clusters: list[list[int]] = [[i] for i in range(len(points))]
        threshold = self.settings.summary.summary_group_similarity
        while len(clusters) > 1:  # average-linkage agglomeration, closest pair first
            best, pair = threshold, None
            for a in range(len(clusters)):
                for b in range(a + 1, len(clusters)):
                    sim = float(np.mean(centroids[clusters[a]] @ centroids[clusters[b]].T))
                    if sim >= best:
                        best, pair = sim, (a, b)
            if pair is None:
                break
            a, b = pair
            clusters[a] += clusters.pop(b)
        avoid = frozenset(content_terms(topic))
        groups, singles = [], []
        for cluster in sorted(clusters, key=lambda c: (-len(c), min(c))):
            if len(cluster) == 1:
                singles.append(points[cluster[0]])
                continue
            texts = [f"{used[i].paper.title}. {used[i].paper.abstract}" for i in cluster]
            phrase = shared_phrase(texts, self.stats, avoid, [used[i].paper.title for i in cluster])
            # "SNN" and "nnU-Net" keep their spelling; "graph networks" opens with a capital
            named = any(c.isupper() for c in phrase.split()[0]) if phrase else False
            label = (phrase if named else phrase[:1].upper() + phrase[1:]) if phrase else "Related papers"
            groups.append(Group(label, [points[i] for i in sorted(cluster)]))
        if singles:
            groups.append(Group("Other papers" if groups else "The papers", singles))
        return groups

    def _opening(self, summary: Summary, topic: str, matched: int, named: bool) -> AnswerSentence:
        everyone = [s.n for s in summary.sources]
        if named:
            text = f"{len(everyone)} named papers."
        else:
            noun, verb = ("paper", "matches") if matched == 1 else ("papers", "match")
            text = f'{matched} {noun} in the collection {verb} "{topic}"'
            text += f"; the {len(everyone)} closest are summarized here." if matched > len(everyone) else "."
        return AnswerSentence(text, everyone, True, 1.0, kind="overview", check="the count of the matched papers")


def _topic(request: Question) -> tuple[str, str]:
    """A request's topic as shown to the reader, and as searched for (elaboration included)."""
    shown = request.topic or topic_phrase(request.text)
    return shown, request.topic_query or shown


def _left_out(c: Candidate, reason: str) -> dict[str, Any]:
    best = c.sentences[int(np.argmax(c.sims))] if c.sentences else ""
    return {
        "title": c.paper.title,
        "paper_id": c.paper.paper_id,
        "score": round(c.probability, 3),
        "reason": reason,
        "evidence": best,
    }
