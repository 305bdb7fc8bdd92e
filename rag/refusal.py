"""Does the collection cover the question? Decided from evidence, before any model runs.

Four kinds of evidence:
- Named terms. A question that names something (an acronym, a model, a dataset, a proper
  noun: "Swin", "CLIP", "MOS") that none of the top papers mentions is not covered by them,
  however close their topic is. This is the check that catches "about the right field, but not
  in this collection". An acronym also counts as mentioned when spelled out ("GNN" as "graph
  neural network"), and a question about one paper needs all its names in one paper.
- The subject of a "what is / how does" question. It names a technique, often in ordinary words
  ("speculative decoding"); when no two neighbouring words of it appear together in the top
  papers, they are about something else.
- Answer type. A question asking for a quantity ("how many", "how long does", "what learning
  rate") is not covered when the papers it is about hold no number; one asking for a person
  ("who proposed", "which authors") is not covered when they name nobody. Abstracts rarely give
  hyper-parameters, hardware or authors, and the closest paper answers such questions with
  sentences that are on topic but say nothing of what was asked. The papers "it is about" are
  the top papers that mention every named term of the question.
- Retrieval strength, three signals in [0, 1] averaged with weights:
  `dense` (the best chunk's cosine, rescaled between a floor and a ceiling), `terms` (the
  IDF-weighted share of the question's content words that one of the top papers contains) and
  `agreement` (the dense and lexical retrievers put the same paper near the top).
Below `refusal_threshold` the question is refused. The best cosine alone separates answerable
from unanswerable questions poorly; the combination and the named-term check do better
(see README, "Quality").
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.citations import content_terms
from rag.retrieval import Retrieval

DENSE_FLOOR, DENSE_CEILING = 0.25, 0.65
WEIGHTS = {"dense": 0.4, "terms": 0.45, "agreement": 0.15}

_WORD = re.compile(r"\w[\w-]*(?:'s)?")
# Questions whose answer is a quantity: their evidence must hold a number.
_MEASURE = (
    r"(?:rates?|sizes?|accurac(?:y|ies)|speed-?ups?|percentages?|ratios?|costs?|latenc(?:y|ies)|throughputs?|"
    r"errors?|scores?|budgets?|epochs|iterations|dimensions?|depths?|widths?|lengths?|durations?|temperatures?)"
)
_AUX = r"(?:is|are|was|were|does|do|did|can|could|will|would|has|have|had)"
_ASKS_QUANTITY = re.compile(
    r"\bhow (many|much)\b"
    rf"|\bhow (long|large|big|fast|often|far|old|tall|deep|wide|high|quickly) {_AUX}\b"
    r"|\bwhat (share|percentage|fraction|proportion|number) of\b"
    # "what learning rate did ...", "what top-1 accuracy does ...", but not "which papers study accuracy"
    rf"|\b(what|which) (?:[\w-]+ ){{0,2}}{_MEASURE}(?: and (?:[\w-]+ ){{0,2}}{_MEASURE})? {_AUX}\b",
    re.IGNORECASE,
)
# Questions whose answer is a name: "which method", "what dataset", but not "what is", "what does"
_ASKS_NAME = re.compile(r"\b(?:which|what)\b(?! (?:is|are|was|were|does|do|did|happens|role)\b)", re.IGNORECASE)
# a number: "10^{160}", "4x", "95.3%", "13-layer", but not the 10 of "CIFAR-10", the 3 of "3D",
# the 2 of "U^2-Net" or an enumerator, "(1)"
_NUMBER = re.compile(r"(?<![\w^-])\d+(?:[.,]\d+)*(?:x|%)?(?!\w)")
_ENUMERATOR = re.compile(r"\(\d{1,2}\)")
# Questions whose answer is a person or a group of people: their evidence must name someone.
_ASKS_PERSON = re.compile(
    r"(?:^|[,;:]\s*)who\b"
    r"|\b(?:which|what) (?:authors?|researchers?|scientists?|people|persons?|institutions?|universit(?:y|ies)|labs?)\b"
    r"|\b(?:names? of the|who are the) (?:authors?|researchers?|inventors?)\b",
    re.IGNORECASE,
)
# how an abstract names people: "Smith et al.", "Tversky (1977)"
_NAMES_PERSON = re.compile(r"\bet al\b|\b[A-Z][a-z]+ [(\[]\d{4}")
_SEVERAL = re.compile(
    r"\b(papers|articles|abstracts|publications|approaches|methods|techniques"
    r"|(?<!paper )(?<!that )(?<!who )(?<!it )(studies|works)"  # the nouns, not "a paper that studies"
    r"|(this|the) (collection|corpus)|(work|research) on|literature|compare|comparison|contrast)\b",
    re.IGNORECASE,
)


def wants_several(question: str) -> bool:
    """Does the question ask about several papers ("Which papers ...", "Is there work on ...",
    "What does this collection say about ...", "Compare ...")?"""
    return _SEVERAL.search(question) is not None


@dataclass(frozen=True)
class Coverage:
    covered: bool
    score: float
    signals: dict[str, float]
    missing_terms: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "covered": self.covered,
            "score": round(self.score, 3),
            "signals": {k: round(v, 3) for k, v in self.signals.items()},
            "missing_terms": list(self.missing_terms),
        }


class TermStatistics:
    """Document frequencies of content terms over the collection's papers."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.df: Counter[str] = Counter()
        self.n = 0
        for text in texts:
            self.n += 1
            self.df.update(content_terms(text))

    def idf(self, term: str) -> float:
        return math.log((self.n + 1) / (self.df.get(term, 0) + 0.5))


def fold(text: str) -> str:
    """Strip accents, so "Schrodinger" meets "Schrödinger"."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


# ordinary words hyphened before a name: "single-GPU", "non-IID", "pre-LN"
_PREFIX = re.compile(r"^(?:[a-z]+-)+(?=[\w-]*[A-Z])")
# and after it: "CLIP-like", "RNN-controller-designed" ("U-shaped" is left to its own rule)
_SUFFIX = re.compile(r"(?<=\w\w)(?:-[a-z]+)+$")
# languages and peoples: "Spanish", "Chinese". ("Bayesian" stays a name: "Bayesian optimization")
_ADJECTIVE = re.compile(r"[A-Z][a-z]{2,}(?:ish|ese)")


def named_terms(question: str) -> list[str]:
    """Words that name something: an inner capital or all capitals ("CLIP", "TopoNet", "U-Net"),
    or a capitalised word that does not start a sentence ("Swin", "Everest")."""
    found: list[str] = []
    for match in _WORD.finditer(question):
        # "single-GPU" names GPU, "CLIP-like" names CLIP
        word = _SUFFIX.sub("", _PREFIX.sub("", match.group().removesuffix("'s")))
        if word[0].isdigit():  # "3D", "4x": measures, not names
            continue
        if re.fullmatch(r"[A-Z]-[a-z]+", word):  # "U-shaped", "T-shirt": a letter used as a shape
            continue
        if _ADJECTIVE.fullmatch(word):  # capitalised by convention, and they describe, not name
            continue
        before = question[: match.start()].rstrip()
        starts_sentence = not before or before.endswith((".", "?", "!", ":", '"', "'"))
        inner_capital = any(c.isupper() for c in word[1:])
        capitalised = word[0].isupper() and not starts_sentence
        if (inner_capital or capitalised) and word not in found:
            found.append(word)
    return found


# a hyphen, caret or apostrophe inside a name: "U-Net" is "UNet", "U^2-Net" is "U2Net"
_JOINER = re.compile(r"(?<=\w)[-^'](?=\w)")


def _spelled_out(text: str, acronym: str) -> bool:
    """Is the acronym written out, "GNN" as "graph neural network"? Words of three letters or
    more whose initials spell it; shorter ones would let "compared to" pass for "CT"."""
    core = acronym.removesuffix("s")
    if not (core.isalpha() and core.isupper() and 2 <= len(core) <= 6):
        return False
    words = r"[\s-]+".join(rf"{c}[\w']{{2,}}" for c in core)
    return re.search(rf"(?<![\w-]){words}(?!\w)", text, re.IGNORECASE) is not None


def _mentions(text: str, term: str) -> bool:
    """Whole-word match, also inside a compound name ("GAN" in "StyleGAN", "ResNet" in
    "DINO-ResNet50") or with a version ("StyleGAN-2"); short or all-capital terms match
    case-sensitively ("MOS" is not "most")."""
    plural = r"(?:s|es)?"
    # the compound's prefix is matched case-sensitively even for a term that is not: without
    # case, "(?:[A-Z][a-z]+)*" tries every split of a long word, exponentially many
    compound = r"(?<![a-z0-9_])(?-i:[A-Z][a-z]+)*"
    left = r"(?<![\w-])" if not term[0].isupper() else compound
    version = r"(?:-?\d[\w.]*)?"  # "ResNet" in "ResNet50", "StyleGAN" in "StyleGAN-2"
    pattern = rf"{left}{re.escape(term)}{plural}{version}(?![\w])"
    if term.isupper() or len(term) <= 3:
        return re.search(pattern, text) is not None or _spelled_out(text, term)
    return re.search(pattern, text, re.IGNORECASE) is not None


def missing_named_terms(question: str, texts: Sequence[str]) -> list[str]:
    haystack = fold(" ".join(texts))
    joined = _JOINER.sub("", haystack)
    missing = []
    for name in named_terms(question):
        term = _singular(fold(name)) if not name.isupper() else name
        if not _mentions(haystack, term) and not _mentions(joined, _JOINER.sub("", term)):
            missing.append(name)
    return missing


def names_all(question: str, text: str) -> bool:
    """Does the text mention every name the question uses (true for a question naming nothing)?"""
    return not missing_named_terms(question, [text])


def names_apart(question: str, texts: Sequence[str]) -> list[str]:
    """A question about one paper whose names no single paper holds together: "GPU" in one paper
    and "TopNets" in another do not answer "Which GPUs trained TopNets?"."""
    names = named_terms(question)
    if len(names) < 2 or wants_several(question) or any(names_all(question, t) for t in texts):
        return []
    return ["all of " + ", ".join(names) + " in one paper"]


def _singular(term: str) -> str:
    """One plural s dropped: "ResNets" -> "ResNet"; "Loss", "Process", "Robustness" stay whole."""
    return term[:-1] if term.endswith("s") and not term.endswith("ss") else term


# A question asking what something is or how it works names it first, often in ordinary words:
# "What are membership inference attacks?", "How does speculative decoding use ...?"
_DEFINES = re.compile(
    r"^(?:what (?:is|are)|how (?:does|do|is|are|can)|explain(?: how| what| why)?|why (?:is|are|does|do)"
    r"|describe|compare)\s+(?:the |a |an )?([a-z][\w'-]*(?: [a-z][\w'-]*){1,3})",
    re.IGNORECASE,
)
# words that end that subject: function words, the question's own verbs, and words about papers
_NOT_SUBJECT = frozenset(
    """a an the of for in on to with and or by from that which this these those its their it is are was
    were be how what why does do did can could would should between versus vs use used using work works
    papers paper here studies articles publications collection corpus literature authors methods
    approaches i we you they there one two three four five six several many some all each first second""".split()  # noqa: SIM905
)


def subject_words(question: str) -> list[str]:
    """The words a "what is / how does / explain / compare" question opens its subject with."""
    match = _DEFINES.search(question.strip())
    words: list[str] = []
    for word in match.group(1).split() if match else []:
        if word.lower() in _NOT_SUBJECT:
            break
        words.append(word)
    return words


def missing_subject(question: str, texts: Sequence[str]) -> list[str]:
    """The subject of a "what is X" question when no two neighbouring words of it appear
    together (next to each other or one word apart) in the top papers: the collection knows
    "decoding" and "draft models" but not speculative decoding. One-word subjects are left to
    the other checks, and so is a property of something the papers know ("X's Y")."""
    words = subject_words(question)
    tokens = _tokens(" ".join(w.removesuffix("'s") for w in words))
    if len(words) < 2 or len(tokens) < 2:
        return []
    haystack = " ".join(_tokens(" ".join(texts)))
    owner = next((w.removesuffix("'s") for w in words if w.endswith("'s")), None)
    if owner and re.search(rf"\b{' '.join(map(re.escape, _tokens(owner)))}\b", haystack):
        return []  # "GENNAPE's pretraining benchmark" is about GENNAPE, which the papers know
    near = r"s? (?:[a-z0-9]+ )?"  # a plural, and at most one word between
    for first, second in zip(tokens, tokens[1:], strict=False):
        if re.search(rf"\b{re.escape(_singular(first))}{near}{re.escape(_singular(second))}s?\b", haystack):
            return []
    return [" ".join(words)]


def _tokens(text: str) -> list[str]:
    """Lower-case words without accents, hyphens or punctuation: "Divide-and-Conquer" is three."""
    return re.findall(r"[a-z0-9]+", fold(text).lower())


def asks_quantity(question: str) -> bool:
    return _ASKS_QUANTITY.search(question) is not None


def asks_name(question: str) -> bool:
    """Is the answer a name ("Which method ...", "What dataset ...")?"""
    return _ASKS_NAME.search(question) is not None and not asks_quantity(question)


def names_other(text: str, asked: Sequence[str]) -> bool:
    """Does the text name something the question does not?"""
    return any(term not in asked for term in named_terms(text))


def holds_number(text: str) -> bool:
    return _NUMBER.search(_ENUMERATOR.sub(" ", text)) is not None


# the authors naming what they contribute: "We propose X", "this paper introduces X", "our method, X"
_INTRODUCES = re.compile(
    r"\b(?:we|our|this (?:paper|work|study|article)|the present (?:paper|work))\b[^.;]*?"
    r"\b(?:propos|present|introduc|develop|call|dub|term|name|contribut)\w*",
    re.IGNORECASE,
)


def introduces_name(text: str, asked: Sequence[str]) -> bool:
    """Does the sentence name the paper's own contribution ("We present our predictor FLAN"),
    something the question does not name?"""
    return _INTRODUCES.search(text) is not None and names_other(text, asked)


# where a question asks a second thing: ", and which datasets ...", "... and how long ...",
# or a second question after a question mark
_NEXT_ASK = re.compile(
    r",?\s+and\s+(?=(?:(?:on|in|for|by|at|to|with|from|of)\s+)?(?:what|which|how|who|where|when|why)\b)"
    r"|(?<=\?)\s+(?=\S)",
    re.IGNORECASE,
)


def question_parts(question: str) -> list[str]:
    """The things a question asks, in order: "How many heads does it get, and on which datasets
    was it tested?" is two. A question asking one thing is one part."""
    return [part for part in (p.strip() for p in _NEXT_ASK.split(question)) if part]


def missing_answer_type(question: str, texts: Sequence[str]) -> list[str]:
    """What the question asks for that none of the papers it is about holds: "a number", "a person"."""
    about = [t for t in texts if names_all(question, t)] or list(texts)
    missing = []
    if asks_quantity(question) and not any(holds_number(t) for t in about):
        missing.append("a number")
    if _ASKS_PERSON.search(question) and not any(_NAMES_PERSON.search(t) for t in about):
        missing.append("a person's name")
    return missing


def assess(
    question: str, retrieval: Retrieval, stats: TermStatistics, paper_texts: dict[str, str], threshold: float
) -> Coverage:
    """`paper_texts` maps the top papers' ids to their title and abstract."""
    if not retrieval.papers:
        return Coverage(False, 0.0, {"dense": 0.0, "terms": 0.0, "agreement": 0.0})
    top = retrieval.papers[0]
    best_dense = max(p.dense for p in retrieval.papers)
    dense = min(1.0, max(0.0, (best_dense - DENSE_FLOOR) / (DENSE_CEILING - DENSE_FLOOR)))

    terms = content_terms(question)
    texts = [paper_texts.get(p.paper_id, p.title) for p in retrieval.papers[:3]]
    if terms:
        # the best-covering one of the top papers: a multi-paper question spreads its terms
        weights = {t: stats.idf(t) for t in terms}
        total = sum(weights.values()) or 1.0
        term_cover = max(sum(w for t, w in weights.items() if t in content_terms(text)) / total for text in texts)
    else:
        term_cover = 0.0

    ranks = [r for r in (top.dense_rank, top.lexical_rank) if r is not None]
    agreement = 1.0 if len(ranks) == 2 and max(ranks) <= 3 else 0.5 if len(ranks) == 2 and max(ranks) <= 10 else 0.0

    signals = {"dense": dense, "terms": term_cover, "agreement": agreement}
    score = sum(WEIGHTS[k] * v for k, v in signals.items())
    missing = missing_named_terms(question, texts) or names_apart(question, texts) or missing_subject(question, texts)
    missing += missing_answer_type(question, texts)
    return Coverage(score >= threshold and not missing, score, signals, tuple(missing))
