"""Text helpers every stage shares: one stop list, one rule for a number, one term function,
and the rules for names (what counts as one, and when a text mentions it).

Stages differ in what they ask of text, not in how they read it: question analysis, the
answerability decision, evidence selection, the support check and summaries all call these, so
"a number" or "a content word" means the same thing everywhere.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

# Function words and the generic vocabulary of papers ("propose", "method", "results"): words
# that say nothing about what a question or a sentence is about.
STOP = frozenset(
    """
    the a an and or of in on for to with by from as at is are was were be been this that these those it
    its which what who whom whose how why when where than then also such can could may might will would
    should paper papers study work we our their they them into using used use uses based via new novel
    propose proposes proposed method methods approach approaches model models show shows shown results
    result
    """.split()  # noqa: SIM905
)

# a content word: a letter, then letters, digits or hyphens ("U-Net", "GPT2", "state-of-the-art")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]+")
# a word as names are read: any word character first, and a possessive kept ("word2vec's")
NAME_WORD = re.compile(r"\w[\w-]*(?:'s)?")

# a number: "10^{160}", "4x", "95.3%", "13-layer", "27,556", but not the 10 of "CIFAR-10", the 3
# of "3D", the 2 of "U^2-Net" or an enumerator, "(1)"
NUMBER = re.compile(r"(?<![\w^-])\d+(?:[.,]\d+)*(?:x|%)?(?!\w)")
_ENUMERATOR = re.compile(r"\(\d{1,2}\)")


def content_terms(text: str) -> set[str]:
    """Lower-cased content words, cut to a 6-letter stem so 'segmentation' meets 'segment'."""
    return {w.lower()[:6] for w in WORD.findall(text) if w.lower() not in STOP and len(w) > 2}


def holds_number(text: str) -> bool:
    return NUMBER.search(_ENUMERATOR.sub(" ", text)) is not None


def fold(text: str) -> str:
    """Strip accents, so "Schrodinger" meets "Schrödinger"."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """Lower-case words without accents, hyphens or punctuation: "Divide-and-Conquer" is three."""
    return re.findall(r"[a-z0-9]+", fold(text).lower())


def singular(term: str) -> str:
    """One plural s dropped: "ResNets" -> "ResNet"; "Loss", "Process", "Robustness" stay whole."""
    return term[:-1] if term.endswith("s") and not term.endswith("ss") else term


# a term in more than a fifth of the papers says nothing specific ("neural", "network", "data"):
# benchmarks/audit_checker.py, restatements caught on the audit's dev half
COMMON_SHARE = 0.2
_PLAIN_WORD = re.compile(r"[a-z][a-z0-9+-]*[a-z0-9+]|[a-z]")


class TermStatistics:
    """Document frequencies of content terms over the collection's papers, and the words it uses.

    `vocabulary` is a general word list (the embedder's, see `Embedder.vocabulary`): a word
    neither the collection nor that list knows is most likely a name ("flexmatch", "qlora").
    """

    def __init__(self, texts: Iterable[str], vocabulary: frozenset[str] = frozenset()) -> None:
        self.df: Counter[str] = Counter()
        self.words: set[str] = set()
        self.n = 0
        for text in texts:
            self.add(text)
        self.vocabulary = vocabulary

    @classmethod
    def from_counts(
        cls, df: Counter[str], words: set[str], n: int, vocabulary: frozenset[str] = frozenset()
    ) -> TermStatistics:
        """Statistics counted before (and saved with the lexical index: at 100,000 papers
        counting them again took minutes)."""
        stats = cls((), vocabulary)
        stats.df, stats.words, stats.n = df, words, n
        return stats

    def add(self, text: str) -> None:
        """Count one more paper's text."""
        self.n += 1
        self.df.update(content_terms(text))
        self.words.update(_PLAIN_WORD.findall(fold(text).lower()))

    def with_vocabulary(self, vocabulary: frozenset[str]) -> TermStatistics:
        """The same counts, judged against a general word list (the embedder's)."""
        return TermStatistics.from_counts(self.df, self.words, self.n, vocabulary)

    def idf(self, term: str) -> float:
        return math.log((self.n + 1) / (self.df.get(term, 0) + 0.5))

    def common_terms(self, share: float = COMMON_SHARE) -> frozenset[str]:
        """The terms in more than `share` of the papers: "neural", "network", "learning"."""
        return frozenset(t for t, df in self.df.items() if df > share * self.n)

    def unknown_words(self, text: str) -> list[str]:
        """Words of `text` that neither the collection nor the general vocabulary holds."""
        return [
            w
            for w in _PLAIN_WORD.findall(fold(text).lower())
            if len(w) > 2
            and w not in self.words
            and w not in self.vocabulary
            and w not in STOP
            and singular(w) not in self.words
        ]


# ---- names ----------------------------------------------------------------------------------

# ordinary words hyphened before a name: "single-GPU", "non-IID", "pre-LN"
_PREFIX = re.compile(r"^(?:[a-z]+-)+(?=[\w-]*[A-Z])")
# and after it: "CLIP-like", "RNN-controller-designed" ("U-shaped" is left to its own rule)
_SUFFIX = re.compile(r"(?<=\w\w)(?:-[a-z]+)+$")
# languages and peoples: "Spanish", "Chinese". ("Bayesian" stays a name: "Bayesian optimization")
_ADJECTIVE = re.compile(r"[A-Z][a-z]{2,}(?:ish|ese)")


def named_terms(text: str) -> list[str]:
    """Words that name something: an inner capital or all capitals ("CLIP", "TopoNet", "U-Net"),
    or a capitalised word that does not start a sentence ("Swin", "Everest")."""
    found: list[str] = []
    for match in NAME_WORD.finditer(text):
        # "single-GPU" names GPU, "CLIP-like" names CLIP
        word = _SUFFIX.sub("", _PREFIX.sub("", match.group().removesuffix("'s")))
        if word[0].isdigit():  # "3D", "4x": measures, not names
            continue
        if re.fullmatch(r"[A-Z]-[a-z]+", word):  # "U-shaped", "T-shirt": a letter used as a shape
            continue
        if _ADJECTIVE.fullmatch(word):  # capitalised by convention, and they describe, not name
            continue
        before = text[: match.start()].rstrip()
        starts_sentence = not before or before.endswith((".", "?", "!", ":", '"', "'"))
        inner_capital = any(c.isupper() for c in word[1:])
        capitalised = word[0].isupper() and not starts_sentence
        if (inner_capital or capitalised) and word not in found:
            found.append(word)
    return found


# a hyphen, caret or apostrophe inside a name: "U-Net" is "UNet", "U^2-Net" is "U2Net"
_JOINER = re.compile(r"(?<=\w)[-^'](?=\w)")


def spelled_out(text: str, acronym: str) -> bool:
    """Is the acronym written out, "GNN" as "graph neural network"? Words of three letters or
    more whose initials spell it; shorter ones would let "compared to" pass for "CT"."""
    core = acronym.removesuffix("s")
    if not (core.isalpha() and core.isupper() and 2 <= len(core) <= 6):
        return False
    words = r"[\s-]+".join(rf"{c}[\w']{{2,}}" for c in core)
    return re.search(rf"(?<![\w-]){words}(?!\w)", text, re.IGNORECASE) is not None


def mentions(text: str, term: str) -> bool:
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
        return re.search(pattern, text) is not None or spelled_out(text, term)
    return re.search(pattern, text, re.IGNORECASE) is not None


def missing_names(names: Sequence[str], texts: Sequence[str]) -> list[str]:
    """The names that none of the texts mentions (see `mentions`), accents and joiners aside."""
    haystack = fold(" ".join(texts))
    joined = _JOINER.sub("", haystack)
    missing = []
    for name in names:
        term = singular(fold(name)) if not name.isupper() else name
        if not mentions(haystack, term) and not mentions(joined, _JOINER.sub("", term)):
            missing.append(name)
    return missing


def names_all(names: Sequence[str], text: str) -> bool:
    """Does the text mention every one of the names (true when there are none)?"""
    return not missing_names(names, [text])


def names_other(text: str, asked: Sequence[str]) -> bool:
    """Does the text name something not among `asked`?"""
    return any(term not in asked for term in named_terms(text))


# the authors naming what they contribute: "We propose X", "this paper introduces X", "our method, X"
_INTRODUCES = re.compile(
    r"\b(?:we|our|this (?:paper|work|study|article)|the present (?:paper|work))\b[^.;]*?"
    r"\b(?:propos|present|introduc|develop|call|dub|term|name|contribut)\w*",
    re.IGNORECASE,
)


def introduces_name(text: str, asked: Sequence[str]) -> bool:
    """Does the sentence name the paper's own contribution ("We present our predictor FLAN"),
    something not among `asked`?"""
    return _INTRODUCES.search(text) is not None and names_other(text, asked)


# ---- what a text says happens: more or less, and whether it is denied ------------------------
# (the support check compares a sentence's with its source's; a "why" question's presupposition
# is compared with the answer's source the same way, rag.answerability.contradiction)
NEGATION = re.compile(r"\b(?:not|no|never|without|cannot|neither|nor|lacks?|fails?\s+to|unable)\b|n't\b", re.I)
_UP = re.compile(
    r"\b(?:better|outperform\w*|beats?|superior|higher|faster|more|improv\w+|increas\w+|larger|stronger|"
    r"exceed\w*|surpass\w*|gains?|boosts?)\b",
    re.I,
)
_DOWN = re.compile(
    r"\b(?:worse|underperform\w*|inferior|lower|slower|less|fewer|degrad\w+|decreas\w+|smaller|weaker|"
    r"drops?|loses?|reduc\w+)\b",
    re.I,
)


def direction(text: str) -> int:
    """1 if the text says something rises or wins ("outperforms", "faster"), -1 if it falls or
    loses ("worse", "drops"), 0 for neither or both."""
    up, down = _UP.search(text) is not None, _DOWN.search(text) is not None
    return 0 if up == down else (1 if up else -1)


def stated_direction(text: str) -> int:
    """`direction`, turned over by a denial: "does not improve" falls, "fails to lower" rises."""
    return -direction(text) if NEGATION.search(text) else direction(text)
