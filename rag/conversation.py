"""Follow-up questions: condense a conversation into one standalone retrieval query.

"And what dataset did it use?" retrieves nothing useful on its own: retrieval and the coverage
check see only the words of the question. So before a chat question reaches the service, its
reference back is replaced by the paper the conversation is about:

- the subject is the title the latest assistant turn cited first (the web page, and any client
  that sends `citations` back with assistant messages, provide it), otherwise the key terms of
  the last user question that stood on its own;
- a question is a follow-up when it refers back ("it", "its", "that paper", "the authors", ...)
  or opens like one ("and ...", "what about ...") asking only about an aspect (data, results,
  limitations) and names nothing of its own;
- anything else is left exactly as the user wrote it.

Rules rather than a rewrite by the bundled model: they measured better and cost microseconds
instead of a generation. `benchmarks/condense.py` prints the figures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["user", "assistant"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that name no subject: question words, function words and the generic vocabulary of
# questions about papers ("which paper proposes ...").
_STOP = _words(
    """a about above after again against all also am an and any are as at be because been
    before being between both but by can could did do does doing done during each few for
    from further had has have having how however i if in into is it its itself just like
    many me more most much my no nor not now of off on once only or other our out over own
    same should so some such than that the their theirs them then there these they this
    those through to too under until up very was we were what when where which while who
    whom whose why will with would you your yours paper papers work works study studies
    article articles author authors propose proposes proposed introduce introduces
    introduced present presents presented describe describes described use uses used using
    show shows shown tell give explain name names named mention mentioned say says said
    approach approaches method methods model models result results main key new novel else
    exactly kind kinds type types sort way ways thing things one ones get got"""
)
# What a follow-up asks about a paper without naming a topic: "and what about the training data?"
# is a follow-up, "what about triplet networks?" changes the subject.
_ASPECTS = _words(
    """accuracy advantage advantages application applications assumption assumptions baseline
    baselines benchmark benchmarks bottleneck claim claims code compare compared comparison
    complexity conclusion conclusions contribution contributions cost data dataset datasets
    detail details drawback drawbacks evaluation evaluations evidence experiment experiments
    finding findings future gain gains goal goals hyperparameters idea implementation
    improvement improvements input inputs insight insights limitation limitations loss
    metric metrics motivation number numbers outcome outcomes output outputs parameters
    performance problem problems publication released setting settings setup size source
    speed speedup strength strengths task tasks test tests time training weakness weaknesses
    year"""
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
_NOUNS = (
    r"(?:paper|papers|work|study|article|method|approach|model|technique|framework|network|architecture|"
    r"algorithm|system|dataset|one)"
)
# Words that refer back to the subject, most specific first: in "who are the authors of that
# paper?" it is "that paper" that names the subject. The adjective slot is lazy so that "this
# method works" refers with "this method".
_REFERENCES = [
    (
        re.compile(rf"\b(?:this|that|these|those|said|the\s+same)\s+(?:[\w-]+\s+)??{_NOUNS}\b", re.I),
        "{}",
    ),
    (re.compile(r"\bthe\s+authors?\b", re.I), "the authors of {}"),
    (re.compile(r"\bthe\s+(?:paper|article|study)\b", re.I), "{}"),
    (re.compile(r"\b(?:it|they|them|he|she|him)\b", re.I), "{}"),
    (re.compile(r"\b(?:this|that)(?=\s*[?.!]*\s*$)", re.I), "{}"),
]


def _reference(text: str) -> tuple[re.Match[str], str] | None:
    """The first reference back in `text` of the most specific kind, and how to replace it."""
    for pattern, replacement in _REFERENCES:
        match = pattern.search(text)
        if match:
            return match, replacement
    return None


_POSSESSIVE = re.compile(r"\b(?:its|their|his|her)\b", re.I)
_POSSESSED = re.compile(r"\b(?:its|their|his|her)\s+([\w-]+(?:\s+[\w-]+)?)(?=\s*[?.!,;]|\s*$)", re.I)
_OPENER = re.compile(
    r"^\s*(?:and\s+what\s+about|what\s+about|how\s+about|tell\s+me\s+more|and|also|so|but|then|ok(?:ay)?|more|why|how\s+come)\b[\s,]*",
    re.I,
)
_LEADING_CONJUNCTION = re.compile(r"^\s*(?:and|also|so|but|then|ok(?:ay)?)\b[\s,]*", re.I)
SUBJECT_TERMS = 8


@dataclass(frozen=True)
class Turn:
    """One message of a conversation, as far as condensing needs it."""

    role: Role
    content: str
    cited_titles: tuple[str, ...] = ()  # titles the assistant cited, in citation order


@dataclass(frozen=True)
class Condensed:
    """The standalone query for the latest user message, and how it was made."""

    query: str
    question: str  # the latest user message as written
    rewritten: bool = False
    subject: str | None = None
    reason: str = "first question"
    history: list[str] = field(default_factory=list)  # the standalone query of every user turn


def key_terms(text: str, limit: int = SUBJECT_TERMS) -> list[str]:
    """The content words of `text` in order, without repeats: what a question is about."""
    seen: list[str] = []
    folded_seen: set[str] = set()
    for word in _WORD.findall(text):
        folded = word.casefold()
        if folded in _STOP or len(folded) < 2 or folded in folded_seen:
            continue
        seen.append(word)
        folded_seen.add(folded)
        if len(seen) == limit:
            break
    return seen


def _has_name(question: str) -> bool:
    """A capitalised word or an acronym after the first word: "KANs", "ImageNet", "TopoNet"."""
    words = _WORD.findall(_OPENER.sub("", question))
    first_is_name = bool(words) and sum(c.isupper() for c in words[0]) > 1
    return first_is_name or any(any(c.isupper() for c in w) for w in words[1:])


def follow_up_reason(question: str) -> str | None:
    """Why `question` refers to an earlier turn, or None when it stands on its own."""
    if _has_name(question):
        return None
    found = _reference(question)
    anaphor = found[0] if found else _POSSESSIVE.search(question)
    if anaphor:
        return f'refers back with "{anaphor.group(0).strip()}"'
    opener = _OPENER.match(question)
    if opener and all(t.casefold() in _ASPECTS for t in key_terms(question[opener.end() :])):
        return f'opens like a follow-up ("{opener.group(0).strip(" ,")}")'
    return None


def rewrite(question: str, subject: str) -> str:
    """`question` with its first reference back replaced by `subject`.

    "and what dataset did it use?" -> "What dataset did <subject> use?";
    "what are its main results?" -> "What are the main results of <subject>?";
    "and the limitations?" -> "The limitations in <subject>?".
    """
    text = _LEADING_CONJUNCTION.sub("", question.strip())
    text = text[:1].upper() + text[1:]
    found = _reference(text)
    if found:
        match, replacement = found
        return text[: match.start()] + replacement.format(subject) + text[match.end() :]
    possessed = _POSSESSED.search(text)
    if possessed:
        return text[: possessed.start()] + f"the {possessed.group(1)} of {subject}" + text[possessed.end() :]
    possessive = _POSSESSIVE.search(text)
    if possessive:
        return text[: possessive.start()] + f"{subject}'s" + text[possessive.end() :]
    body = _OPENER.sub("", text).rstrip(" ?.!")
    if not body:  # "Why?", "Tell me more."
        return f"{subject}: {text}"
    return f"{body[:1].upper()}{body[1:]} in {subject}?"


def subject_of(question: str) -> str | None:
    """How a rewrite names the paper that a standalone question was about."""
    terms = key_terms(question)
    return f"the paper on {' '.join(terms)}" if terms else None


def condense(turns: Sequence[Turn], max_chars: int | None = None) -> Condensed:
    """The standalone query for the last user turn of `turns`.

    Only user turns and the titles cited by assistant turns are read: system prompts and the
    wording of answers never reach retrieval. A rewrite longer than `max_chars` falls back to
    the question as written. Raises ValueError when `turns` holds no user turn.
    """
    history: list[str] = []
    subject: str | None = None  # what the conversation is about so far
    result: Condensed | None = None
    for turn in turns:
        if turn.role == "assistant":
            if turn.cited_titles:
                subject = f'"{turn.cited_titles[0]}"'
            continue
        question = turn.content.strip()
        reason = follow_up_reason(question) if history else None
        if reason and subject:
            query = rewrite(question, subject)
            if max_chars is not None and len(query) > max_chars:
                result = Condensed(question, question, False, None, "rewrite too long; kept as written")
            else:
                result = Condensed(query, question, True, subject, reason)
        else:
            if not history:
                why = "first question"
            else:
                why = "follow-up, but no earlier subject" if reason else "stands on its own"
            result = Condensed(question, question, False, None, why)
            subject = subject_of(question)
        history.append(result.query)
    if result is None:
        raise ValueError("the conversation holds no user turn")
    return Condensed(result.query, result.question, result.rewritten, result.subject, result.reason, history)
