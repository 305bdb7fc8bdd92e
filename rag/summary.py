"""Grounded summaries of a topic or of chosen papers, every sentence cited.

1. Match: for a topic, retrieval proposes candidates and a paper matches when it mentions every
   name the topic uses ("Kolmogorov-Arnold") and either the topic's distinctive terms
   (IDF-weighted, at least `summary_term_cover` of them) or sits next to the best paper in score.
   Off-collection topics are refused with the answer loop's
   coverage check. Named papers are resolved by id or title; an unknown one is an error that
   lists the nearest titles.
2. Map: one key point per paper from its sentences most relevant to the topic, written by the
   model and support-checked against them, or quoted when the check fails (or in extractive
   mode). Papers beyond `summary_max_papers` are listed as left out, never dropped silently.
3. Reduce: papers are grouped by the similarity of their key points; each group is labelled by
   the words its abstracts share (what they have in common) and groups differ from one another.
   The overview is built by the code from the matched set and the groups. A model-written
   overview was tried: the tiny model copied key points and credited them to the wrong paper,
   so it is not used.
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

from rag.answer import Answer, Answerer, Citation
from rag.citations import AnswerSentence, Source, content_terms, parse_sentences
from rag.corpus import Paper
from rag.errors import NotFoundError, QuestionError
from rag.generation import guard_repetition
from rag.prompts import load_template
from rag.refusal import assess, missing_named_terms
from rag.retrieval import PaperHit

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (done, total, title)

# Words that ask for a summary rather than name its topic.
SCAFFOLD = content_terms(
    "summarize summarise summary summaries overview what the collection collection's says say about abstracts "
    "abstract papers paper findings finding results result across these those used proposed describe tell "
    "give main points key"
)
_SUMMARY_REQUEST = re.compile(
    r"^\s*(please\s+)?(summari[sz]e|give\s+(me\s+)?an?\s+(summary|overview)|(write|make)\s+an?\s+(summary|overview)|"
    r"what\s+does\s+the\s+collection\s+say\s+about)\b",
    re.IGNORECASE,
)
_TOPIC_PREFIX = re.compile(
    r"^\s*(please\s+)?(summari[sz]e|give\s+(me\s+)?an?\s+(summary|overview)\s+of|(write|make)\s+an?\s+(summary|overview)\s+of)\b"
    r"(\s+(what|how)\b)?(\s+the\b)?(\s+(collection|abstracts|papers)('s)?\b)?(\s+(says?|reports?|finds?|findings|results)\b)?"
    r"(\s+(about|on|of)\b)?\s*",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"""['"‘“]([^'"’”]{12,300})['"’”]""")


def is_summary_request(text: str) -> bool:
    """Does a chat message ask for a summary ("Summarize ...", "Give me an overview of ...")?"""
    return _SUMMARY_REQUEST.search(text) is not None


def topic_phrase(request: str) -> str:
    """The topic of a summary request, without "Summarize what the collection says about"."""
    stripped = _TOPIC_PREFIX.sub("", request).strip().rstrip("?.!").strip()
    return stripped or request.strip()


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
    left_out: list[str] = field(default_factory=list)
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
        used = len(self.sources)
        lines = [f"**Summary: {self.topic}** ({len(self.matched)} matching papers, {used} used)", ""]
        lines.append(" ".join(_render(s) for s in self.overview))
        for group in self.groups:
            lines += ["", f"**{group.label}**"]
            lines += [f"- {_render(p)}" for p in group.points]
        if self.left_out:
            lines += [
                "",
                f"Left out ({len(self.left_out)}, beyond the summary's paper budget): " + "; ".join(self.left_out),
            ]
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
            "coverage": {"matched": len(self.matched), "used": len(self.sources), "left_out": self.left_out},
            "unsupported_sentences": self.unsupported_sentences,
            "mode": self.mode,
            "model": self.model,
            "prompts": self.prompts,
            "notes": self.notes,
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
        }


def _render(sentence: AnswerSentence) -> str:
    return sentence.rendered() + ("" if sentence.supported else " (unsupported)")


class Summarizer:
    """Summaries over the answer loop's retriever, support check and (lazy) model."""

    def __init__(self, answerer: Answerer) -> None:
        self.answerer = answerer
        self.settings = answerer.settings

    # ---- choosing the papers ----------------------------------------------------------------

    def resolve(self, identifiers: Sequence[str]) -> list[Paper]:
        """Papers by id or title (case-insensitive; a unique close title is accepted)."""
        papers = self.answerer.retriever.papers
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
                        fix="pass an exact title or a paper id (see `rag search`)",
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

    def match(self, topic: str, vector: np.ndarray[Any, Any]) -> list[PaperHit]:
        retrieval = self.answerer.retriever.retrieve_with_vector(topic, vector, self.settings.summary_candidates)
        candidates = sorted(retrieval.candidates, key=lambda p: -p.fused)[: self.settings.summary_candidates]
        if not candidates:
            return []
        terms = content_terms(topic) - SCAFFOLD
        weights = {t: self.answerer.stats.idf(t) for t in terms}
        total = sum(weights.values())
        best = candidates[0].fused
        papers = self.answerer.retriever.papers
        matched = []
        for hit in candidates:
            text = papers[hit.paper_id].title + " " + papers[hit.paper_id].abstract
            if missing_named_terms(topic, [text]):  # "Kolmogorov complexity" is not "Kolmogorov-Arnold"
                continue
            text_terms = content_terms(text)
            cover = sum(w for t, w in weights.items() if t in text_terms) / total if total else 0.0
            # as close to the best as a "which papers" question takes, whatever its words
            if cover >= self.settings.summary_term_cover or best - hit.fused <= self.settings.several_margin:
                matched.append(hit)
        return matched

    # ---- the summary ------------------------------------------------------------------------

    def summarize(
        self,
        topic: str | None = None,
        paper_ids: Sequence[str] = (),
        mode: str | None = None,
        progress: Progress | None = None,
    ) -> Summary:
        started = time.perf_counter()
        mode = mode or self.settings.mode
        if not topic and not paper_ids:
            raise QuestionError("nothing to summarize", fix="give a topic, or papers with --paper")
        named = self.resolve(paper_ids) if paper_ids else self.named_in(topic or "")
        request = topic or "; ".join(p.title for p in named)
        request = self.answerer.validate(request)
        shown_topic = topic_phrase(request) if not named else "; ".join(p.title for p in named)
        vector = self.answerer.embedder.embed_one(shown_topic if named else request)
        summary = Summary(topic=shown_topic, mode=mode, model="none")

        if named:
            hits = [PaperHit(p.paper_id, p.title, 1.0) for p in named]
        else:
            retrieval = self.answerer.retriever.retrieve_with_vector(request, vector, self.settings.top_k)
            texts = {
                p.paper_id: f"{p.title} {p.abstract}"
                for p in (self.answerer.retriever.papers[h.paper_id] for h in retrieval.papers[:3])
            }
            coverage = assess(request, retrieval, self.answerer.stats, texts, self.settings.refusal_threshold)
            hits = self.match(request, vector) if coverage.covered else []
            if not hits:
                summary.refused = True
                nearest = "; ".join(f'"{p.title}"' for p in retrieval.papers[:3])
                summary.message = f'Nothing in the collection matches "{shown_topic}".' + (
                    f" The nearest papers are: {nearest}." if nearest else ""
                )
                summary.timings["total_ms"] = (time.perf_counter() - started) * 1000
                return summary
        summary.matched = [{"title": h.title, "paper_id": h.paper_id, "score": round(h.score, 4)} for h in hits]
        used = hits[: self.settings.summary_max_papers]
        summary.left_out = [h.title for h in hits[len(used) :]]
        for m in summary.matched:
            m["used"] = any(u.paper_id == m["paper_id"] for u in used)

        per_paper = 2 if named else 1
        for i, hit in enumerate(used, start=1):
            paper = self.answerer.retriever.papers[hit.paper_id]
            ranked = self.answerer.rank_sentences(shown_topic if named else request, vector, paper)
            passage = tuple(s for _, s in sorted(ranked[: self.settings.prompt_sentences]))
            source = Source(i, paper.paper_id, paper.title, passage)
            summary.sources.append(source)
            points = self._key_points(summary, source, [s for _, s in ranked[:per_paper]], mode, shown_topic)
            summary.groups.append(Group("", points))  # regrouped below
            if progress:
                progress(i, len(used), paper.title)

        summary.groups = self._group([p for g in summary.groups for p in g.points], summary.sources)
        summary.overview = self._overview(summary, shown_topic, named=bool(named))
        summary.timings["total_ms"] = (time.perf_counter() - started) * 1000
        return summary

    def _key_points(
        self, summary: Summary, source: Source, best: list[str], mode: str, topic: str
    ) -> list[AnswerSentence]:
        quotes = [AnswerSentence(text, [source.n], True, 1.0, kind="quote") for text in best]
        if mode != "generative":
            return quotes
        generator = self.answerer._generator()
        summary.model = generator.name
        template = load_template(self.settings.prompts_dir, "keypoint")
        if template.id not in summary.prompts:
            summary.prompts.append(template.id)
        messages = template.render(topic=topic, n=str(source.n), title=source.title, passage=" ".join(source.sentences))
        text = "".join(guard_repetition(generator.stream(messages, self.settings.max_tokens)))
        written = next((s for s in parse_sentences(text) if re.search(r"[.!?]$", s.text)), None)
        if written is None:
            return quotes
        written.citations = [source.n]
        self.answerer.support.check(written, [source])
        if not written.supported:
            summary.unsupported_sentences += 1
            if self.settings.unsupported == "drop":
                return quotes
        # the model's phrasing leads and the quotes stay: a rewrite may drop a detail they keep
        return [written, *(q for q in quotes if q.text != written.text)]

    def _group(self, points: list[AnswerSentence], sources: list[Source]) -> list[Group]:
        """Greedy grouping of key points by embedding similarity, labelled by shared words."""
        if not points:
            return []
        vectors = self.answerer.embedder.embed([p.text for p in points])
        clusters: list[list[int]] = []
        for i, vector in enumerate(vectors):
            for cluster in clusters:
                if float(np.mean(vectors[cluster] @ vector)) >= self.settings.summary_group_similarity:
                    cluster.append(i)
                    break
            else:
                clusters.append([i])
        groups = [c for c in clusters if len({points[i].citations[0] for i in c}) > 1]
        singles = [i for c in clusters if len({points[i].citations[0] for i in c}) <= 1 for i in c]
        by_n = {s.n: s for s in sources}
        out = [Group(self._label([by_n[points[i].citations[0]] for i in c]), [points[i] for i in c]) for c in groups]
        if singles:
            out.append(
                Group(
                    "Shared themes" if not out else "Other papers, each with its own angle",
                    [points[i] for i in singles],
                )
            )
        return out

    def _label(self, members: list[Source]) -> str:
        """The words the group's abstracts share most, rarest in the collection first."""
        counts: Counter[str] = Counter()
        surface: dict[str, str] = {}
        papers = self.answerer.retriever.papers
        for source in members:
            words = re.findall(r"[A-Za-z][A-Za-z-]{3,}", papers[source.paper_id].abstract)
            for w in {w.lower()[:6]: w for w in words}.items():
                stem, word = w
                if stem in content_terms(word):
                    counts[stem] += 1
                    surface.setdefault(stem, word.lower())
        shared = [t for t, c in counts.items() if c >= 2]
        shared.sort(key=lambda t: -(counts[t] * self.answerer.stats.idf(t)))
        words = [surface[t] for t in shared[:3]]
        return ("Shared: " + ", ".join(words)) if words else "Related papers"

    def _overview(self, summary: Summary, topic: str, named: bool) -> list[AnswerSentence]:
        everyone = [s.n for s in summary.sources]
        count = (
            f"The {len(everyone)} named papers"
            if named
            else f'{len(summary.matched)} papers in the collection match "{topic}"; {len(everyone)} are summarized here'
        ) + "."
        sentences = [AnswerSentence(count, everyone, True, 1.0, kind="overview")]
        shared = [g for g in summary.groups if g.label.startswith("Shared:")]
        if shared and len(summary.groups) > 1:
            cited = sorted({n for g in shared for p in g.points for n in p.citations})
            themes = "; ".join(
                g.label.removeprefix("Shared: ")
                + " "
                + "".join(f"[{n}]" for n in sorted({n for p in g.points for n in p.citations}))
                for g in shared
            )
            text = f"They fall into {len(summary.groups)} groups; the shared themes are {themes}."
            sentences.append(AnswerSentence(text, cited, True, 1.0, kind="overview"))
        return sentences
