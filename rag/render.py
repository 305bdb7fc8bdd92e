"""How an answer reads: lead with the answer, then at most two supporting quotes.

    The lead: one sentence that answers, cited [1]
    > a supporting quote [1]
    > another [2]

A which-paper question's lead opens with the title it names; a question about several papers
is led by their titles. The full evidence (every sentence chosen from every source) stays out of
the text: `rag ask --evidence`, the `evidence` field in JSON, a collapsed block on the page.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.prompts import CANNOT_ANSWER
from rag.retrieval import PaperHit
from rag.text import content_terms
from rag.types import AnswerSentence, Citation, Source


def refusal_text(nearest: Sequence[PaperHit]) -> str:
    text = CANNOT_ANSWER
    if nearest:
        titles = "; ".join(f'"{p.title}"' for p in nearest[:3])
        text += f" The nearest papers in it are: {titles}."
    return text


PREMISE_REFUSAL = "The collection does not support what this question takes as given. Its source says otherwise:"


def premise_refusal(quote: AnswerSentence) -> list[str]:
    """A refusal that corrects: the question's premise is not repeated, the source's word is quoted."""
    return [PREMISE_REFUSAL, f"> {shown(quote)}"]


def titles_lead(sources: Sequence[Source]) -> AnswerSentence:
    """The lead of an answer about several papers: their titles, each cited."""
    listed = "; ".join(f'"{s.title}" [{s.n}]' for s in sources)
    noun = "paper" if len(sources) == 1 else "papers"
    return AnswerSentence(
        f"{len(sources)} {noun} in the collection: {listed}.",
        [s.n for s in sources],
        True,
        1.0,
        kind="overview",
        check="the titles of the cited papers",
    )


def shown(sentence: AnswerSentence) -> str:
    """A sentence as the reader sees it: with its markers, and flagged if the check failed."""
    return sentence.rendered() + ("" if sentence.supported else " (unsupported)")


def lead_line(lead: AnswerSentence, sources: Sequence[Source], names_title: bool) -> str:
    """The lead as shown; for a which-paper question opened by the title it cites."""
    if names_title and lead.kind != "overview" and lead.citations:
        title = next((s.title for s in sources if s.n == lead.citations[0]), None)
        if title and title.casefold() not in lead.text.casefold():
            flag = "" if lead.supported else " (unsupported)"
            return f'"{title}" [{lead.citations[0]}]: {lead.text}{flag}'
    return shown(lead)


def answer_text(
    lead: AnswerSentence | None, quotes: Sequence[AnswerSentence], sources: Sequence[Source], names_title: bool
) -> list[str]:
    """The answer's pieces, in order: the lead line, then one line per quote."""
    pieces = [lead_line(lead, sources, names_title)] if lead else []
    pieces += [f"> {shown(q)}" for q in quotes]
    return pieces


def within(
    lead: AnswerSentence | None,
    quotes: Sequence[AnswerSentence],
    sources: Sequence[Source],
    names_title: bool,
    max_words: int,
) -> list[AnswerSentence]:
    """The quotes that fit under the lead in `max_words` words of text as shown (markers and
    title included), the most relevant first: the first that would pass the limit ends the
    answer. With no lead, the first quote is kept whatever its length. 0: no limit."""
    if max_words <= 0:
        return list(quotes)
    words = len(lead_line(lead, sources, names_title).split()) if lead else 0
    kept: list[AnswerSentence] = []
    for quote in quotes:
        extra = len(f"> {shown(quote)}".split())
        if (lead or kept) and words + extra > max_words:
            break
        kept.append(quote)
        words += extra
    return kept


def join(pieces: Sequence[str]) -> str:
    """The pieces as one text: the lead, a blank line, the quotes one per line."""
    if not pieces:
        return ""
    head, *quotes = pieces
    if head.startswith("> "):
        return "\n".join(pieces)
    return head + ("\n\n" + "\n".join(quotes) if quotes else "")


def citations(sentences: Sequence[AnswerSentence], sources: Sequence[Source]) -> list[Citation]:
    """The papers the supported sentences cite, each with the source sentence that best backs
    what the answer says with it."""
    by_n = {s.n: s for s in sources}
    cited = sorted({n for s in sentences if s.supported for n in s.citations if n in by_n})
    return [Citation(n, by_n[n].title, by_n[n].paper_id, _snippet(by_n[n], sentences)) for n in cited]


def _snippet(source: Source, sentences: Sequence[AnswerSentence]) -> str:
    claim = " ".join(s.text for s in sentences if source.n in s.citations and s.kind != "overview")
    terms = content_terms(claim)
    return max(source.sentences, key=lambda s: len(terms & content_terms(s)), default="")
