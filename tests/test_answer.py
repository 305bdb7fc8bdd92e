"""The answer loop with a scripted model over the real fixture store and the real embedder.

The fake model's replies are built from the prompt it receives (`prompt_sources`), so the tests
do not depend on which sentences the loop chose to show, only on what it does with the reply.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rag.answer import Answer, Answerer
from rag.citations import AnswerSentence, parse_sentences
from rag.errors import ConfigError, QuestionError
from rag.generation import FakeGenerator, guard_repetition
from rag.prompts import CANNOT_ANSWER, load_template
from rag.retrieval import PaperHit, Retrieval
from rag.service import RagService
from rag.settings import Settings

TVERSKY_QUESTION = "Which paper models similarity as a function of common and distinctive features?"
MULTI_SOURCE_QUESTION = "Which papers replace standard neural network layers with learnable functions?"
OFF_TOPIC_QUESTION = "Who wrote the novel Pride and Prejudice?"
GROKKING_SENTENCE = (
    "In this paper we propose to study generalization of neural networks on small algorithmically generated datasets."
)

MakeService = Callable[..., tuple[RagService, FakeGenerator]]
Sources = Callable[..., dict[int, tuple[str, list[str]]]]


def cite(sentence: str, *numbers: int) -> str:
    """'Claim.' -> 'Claim [1].', the way the prompt asks the model to cite."""
    return sentence.rstrip(".") + " " + "".join(f"[{n}]" for n in numbers) + "."


def generated(answer: Answer) -> list[AnswerSentence]:
    """The sentences the model wrote (an answer may also hold sentences quoted from sources)."""
    return [s for s in answer.sentences if getattr(s, "kind", "generated") == "generated"]


def same_text(a: str, b: str) -> bool:
    return a.split() == b.split()


def assert_citations_come_from_retrieval(answer: Answer) -> None:
    retrieved = {p.paper_id: p.title for p in answer.retrieved}
    for citation in answer.citations:
        assert retrieved.get(citation.paper_id) == citation.title


@pytest.fixture
def tversky(fixture_titles: set[str]) -> str:
    return next(t for t in fixture_titles if t.startswith("Tversky"))


# ---- citations ---------------------------------------------------------------------------------


def test_marker_maps_to_the_title_of_its_source(
    make_service: MakeService, prompt_sources: Sources, tversky: str
) -> None:
    service, fake = make_service(lambda m: cite(prompt_sources(m)[1][1][0], 1))
    answer = service.ask(TVERSKY_QUESTION)

    assert not answer.refused
    assert len(fake.calls) == 1
    shown = prompt_sources(fake.calls[0])
    assert shown[1][0] == tversky
    assert [(c.n, c.title) for c in answer.citations] == [(1, tversky)]
    citation = answer.citations[0]
    assert citation.paper_id == answer.retrieved[0].paper_id
    assert citation.snippet == shown[1][1][0]  # the quoted sentence is the one the answer used
    assert answer.sentences[0].citations == [1] and answer.sentences[0].supported
    assert answer.answer.endswith("[1]")
    assert answer.model == "fake" and answer.dropped_markers == 0 and answer.unsupported_sentences == 0


def test_the_models_lead_opens_with_the_title_it_cites(
    make_service: MakeService, prompt_sources: Sources, tversky: str
) -> None:
    """ "Which paper ...?" is answered in the first line in generative mode too."""
    service, _ = make_service(lambda m: cite(prompt_sources(m)[1][1][0], 1))
    shown: list[str] = []
    answer = service.ask(TVERSKY_QUESTION, on_text=shown.append)
    assert answer.answer.startswith(f'According to "{tversky}": ')
    assert same_text("".join(shown), answer.answer)

    service, _ = make_service(lambda m: f"The paper is {tversky}. [1]")  # names it already: no opener
    assert service.ask(TVERSKY_QUESTION).answer.startswith(f"The paper is {tversky}.")


def test_each_marker_maps_to_its_own_source(make_service: MakeService, prompt_sources: Sources) -> None:
    def reply(messages: list[dict[str, str]]) -> str:
        shown = prompt_sources(messages)
        return " ".join(cite(sentences[0], n) for n, (_, sentences) in sorted(shown.items(), reverse=True))

    service, fake = make_service(reply, prompt_sources=3, several_margin=1.0)  # show the model several sources
    answer = service.ask(MULTI_SOURCE_QUESTION)
    shown = prompt_sources(fake.calls[0])
    assert len(shown) >= 2, "the question should bring several sources"
    titles = {c.n: c.title for c in answer.citations}
    assert {n: titles.get(n) for n in shown} == {n: title for n, (title, _) in shown.items()}
    written = generated(answer)
    assert len(written) == len(shown)
    for sentence in written:
        [n] = sentence.citations
        assert sentence.text == shown[n][1][0]
    assert_citations_come_from_retrieval(answer)


@pytest.mark.parametrize("markers", [(1, 7), (7,)])
def test_out_of_range_marker_is_dropped_and_counted(
    make_service: MakeService, prompt_sources: Sources, tversky: str, markers: tuple[int, ...]
) -> None:
    service, _ = make_service(lambda m: cite(prompt_sources(m)[1][1][0], *markers))
    answer = service.ask(TVERSKY_QUESTION)
    assert answer.dropped_markers == 1
    assert "[7]" not in answer.answer
    # the sentence is still credited to the source that supports it
    assert [(c.n, c.title) for c in answer.citations] == [(1, tversky)]
    assert answer.sentences[0].citations == [1]


def test_a_title_never_retrieved_never_reaches_the_citations(
    make_service: MakeService, prompt_sources: Sources, tversky: str
) -> None:
    grokking = "Grokking: Generalization Beyond Overfitting on Small Algorithmic Datasets"

    def reply(messages: list[dict[str, str]]) -> str:
        first = prompt_sources(messages)[1][1][0]
        return f"{cite(first, 1)} {cite(GROKKING_SENTENCE, 2)} The paper {grokking} explains this [3]."

    service, _ = make_service(reply)
    answer = service.ask(TVERSKY_QUESTION, k=1)
    assert [p.title for p in answer.retrieved] == [tversky]
    assert [c.title for c in answer.citations] == [tversky]
    assert answer.dropped_markers == 2
    assert "algorithmically generated" not in answer.answer  # that claim has no retrieved source
    assert_citations_come_from_retrieval(answer)


# ---- the support check ---------------------------------------------------------------------------


def _invented_number(prompt_sources: Sources) -> Callable[[list[dict[str, str]]], str]:
    """A true first sentence, then a copy of a source sentence with its year changed."""

    def reply(messages: list[dict[str, str]]) -> str:
        sentences = prompt_sources(messages)[1][1]
        [dated] = [s for s in sentences if "1977" in s]
        return f"{cite(sentences[0], 1)} {cite(dated.replace('1977', '1985'), 1)}"

    return reply


def test_sentence_with_an_invented_number_is_dropped(make_service: MakeService, prompt_sources: Sources) -> None:
    service, _ = make_service(_invented_number(prompt_sources), unsupported="drop")
    answer = service.ask(TVERSKY_QUESTION)
    assert "1985" not in answer.answer
    assert answer.unsupported_sentences == 1
    [kept] = generated(answer)
    assert kept.supported and "1985" not in kept.text
    assert all(s.supported for s in answer.sentences)
    assert "(unsupported)" not in answer.answer
    assert all(c.n == 1 for c in answer.citations)


def test_sentence_with_an_invented_number_is_flagged(make_service: MakeService, prompt_sources: Sources) -> None:
    service, _ = make_service(_invented_number(prompt_sources), unsupported="flag")
    answer = service.ask(TVERSKY_QUESTION)
    assert answer.unsupported_sentences == 1
    [flagged] = [s for s in answer.sentences if "1985" in s.text]
    assert not flagged.supported and flagged.support == 0.0  # the number vetoes it outright
    assert re.search(r"1985.*\(unsupported\)", answer.answer)
    assert all("1985" not in c.snippet for c in answer.citations)


def test_a_wholly_unsupported_reply_falls_back_to_quoting(make_service: MakeService, fixture_papers: list) -> None:
    service, fake = make_service("Bananas are a good source of potassium [1]. They grow in warm countries [1].")
    answer = service.ask(TVERSKY_QUESTION)
    assert len(fake.calls) == 1
    assert "Bananas" not in answer.answer
    assert answer.unsupported_sentences == 2
    assert generated(answer) == []
    assert answer.notes  # the answer says why it only quotes
    abstracts = {p.paper_id: p.abstract for p in fixture_papers}
    assert answer.citations
    for sentence in answer.sentences:
        assert sentence.supported and sentence.citations
    for citation in answer.citations:
        assert citation.snippet in abstracts[citation.paper_id]


def test_the_models_own_refusal_is_noted_and_quoting_takes_over(make_service: MakeService) -> None:
    service, _ = make_service(CANNOT_ANSWER)
    answer = service.ask(TVERSKY_QUESTION)
    assert not answer.refused  # coverage, not the tiny model, decides refusals
    assert any("the model said" in note for note in answer.notes)
    assert CANNOT_ANSWER not in answer.answer
    assert answer.citations


# ---- refusal, repetition, extractive mode --------------------------------------------------------


def test_off_topic_question_is_refused_without_calling_the_model(make_service: MakeService) -> None:
    service, fake = make_service("This must never be seen [1].")
    answer = service.ask(OFF_TOPIC_QUESTION)
    assert answer.refused is True
    assert len(fake.calls) == 0
    assert answer.answer.startswith(CANNOT_ANSWER)
    assert answer.citations == [] and answer.sentences == []
    assert answer.coverage is not None and not answer.coverage.covered
    assert answer.timings["first_token_ms"] is None
    # the refusal names the nearest papers, all of them retrieved ones
    for paper in answer.retrieved[:3]:
        assert paper.title in answer.answer


def test_a_repetitive_reply_is_cut(make_service: MakeService, prompt_sources: Sources) -> None:
    def reply(messages: list[dict[str, str]]) -> str:
        return " ".join([cite(prompt_sources(messages)[1][1][0], 1)] * 12)

    service, fake = make_service(reply, max_tokens=1000)
    answer = service.ask(TVERSKY_QUESTION)
    first = prompt_sources(fake.calls[0])[1][1][0]
    assert answer.answer.count(first.rstrip(".")) == 1
    assert sum(s.text == first for s in answer.sentences) == 1


def test_a_cut_repetition_leaves_no_dangling_fragment(make_service: MakeService, prompt_sources: Sources) -> None:
    def reply(messages: list[dict[str, str]]) -> str:
        return " ".join([cite(prompt_sources(messages)[1][1][0], 1)] * 12)

    service, fake = make_service(reply, max_tokens=1000)
    answer = service.ask(TVERSKY_QUESTION)
    first = prompt_sources(fake.calls[0])[1][1][0]
    assert [s.text for s in generated(answer)] == [first]


def test_guard_repetition_stops_loops_and_passes_normal_text() -> None:
    normal = ["The model learns. ", "It generalizes later. ", "Then it stops."]
    assert "".join(guard_repetition(iter(normal))) == "".join(normal)

    looping_sentence = ["It works well. "] * 10
    assert "".join(guard_repetition(iter(looping_sentence))) == "It works well. "

    words = [w + " " for w in ("the loss goes down and then " * 20).split()]
    cut = "".join(guard_repetition(iter(words)))
    assert len(cut.split()) < 2 * 6 + 6  # stopped within a window of the first repeat
    assert cut.startswith("the loss goes down and then ")


@pytest.mark.parametrize("how", ["argument", "setting"])
def test_extractive_mode_never_calls_the_model_and_cites_every_sentence(
    make_service: MakeService, fixture_papers: list, how: str
) -> None:
    if how == "argument":
        service, fake = make_service("must not be used")
        answer = service.ask(MULTI_SOURCE_QUESTION, mode="extractive")
    else:
        service, fake = make_service("must not be used", mode="extractive")
        answer = service.ask(MULTI_SOURCE_QUESTION)
    assert len(fake.calls) == 0
    assert answer.mode == "extractive" and answer.model == "none"
    assert answer.sentences and answer.citations
    abstracts = {p.paper_id: p.abstract for p in fixture_papers}
    by_n = {c.n: c for c in answer.citations}
    for sentence in answer.sentences:
        assert sentence.supported and len(sentence.citations) == 1
        citation = by_n[sentence.citations[0]]
        assert sentence.text in abstracts[citation.paper_id]  # quoted verbatim from the cited paper
        assert sentence.rendered() in answer.answer
    assert_citations_come_from_retrieval(answer)


def test_a_several_paper_answer_quotes_each_paper_alike(make_service: MakeService) -> None:
    service, _ = make_service("must not be used", several_margin=1.0)
    several = service.ask(MULTI_SOURCE_QUESTION, mode="extractive")
    per_paper = [sum(s.citations == [c.n] for s in several.sentences) for c in several.citations]
    assert len(per_paper) >= 2 and set(per_paper) == {2}, per_paper
    one = service.ask(TVERSKY_QUESTION, mode="extractive")  # one paper: its sentences first, one of each other
    per_paper = [sum(s.citations == [c.n] for s in one.sentences) for c in one.citations]
    assert per_paper[0] == 3 and all(n == 1 for n in per_paper[1:]), per_paper


def test_the_answer_names_each_paper_it_quotes(make_service: MakeService) -> None:
    service, _ = make_service("must not be used", several_margin=1.0)
    shown: list[str] = []
    answer = service.ask(MULTI_SOURCE_QUESTION, mode="extractive", on_text=shown.append)
    paragraphs = answer.answer.split("\n\n")
    assert len(paragraphs) == len(answer.citations) >= 2
    for paragraph, citation in zip(paragraphs, answer.citations, strict=True):
        assert paragraph.startswith(f'From "{citation.title}" [{citation.n}]: ')
        quoted = [s for s in answer.sentences if s.citations == [citation.n]]
        assert quoted and all(s.rendered() in paragraph for s in quoted)
    assert same_text("".join(shown), answer.answer)


def test_a_several_paper_question_takes_papers_close_by_chunk_or_by_sentence() -> None:
    def hit(name: str, fused: float, sentence: float) -> PaperHit:
        return PaperHit(name, name, score=fused, fused=fused, sentence=sentence)

    best, by_chunk, by_sentence, far = (
        hit("best", 1.0, 0.60),
        hit("chunk", 0.95, 0.40),
        hit("sent", 0.5, 0.59),
        hit("far", 0.5, 0.4),
    )
    retrieval = Retrieval(
        "Which papers study it?", [best, by_chunk, by_sentence, far], [best, by_chunk, by_sentence, far], 1.0
    )
    stub = SimpleNamespace(
        settings=Settings(several_margin=0.08, several_sentence_margin=0.025), _papers=lambda ids: {}
    )
    chosen = Answerer.relevant(stub, "Which papers study it?", retrieval)  # type: ignore[arg-type]
    assert {p.paper_id for p in chosen} == {"best", "chunk", "sent"}


def _pick(
    sentences: list[str],
    vectors: list[list[float]],
    question: str,
    n: int,
    parts: Sequence[tuple[str, list[float]]] = (),
) -> list[tuple[int, str]]:
    """`pick_sentences` over one paper, on just enough of an Answerer; the question's vector is [1, 0, ...]."""
    stub = SimpleNamespace(
        retriever=SimpleNamespace(sentences=lambda paper_id: (sentences, np.array(vectors))),
        support=SimpleNamespace(remember=lambda *args: None),
    )
    stub.rank_sentences = lambda *args: Answerer.rank_sentences(stub, *args)  # type: ignore[arg-type]
    paper = SimpleNamespace(paper_id="p")
    asks = [(part, np.array(vector)) for part, vector in parts]
    vector = np.eye(len(vectors[0]))[0]
    return Answerer.pick_sentences(stub, question, vector, paper, n, asks)  # type: ignore[arg-type]


def test_each_part_of_a_question_gets_its_best_sentence() -> None:
    """The second part shares no word with its answer; its own vector finds it."""
    sentences = [
        "Each layer splits the input into two parallel branches.",
        "With two branches at three levels the network has 8 heads.",
        "Results on CIFAR show that one head beats the baseline.",
    ]
    vectors = [[0.95, 0.31, 0.0], [0.9, 0.44, 0.0], [0.2, 0.1, 0.97]]
    question = "How many heads does the branching network get, and on which image datasets was it tested?"
    parts = [
        ("How many heads does the branching network get", [0.95, 0.31, 0.0]),
        ("on which image datasets was it tested?", [0.0, 0.0, 1.0]),
    ]
    assert _pick(sentences, vectors, question, 2) == [(0, sentences[0]), (1, sentences[1])]
    assert _pick(sentences, vectors, question, 2, parts) == [(i, s) for i, s in enumerate(sentences)]


def test_a_two_part_question_gets_a_sentence_for_each_part() -> None:
    """Two paraphrases of the question's first part lose to one that answers its second part."""
    sentences = [
        "Grokking improves generalization long after overfitting.",
        "Generalization improves suddenly, well past overfitting, by grokking.",
        "Smaller datasets need more optimization steps.",
    ]
    vectors = [[0.95, 0.31], [0.94, 0.34], [0.5, 0.87]]
    question = "When does grokking improve generalization, and how many optimization steps do smaller datasets need?"
    assert _pick(sentences, vectors, question, 2) == [(0, sentences[0]), (2, sentences[2])]  # in abstract order


def test_a_several_paper_answer_quotes_where_each_paper_names_its_contribution() -> None:
    """ "Which papers ...?" is answered by what the papers are called: the sentence that names the
    paper's own method replaces its second-best sentence; a question about one paper keeps both."""
    sentences = [
        "Predicting the accuracy of an architecture is costly.",
        "Predictors estimate accuracy across search spaces from encodings.",
        "We present our predictor FLAN, built on these encodings.",
    ]
    vectors = [[0.95, 0.31], [0.9, 0.44], [0.3, 0.95]]
    several = "Which papers build predictors of architecture accuracy?"
    one = "How does the predictor estimate architecture accuracy?"
    assert _pick(sentences, vectors, several, 2) == [(0, sentences[0]), (2, sentences[2])]
    assert _pick(sentences, vectors, one, 2) == [(0, sentences[0]), (1, sentences[1])]


@pytest.mark.parametrize(
    ("sentences", "asked", "not_asked"),
    [
        (  # a quantity needs a number, and "(1)" is an enumerator, not a number
            [
                "We design a nested U-structure for salient object detection.",
                "The design has two advantages: (1) more context and (2) more depth.",
                "We also release a small version of the salient object detection model of 4.7 MB.",
            ],
            "How large is the small salient object detection model?",
            "What is the small salient object detection model?",
        ),
        (  # "which method" needs a name the question does not use
            [
                "Training neurons one by one replaces backpropagation.",
                "Each neuron is trained on its own.",
                "The method is compared with Particle Swarm Optimization.",
            ],
            "Which search method is the neuron-by-neuron training compared with?",
            "How are the neurons trained without backpropagation?",
        ),
    ],
    ids=["number", "name"],
)
def test_a_sentence_holding_what_the_question_asks_for_is_added(
    sentences: list[str], asked: str, not_asked: str
) -> None:
    vectors = [[0.95, 0.31], [0.9, 0.44], [0.3, 0.95]]
    assert _pick(sentences, vectors, asked, 1) == [(0, sentences[0]), (2, sentences[2])]
    assert _pick(sentences, vectors, not_asked, 1) == [(0, sentences[0])]


def test_streamed_text_matches_the_answer(make_service: MakeService, prompt_sources: Sources) -> None:
    service, _ = make_service(_invented_number(prompt_sources), unsupported="drop")
    shown: list[str] = []
    answer = service.ask(TVERSKY_QUESTION, on_text=shown.append)
    assert same_text("".join(shown), answer.answer)


def test_streamed_text_matches_the_answer_when_flagging(make_service: MakeService, prompt_sources: Sources) -> None:
    def reply(messages: list[dict[str, str]]) -> str:
        true, invented = _invented_number(prompt_sources)(messages).split(" [1]. ", 1)
        return f"{invented} {true} [1]."  # the flagged sentence first

    service, _ = make_service(reply, unsupported="flag")
    shown: list[str] = []
    answer = service.ask(TVERSKY_QUESTION, on_text=shown.append)
    streamed = "".join(shown)
    assert same_text(streamed, answer.answer)
    assert any(not s.supported for s in answer.sentences)
    for sentence in answer.sentences:  # each shown once: none repeated, the flagged one too
        assert streamed.count(sentence.text) == 1, sentence.text


def test_a_small_context_window_trims_sources_and_says_so(make_service: MakeService, prompt_sources: Sources) -> None:
    roomy, roomy_fake = make_service("Nothing useful [1].", max_tokens=64, prompt_sources=3)
    roomy_answer = roomy.ask(MULTI_SOURCE_QUESTION)
    tight, tight_fake = make_service("Nothing useful [1].", max_tokens=64, prompt_sources=3)
    tight_fake.n_ctx = 256  # the fake counts words as tokens
    tight_answer = tight.ask(MULTI_SOURCE_QUESTION)

    def trimmed(answer: Answer) -> bool:
        return any("context window" in note for note in answer.notes)

    assert not trimmed(roomy_answer)
    assert trimmed(tight_answer)  # said in the notes, never cut silently
    roomy_prompt = roomy_fake.calls[0]
    if tight_fake.calls:  # else nothing fitted and the answer is quoted only
        tight_prompt = tight_fake.calls[0]
        tight_words = sum(len(m["content"].split()) for m in tight_prompt)
        assert tight_words < sum(len(m["content"].split()) for m in roomy_prompt)
        assert tight_words + 8 * len(tight_prompt) <= 256 - 64 - 16
    assert not tight_answer.refused and tight_answer.citations


def test_questions_are_validated(make_service: MakeService) -> None:
    service, fake = make_service("unused", max_question_chars=50)
    for empty in ("", "   \n\t "):
        with pytest.raises(QuestionError, match="empty"):
            service.ask(empty)
    with pytest.raises(QuestionError, match="limit"):
        service.ask("why " * 20)
    assert fake.calls == []


# ---- parsing generated sentences -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("claim. [1] Next", [("claim.", [1]), ("Next", [])]),
        (
            "First claim [1]. Second claim [2, 3].",
            [("First claim.", [1]), ("Second claim.", [2, 3])],
        ),
        ("A claim [1][2][1].", [("A claim.", [1, 2])]),
        ("Claim.[1]", [("Claim.", [1])]),
        (
            "No markers at all. None here either.",
            [("No markers at all.", []), ("None here either.", [])],
        ),
        ("Line one [1].\nLine two [2].", [("Line one.", [1]), ("Line two.", [2])]),
        ("", []),
    ],
)
def test_parse_sentences_attaches_markers_to_their_sentence(text: str, expected: list[tuple[str, list[int]]]) -> None:
    assert [(s.text, s.citations) for s in parse_sentences(text)] == expected


def test_parse_sentences_does_not_double_the_period() -> None:
    assert [(s.text, s.citations) for s in parse_sentences("A claim. [1]. Next claim [2].")] == [
        ("A claim.", [1]),
        ("Next claim.", [2]),
    ]


# ---- prompt templates ----------------------------------------------------------------------------


def test_template_renders_exactly_its_variables(tmp_path: Path) -> None:
    (tmp_path / "t.system.txt").write_text("You answer about $topic. It costs $$5.\n")
    (tmp_path / "t.user.txt").write_text("Q: ${question}\n")
    template = load_template(tmp_path, "t")
    assert template.variables() == {"topic", "question"}
    assert template.id.startswith("t@")
    messages = template.render(topic="papers", question="why?")
    assert messages == [
        {"role": "system", "content": "You answer about papers. It costs $5."},
        {"role": "user", "content": "Q: why?"},
    ]
    with pytest.raises(ConfigError, match=r"missing \['question'\]"):
        template.render(topic="papers")
    with pytest.raises(ConfigError, match=r"unexpected \['extra'\]"):
        template.render(topic="papers", question="why?", extra="x")
    with pytest.raises(ConfigError, match="prompt template missing"):
        load_template(tmp_path, "nope")


def test_the_shipped_answer_template_renders() -> None:
    template = load_template(Settings().prompts_dir, "answer")
    messages = template.render(sources="[1] A title\nA sentence.", question="What?", cannot_answer=CANNOT_ANSWER)
    assert [m["role"] for m in messages] == ["system", "user"]
    text = "\n".join(m["content"] for m in messages)
    assert "[1] A title" in text and "What?" in text and "$" not in text
    with pytest.raises(ConfigError):
        template.render(sources="x", question="y")


def test_a_sentence_carrying_its_markers_inline_is_not_marked_twice() -> None:
    inline = AnswerSentence("Two themes: graphs [1][2] and speed [3].", [1, 2, 3], True, 1.0)
    assert inline.rendered() == "Two themes: graphs [1][2] and speed [3]."
    assert AnswerSentence("A claim.", [2], True, 1.0).rendered() == "A claim. [2]"
