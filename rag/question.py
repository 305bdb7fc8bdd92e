"""What a question asks, read once: the typed value every later stage reads instead of the text.

`analyse(text)` validates the question and returns a `Question`: its content terms and named
terms, its parts (a question may ask two things), whether it wants several papers, whether its
answer is a quantity, a name or a person, the subject of a "what is / how does" question, and,
for a request for a summary ("Summarize ...", "Give me an overview of ..."), its topic. The CLI,
the API and the chat route all route a request by this value, so they treat it alike.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ConfigError, QuestionError
from rag.params import read
from rag.text import STOP, content_terms, named_terms, stated_direction

_AUX = r"(?:is|are|was|were|does|do|did|can|could|will|would|has|have|had)"
_MEASURE = (
    r"(?:rates?|sizes?|accurac(?:y|ies)|speed-?ups?|percentages?|ratios?|costs?|latenc(?:y|ies)|throughputs?|"
    r"errors?|scores?|budgets?|epochs|iterations|dimensions?|depths?|widths?|lengths?|durations?|temperatures?)"
)
# Questions whose answer is a quantity: their evidence must hold a number.
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
# Questions whose answer is a person or a group of people: their evidence must name someone.
_ASKS_PERSON = re.compile(
    r"(?:^|[,;:]\s*)who\b"
    r"|\b(?:which|what) (?:authors?|researchers?|scientists?|people|persons?|institutions?|universit(?:y|ies)|labs?)\b"
    r"|\b(?:names? of the|who are the) (?:authors?|researchers?|inventors?)\b",
    re.IGNORECASE,
)
# Whether a question asks about several papers is a fitted decision over these cues
# (rag/params/several_kind.json, `python -m rag.params.fit_kind`): one pattern with every cue read
# 36 of the pool's 651 questions as several-paper ones that ask about one paper ("How does X
# compare with Y?", "Why do mainstream methods ..."); the fitted weights, leave one set out, 1.
_CUES = {
    "paper_nouns": r"\b(?:papers|articles|abstracts|publications)\b",
    "work_nouns": r"(?<!paper )(?<!that )(?<!who )(?<!it )\b(?:studies|works)\b",  # the nouns, not "it studies"
    "method_nouns": r"\b(?:approaches|methods|techniques)\b",
    "collection": r"\b(?:this|the) (?:collection|corpus)\b",
    "work_on": r"\b(?:work|research) on\b",
    "literature": r"\bliterature\b",
    "compare_start": r"^\s*(?:compare|contrast)\b",
    "compare_any": r"\b(?:compare|comparison|contrast)\b",
    "which_plural": r"^\s*(?:which|what)\s+(?:\w+\s+){0,2}(?:papers|works|studies|approaches|methods|articles)\b",
    "singular": r"\b(?:the|this|a|one|its) (?:paper|work|study|article|approach|method|model|authors?)\b",
    "quantifier": r"\b(?:any|several|multiple|different|various|both|two|three|all)\b",
    "is_there": r"\b(?:are there|is there|have any)\b",
    "how_compare": r"\bhow (?:does|do|did) .* compare\b",
    "across": r"\b(?:across|among|between)\b",
    "their": r"\b(?:they|their|them)\b",
}
_CUE_PATTERNS = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in _CUES.items()}
SEVERAL_FEATURES = (*_CUES, "named", "asks_paper")
SEVERAL_PARAMS = Path(__file__).resolve().parent / "params" / "several_kind.json"


def several_features(text: str) -> dict[str, float]:
    """The cues the several-paper decision reads: each 1.0 when the question shows it."""
    values = {name: float(pattern.search(text) is not None) for name, pattern in _CUE_PATTERNS.items()}
    values["named"] = float(bool(named_terms(text)))
    values["asks_paper"] = float(_ASKS_PAPER.search(text) is not None)
    return values


def asks_several(text: str) -> bool:
    """Does the question ask about several papers ("Which papers use X?", "Compare the ...")?"""
    names, mean, scale, coef, intercept, threshold = _several_model()
    values = several_features(text)
    z = intercept + sum(c * (values[n] - m) / s for n, m, s, c in zip(names, mean, scale, coef, strict=True))
    return 1.0 / (1.0 + math.exp(-z)) >= threshold


@functools.lru_cache(maxsize=1)
def _several_model() -> tuple[list[str], list[float], list[float], list[float], float, float]:
    """The fitted weights, read as plain floats: the thin client (rag.client) analyses questions
    too and must not import numpy (what rag.linear.LinearModel scores with)."""
    data = read(SEVERAL_PARAMS)
    try:
        return (
            list(data["features"]),
            [float(v) for v in data["mean"]],
            [float(v) for v in data["scale"]],
            [float(v) for v in data["coef"]],
            float(data["intercept"]),
            float(data.get("threshold", 0.5)),
        )
    except (KeyError, ValueError, TypeError) as e:
        raise ConfigError(
            f"the fitted parameters in {SEVERAL_PARAMS} lack {e}",
            fix="refit them with python -m rag.params.fit_kind",
        ) from e


# "which paper ...", "what work ...", "paper showing ...": the answer is a title
_ASKS_PAPER = re.compile(
    r"\b(?:which|what|any)\s+(?:\w+\s+)?(?:paper|work|study|article|publication)\b(?!s)"
    r"|^\s*(?:the\s+)?(?:paper|work|study)\s+(?:that|which|showing|proving|where|on|about)\b",
    re.IGNORECASE,
)
# where a question asks a second thing: ", and which datasets ...", "... and how long ...",
# or a second question after a question mark
_NEXT_ASK = re.compile(
    r",?\s+and\s+(?=(?:(?:on|in|for|by|at|to|with|from|of)\s+)?(?:what|which|how|who|where|when|why)\b)"
    r"|(?<=\?)\s+(?=\S)",
    re.IGNORECASE,
)
# A question asking what something is or how it works names it first, often in ordinary words:
# "What are membership inference attacks?", "How does speculative decoding use ...?"
_DEFINES = re.compile(
    r"^(?:what (?:is|are)|how (?:does|do|is|are|can)|explain(?: how| what| why)?|why (?:is|are|does|do)"
    r"|describe|compare)\s+(?:the |a |an )?([a-z][\w'-]*(?: [a-z][\w'-]*){1,3})",
    re.IGNORECASE,
)
# words that end that subject: function words, the question's own verbs, and words about papers.
# Not the stop list (rag.text.STOP): "model" and "new" belong inside a subject ("consistency
# models"), where the stop list drops them.
_SUBJECT_ENDS = frozenset(
    """a an the of for in on to with and or by from that which this these those its their it is are was
    were be how what why does do did can could would should between versus vs use used using work works
    papers paper here studies articles publications collection corpus literature authors methods
    approaches i we you they there one two three four five six several many some all each first second""".split()  # noqa: SIM905
)
# A request for a summary rather than a question, in the ways people ask for one:
# "Summarize X", "sum up X", "Give me an overview of X", "overview of X?", "What does the
# collection cover on X?", "What do these papers say about X?", "what's in here on X", "Tell me
# about the work on X", "the work on X", and a bare topic ("spiking neural networks")
_REQUEST = re.compile(
    r"""^\s*(?:(?:please|pls|can\s+you|could\s+you|hey|ok)[\s,]+)*
    (?:
        (?:summari[sz]e|sum\s+up|recap|survey)
      | (?:give|show|get)\s+(?:me\s+|us\s+)?(?:an?\s+|the\s+)?(?:short\s+|brief\s+|quick\s+)?
        (?:summary|overview|rundown|run-down|big\s+picture|survey)(?:\s+(?:of|on|about))?
      | (?:write|make)\s+(?:me\s+)?an?\s+(?:summary|overview)(?:\s+(?:of|on|about))?
      | (?:an?\s+)?(?:summary|overview|survey|rundown)\s+(?:of|on|about)
      | what\s+(?:does|do)\s+(?:the|this)\s+(?:collection|corpus|papers?|abstracts)(?:\s+here)?\s+
        (?:cover|say|have|contain|report|find|tell\s+(?:me|us))\s+(?:on|about|regarding|for|of)
      | what\s+do\s+(?:these|the|those)\s+(?:papers|abstracts|works|studies)(?:\s+here)?\s+
        (?:say|report|find|propose|show|tell\s+(?:me|us))\s+(?:on|about|regarding|of)
      | what\s+(?:has|have)\s+(?:the\s+|this\s+)?(?:collection|corpus|papers?)\s+(?:got|to\s+say)\s+(?:on|about)
      | what(?:'s|\s+is)\s+(?:in\s+)?(?:here|there|the\s+collection|this\s+collection)\s+(?:on|about|for)
      | (?:tell\s+me|tell\s+us)\s+about(?=\s+(?:the\s+)?(?:work|research|papers|literature|studies)\b)
    )\s+(?P<rest>.+)$""",
    re.IGNORECASE | re.VERBOSE,
)
_WORK_ON = re.compile(
    r"^(?:(?:all|the)\s+)?(?:work|research|papers|literature|studies|articles)\s+(?:here\s+)?(?:on|about|in|into)\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
# what may stand between the request and its topic: "what the collection says about", "the work on"
_TOPIC_LEAD = re.compile(
    r"^(?:(?:what|how)\s+)?(?:the\s+|these\s+|this\s+)?(?:collection|corpus|papers?|abstracts)?(?:'s)?\s*"
    r"(?:(?:says?|reports?|finds?|proposes?|covers?|has|have|deals?\s+with|handles?|treats?|addresses|do\s+with)\s+)?"
    r"(?:(?:about|on|of|regarding)\s+)?(?:(?:that|which)\s+(?:describe|use|study|propose|cover|address)\s+)?"
    r"(?:(?:the\s+)?(?:work|research|papers|literature|studies|results|findings)\s+(?:here\s+)?(?:on|about|in)\s+)?",
    re.IGNORECASE,
)
# where the topic ends and its elaboration begins: "object detectors? yolo, faster r-cnn ..."
_TOPIC_END = re.compile(
    r"\?|:\s|\s[-\u2013\u2014]+\s|;|,?\s+(?:e\.g\.|i\.e\.|such as\b|including\b)|,\s+like\b|\s\(", re.I
)
_TOPIC_TAIL = re.compile(
    r"(?:\s+(?:in\s+here|here|in\s+the\s+collection|in\s+this\s+collection|stuff|pls|please|research|work|"
    r"papers|literature))+\s*$",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^\s*(?:what|which|who|whom|whose|when|where|why|how|is|are|was|were|do|does|did|can|could|should|would|will|"
    r"has|have|had|explain|compare|list|name|find|show|tell|give|describe|define)\b",
    re.IGNORECASE,
)
_BARE_WORDS = 20  # a bare topic is a noun phrase, not a long sentence
# a question typed without its mark still asks: "faster rcnn w/ vgg-16, how many fps does it run
# at". Without this, 23 of the pool's 1,037 questions were taken for bare topics and summarized
# (22 now are not, no summary request is lost; docs/decisions.md)
_ASKS_WITHIN = re.compile(r"\b(?:what|whats|which|how|why|who|when|where|whose|whom)\b", re.IGNORECASE)


# a bare text that asks for one paper is a question about it: "paper on crypto trading bots w/ NNs",
# "spiking net for self driving paper" (5 of the 25 questions the opened sets had taken for
# summaries; /tmp/s16/detect.py, docs/decisions.md)
_ONE_PAPER = re.compile(r"^\s*(?:the\s+|a\s+)?paper\b|\bpaper\s*$", re.IGNORECASE)
# a bare text that ends by naming a measure asks for it: "u2net model size", "usb fixmatch gpu
# days", "bilinear kb embedding freebase accuracy" (6 of the 11 bare texts the opened sets had
# taken for summaries; none of their 18 bare topics ends so; /tmp/s17/bare.py, docs/decisions.md).
# Singular measures only: plurals end topics ("adaptive learning rates", "gnns for music scores").
# "resnet accuracy on imagenet" asks the same with what it is measured on after it.
_SINGULAR_MEASURES = (
    r"rate|size|accuracy|acc|speed-?up|percentage|ratio|cost|latency|throughput|error|score|budget|depth|"
    r"width|length|duration|temperature|epochs|iterations|steps|days|hours|params|parameters|fps|lr|flops"
)
_ENDS_IN_MEASURE = re.compile(
    rf"\b(?:{_SINGULAR_MEASURES})(?:\s*[.!]?\s*$|\s+(?:on|for|of|at|with)\s+\S+(?:\s+\S+)?\s*[.!]?\s*$)",
    re.IGNORECASE,
)
# "gumbel softmax trick explained", "nnU-Net meaning": a bare text asking what something is
_ASKS_DEFINITION = re.compile(r"\b(?:explained|meaning|definition|defined)\s*[.!]?\s*$", re.IGNORECASE)
# a topic as shown starts with its noun, not an article: "adversarial robustness", not "the ..."
_LEADING_ARTICLE = re.compile(r"^(?:the|an?)\s+(?=\S)", re.IGNORECASE)


# a question that asks why, not a clause about why ("the theory paper on why graph networks lose
# information ...")
_ASKS_WHY = re.compile(r"^\s*(?:(?:so|and|but|ok|then)[\s,]+)?why\b|[,;:?]\s*why\b|\band\s+why\b", re.IGNORECASE)


# "what is X?" in the ways people ask it, X in group "x": "What is NorMuon?", "what's a KAN",
# "what does NorMuon do", "NorMuon: what is it?", "what is meant by benign overfitting",
# "explain MEDUSA", "NorMuon?" (the wordings of def-da/db's 100 blind questions, session 16)
_ARTICLE_X = r"(?:(?:a|an|the|this|these|that|those)\s+)?"
_THING = r"(?P<x>[^?:]+?)"
_THING_END = r"(?:\s+thing)?\s*[?.!]?\s*$"
_DEFINITIONAL = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        rf"^\s*what\s+is\s+meant\s+by\s+{_ARTICLE_X}{_THING}{_THING_END}",
        rf"^\s*what\s+(?:kind|sort|type)\s+of\s+\w+\s+(?:is|are)\s+{_ARTICLE_X}{_THING}{_THING_END}",
        rf"^\s*what\s+(?:does|do)\s+{_ARTICLE_X}{_THING}\s+(?:do|mean|stand\s+for)"
        rf"(?:\s+(?:when|in|to|for)\s+[^?]*)?{_THING_END}",
        # "what is X", "what's X", and "whats X" / "wat X" typed in a hurry; not "what datasets was ..."
        rf"^\s*(?:(?:so|ok|and|but)[\s,]+)?(?:what\s+(?:is|are|was|were)|what\s*'s|whats|wat(?:\s+is)?)\s+"
        rf"{_ARTICLE_X}{_THING}{_THING_END}",
        rf"^\s*{_ARTICLE_X}{_THING}\s*[:,\u2013\u2014-]?\s*what\s+(?:is|are)\s+(?:it|they|that|this|those)"
        rf"(?:\s*,[^?]*)?{_THING_END}",
        rf"^\s*(?:explain|define|describe)\s+{_ARTICLE_X}{_THING}{_THING_END}",
        rf"^\s*{_ARTICLE_X}{_THING}\s+(?:explained|meaning|definition|stands?\s+for\s+what){_THING_END}",
        # a name alone with a question mark ("NorMuon?"); a longer text asks about it ("UniFormer top-1?")
        rf"^\s*(?P<bare>{_THING})\s*\?\s*$",
    )
)
# what may follow the thing without being part of it: "ULR for nn training", "over-squashing in
# gnns", "superconductivity, simply put"
_THING_CONTEXT = re.compile(r"\s*,.*$|\s+(?:for|in|on|within|used\s+in|from|to)\s+.*$", re.IGNORECASE)
# a property of something ("the learning rate of DCGAN") or a question within is not a thing
_NOT_A_THING = re.compile(
    r"\b(?:what|which|who|how|why|when|where|does|do|did|is|are|was|were|of|best|between|vs|here)\b", re.I
)
_THING_WORDS = 5  # a thing is named in a few words; a longer text asks something else
# the thing with what follows it ("MEDUSA in medical imaging"): longer, and the text asks something
# else of it ("What is the reason for freezing the hidden layer of a network at random ...?" is no
# "what is reason"); the blind definition sets' questions had at most 10 words in all
_RAW_WORDS = 8
_BARE_WORDS_THING = 3  # "NorMuon?", "Neural Turing Machines?"; with nothing after it ("DiMSUM FID on ImageNet?")


def definition(text: str) -> tuple[str, str]:
    """What a "what is X?" question asks to have defined, in any of its wordings, and what it says
    of where ("MEDUSA", " in medical imaging"); ("", "") for any other text."""
    for pattern in _DEFINITIONAL:
        found = pattern.match(text)
        if found:
            raw = found.group("x")
            bare = "bare" in pattern.groupindex
            if len(raw.split()) > (_BARE_WORDS_THING if bare else _RAW_WORDS) or (
                bare and (_THING_CONTEXT.search(raw) or _ENDS_IN_MEASURE.search(raw))
            ):
                return "", ""
            where = _THING_CONTEXT.search(raw)  # it runs to the end of the text
            thing = (raw[: where.start()] if where else raw).strip(" ,.'\"")
            if not 0 < len(thing.split()) <= _THING_WORDS or _NOT_A_THING.search(thing):
                return "", ""
            # "in medical imaging" says which MEDUSA; ", in simple terms" says nothing of it
            context = where.group(0).rstrip(" ?.!") if where and not where.group(0).lstrip().startswith(",") else ""
            return thing, context
    return "", ""


# "abt": how "about" is typed in a hurry ("tell me abt the work on X")
_ABT = re.compile(r"\babt\b", re.IGNORECASE)


def summary_request(text: str) -> tuple[str, str] | None:
    """For a request for a summary, its topic as shown ("object detectors") and as searched for
    (the whole request after "Summarize", elaboration included); None for anything else."""
    text = _ABT.sub("about", text)
    match = _REQUEST.match(text) or _WORK_ON.match(text)
    if match:
        rest = match.group("rest")
        # a request within the request: "sum up what's in here on grokking"
        while (inner := _REQUEST.match(rest)) is not None:
            rest = inner.group("rest")
    elif (
        not _QUESTION_START.match(text)
        and "?" not in text
        and len(text.split()) <= _BARE_WORDS
        and not _ASKS_WITHIN.search(text)
        and not _ONE_PAPER.search(text)
        and not _ENDS_IN_MEASURE.search(text)
        and not _ASKS_DEFINITION.search(text)
    ):
        rest = text  # a bare topic
    else:
        return None
    rest = _WORK_ON.sub(r"\g<rest>", _TOPIC_LEAD.sub("", rest.strip(), count=1)).strip()
    query = re.sub(r"[?.!]\s+(?:give|show|tell|sum|and\s+give)\b.*$", "", rest, flags=re.I).strip(" ?.!")
    shown = _LEADING_ARTICLE.sub("", _TOPIC_TAIL.sub("", _TOPIC_END.split(rest, maxsplit=1)[0]).strip(" ,.?!"))
    if not shown:
        return None
    return shown, query or shown


@dataclass(frozen=True)
class Question:
    """A question as every stage reads it. Build it with `analyse`."""

    text: str  # white space normalised
    terms: frozenset[str]  # content terms (see rag.text.content_terms)
    named: tuple[str, ...]  # words that name something: "CLIP", "TopoNet", "Swin"
    parts: tuple[str, ...]  # the things it asks, in order; one part for most questions
    several: bool  # asks about several papers ("Which papers ...", "Compare ...")
    paper: bool  # asks which paper ("Which paper proposes ...?"): the answer names its title
    quantity: bool  # the answer is a number ("how many", "what learning rate did")
    name: bool  # the answer is a name ("which method", "what dataset")
    person: bool  # the answer is a person or a group ("who proposed", "which authors")
    subject: tuple[str, ...]  # the opening words of a "what is / how does" question's subject
    asked: str = ""  # what a "how many X / which X" question asks about: "GPU hardware", "teacher model"
    phrases: tuple[str, ...] = ()  # its runs of content words: "GPUs", "pretrain", "1.1B model"
    topic: str | None = None  # for a request for a summary, its topic as shown: "object detectors"
    topic_query: str | None = None  # and as searched for: the request after "Summarize", elaboration included
    premise: int = 0  # what a "why" question takes as given: 1 something rises or wins, -1 it falls or loses
    defined: str = ""  # what a "what is X?" question asks to have defined: "NorMuon"
    # what the pipeline reads (retrieval, evidence, the refusal decision): the text itself, but a
    # definition question in any wording ("explain X", "X meaning", "define X", "whats X") as
    # "What is X?", since its asking words are no topic and the fitted decisions know that form
    read_as: str = ""

    @property
    def is_summary_request(self) -> bool:
        return self.topic is not None


def validate(text: str, max_chars: int) -> str:
    """The text with white space normalised; raises QuestionError if it is unusable."""
    text = " ".join(text.split())
    if not text:
        raise QuestionError("the question is empty", fix='ask something, e.g. rag ask "What is grokking?"')
    if len(text) > max_chars:
        raise QuestionError(
            f"the question is {len(text):,} characters long; the limit is {max_chars:,}",
            fix="shorten it or raise RAG_MAX_QUESTION_CHARS",
        )
    return text


def analyse(text: str, max_chars: int = 2000) -> Question:
    """Validate `text` and read what it asks."""
    text = validate(text, max_chars)
    summary = summary_request(text)
    defined, where = definition(text) if summary is None else ("", "")
    read = f"What is {defined}{where}?" if defined else text
    quantity = _ASKS_QUANTITY.search(read) is not None
    return Question(
        text=text,
        terms=frozenset(content_terms(read)),
        named=tuple(named_terms(read)),
        parts=tuple(part for part in (p.strip() for p in _NEXT_ASK.split(read)) if part),
        several=asks_several(read),
        paper=_ASKS_PAPER.search(read) is not None,
        quantity=quantity,
        name=_ASKS_NAME.search(read) is not None and not quantity,
        person=_ASKS_PERSON.search(read) is not None,
        subject=tuple(_subject_words(read)),
        asked=_asked(read),
        phrases=tuple(_phrases(read)),
        topic=summary[0] if summary else None,
        topic_query=summary[1] if summary else None,
        premise=stated_direction(text) if _ASKS_WHY.search(text) else 0,
        defined=defined,
        read_as=read,
    )


def topic_phrase(request: str) -> str:
    """The topic of a summary request as shown ("Summarize the work on X" gives X); a text that is
    no request is its own topic."""
    found = summary_request(request)
    return found[0] if found else request.strip().rstrip("?.!").strip()


# "how many GPUs ...", "which teacher model does ...", "what bit-width ...": the words after the
# question word, up to a verb, a preposition or punctuation
_ASKED = re.compile(
    r"\b(?:how (?:many|much)|which|what(?: kind| type| sort)?(?: of)?)\s+((?:[\w^+-]+\s*){1,6})", re.IGNORECASE
)
_ASKED_ENDS = frozenset(
    """is are was were be been does do did has have had can could will would should may might of in on for to
    with by from at that when where whose as than and or if it they this these those there""".split()  # noqa: SIM905
)
_ASKED_SKIP = frozenset(
    ["the", "a", "an", "exact", "exactly", "exact", "actual", "actually", "specific", "main", "key", "new", "different"]
)


# "what is the name of the training method ...": the name is asked, of the training method
_NAME_OF = re.compile(
    r"\b(?:what|which)\s+(?:is|are|was|were)\s+(?:the\s+)?(?:name|names|number|size|value|type|kind)s?\s+of\s+", re.I
)


def _asked(text: str) -> str:
    """What a "how many X" or "which X" question asks about (empty for other questions)."""
    text = _NAME_OF.sub("which ", text, count=1)
    match = _ASKED.search(text)
    if not match:
        return ""
    words: list[str] = []
    for word in match.group(1).split():
        if word.lower() in _ASKED_ENDS or not re.match(r"[\w^]", word):
            break
        if word.lower() not in _ASKED_SKIP:
            words.append(word.strip(",.?;:"))
    return " ".join(words[:4])


# what separates the phrases of a question: function words, question words and verbs that ask
_PHRASE_BREAK = STOP | frozenset(
    """how many much which what who when where why does do did is are was were has have had be been can could
    would will should there here any some all each about paper papers work works study studies collection
    corpus tell give explain describe please me i you your they them their it its get got like actually
    exactly one ones thing things way ways kind type sort vs versus compare compared between""".split()  # noqa: SIM905
)


def _phrases(text: str) -> list[str]:
    """The question's runs of content words, split at function words and punctuation, at most
    four words each: what an answer must match, piece by piece."""
    phrases: list[str] = []
    for clause in re.split(r"[,;:?!()\[\]\"]|\.(?!\d)|\s-\s", text):
        run: list[str] = []
        for word in clause.split():
            if word.lower().strip("'") in _PHRASE_BREAK:
                if run:
                    phrases.append(" ".join(run))
                run = []
            else:
                run.append(word)
                if len(run) == 4:
                    phrases.append(" ".join(run))
                    run = []
        if run:
            phrases.append(" ".join(run))
    return [p for p in dict.fromkeys(phrases) if content_terms(p)]


def _subject_words(text: str) -> list[str]:
    """The words a "what is / how does / explain / compare" question opens its subject with."""
    match = _DEFINES.search(text.strip())
    words: list[str] = []
    for word in match.group(1).split() if match else []:
        if word.lower() in _SUBJECT_ENDS:
            break
        words.append(word)
    return words
