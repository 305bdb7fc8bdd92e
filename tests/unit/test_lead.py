"""The model's lead (rag.lead): each sentence shown only once the support check kept it, the
sources fitted to the context window, loops cut, and the model's own refusal noted. Through the
answer loop with a scripted model over the real fixture store, and directly on one source."""

from __future__ import annotations

import re
from collections.abc import Callable

from answer_helpers import TVERSKY_QUESTION, Sources, cite, generated, invented_number, same_text

from rag.embedding import Embedder
from rag.generation import FakeGenerator
from rag.lead import fit_sources, format_sources, write_lead
from rag.prompts import CANNOT_ANSWER, load_template
from rag.question import analyse
from rag.service import RagService
from rag.settings import Settings
from rag.support import SupportChecker
from rag.types import Answer, Source

MakeService = Callable[..., tuple[RagService, FakeGenerator]]

TVERSKY = Source(
    1,
    "t",
    "Tversky Neural Networks",
    (
        "We develop a differentiable parameterization of Tversky's similarity that is learnable through gradient descent.",
        "Replacing linear projection layers in a language model with Tversky projection layers reduces perplexity by 7.5% "
        "on the Penn Treebank dataset while using 34.8% fewer parameters.",
        "The similarity is a function of the common and distinctive features of two objects.",
    ),
)
GRAPHS = Source(
    2,
    "g",
    "Graph networks",
    (
        "Graph neural networks pass messages between neighbouring nodes.",
        "Attention over neighbours helps when node degrees vary widely.",
    ),
)


# ---- the support gate, through the answer loop -----------------------------------------------------


def test_sentence_with_an_invented_number_is_dropped(make_service: MakeService, prompt_sources: Sources) -> None:
    service, _ = make_service(invented_number(prompt_sources), unsupported="drop")
    answer = service.ask(TVERSKY_QUESTION)
    assert "1985" not in answer.answer
    assert answer.unsupported_sentences == 1
    [rejected] = answer.rejected
    assert "1985" in rejected.text and rejected.check == "number 1985 is not in the source"
    assert all(s.supported for s in answer.sentences)
    assert "(unsupported)" not in answer.answer
    assert all(c.n == 1 for c in answer.citations)


def test_sentence_with_an_invented_number_is_flagged(make_service: MakeService, prompt_sources: Sources) -> None:
    """With "flag", a lead the check rejected is shown marked, when the model wrote nothing better."""
    service, _ = make_service(invented_number(prompt_sources, alone=True), unsupported="flag")
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


def test_a_repetitive_reply_is_cut(make_service: MakeService, prompt_sources: Sources) -> None:
    def reply(messages: list[dict[str, str]]) -> str:
        return " ".join([cite(prompt_sources(messages)[1][1][0], 1)] * 12)

    service, fake = make_service(reply, max_tokens=1000)
    answer = service.ask(TVERSKY_QUESTION)
    first = prompt_sources(fake.calls[0])[1][1][0]
    assert sum(s.text == first for s in generated(answer)) == 1
    assert answer.answer.count(first.rstrip(".")) <= 2  # the model's copy, and at most its source quoted


def test_a_lead_that_copies_its_source_sentence_is_not_quoted_again(
    make_service: MakeService, prompt_sources: Sources
) -> None:
    service, fake = make_service(lambda m: cite(prompt_sources(m)[1][1][0], 1))
    answer = service.ask(TVERSKY_QUESTION)
    first = prompt_sources(fake.calls[0])[1][1][0]
    assert answer.answer.count(first.rstrip(".")) == 1


def test_a_cut_repetition_leaves_no_dangling_fragment(make_service: MakeService, prompt_sources: Sources) -> None:
    def reply(messages: list[dict[str, str]]) -> str:
        return " ".join([cite(prompt_sources(messages)[1][1][0], 1)] * 12)

    service, fake = make_service(reply, max_tokens=1000)
    answer = service.ask(TVERSKY_QUESTION)
    first = prompt_sources(fake.calls[0])[1][1][0]
    assert [s.text for s in generated(answer)] == [first]


def test_streamed_text_matches_the_answer_when_flagging(make_service: MakeService, prompt_sources: Sources) -> None:
    service, _ = make_service(invented_number(prompt_sources, alone=True), unsupported="flag")
    shown: list[str] = []
    answer = service.ask(TVERSKY_QUESTION, on_text=shown.append)
    streamed = "".join(shown)
    assert same_text(streamed, answer.answer)
    assert any(not s.supported for s in answer.sentences)
    for sentence in answer.sentences:  # each shown once: none repeated, the flagged one too
        assert streamed.count(sentence.text) == 1, sentence.text


def test_a_small_context_window_trims_sources_and_says_so(make_service: MakeService, prompt_sources: Sources) -> None:
    # a one-paper question: the model writes the lead of those only (several papers are led by their titles)
    roomy, roomy_fake = make_service("Nothing useful [1].", max_tokens=64, prompt_sources=3)
    roomy_answer = roomy.ask(TVERSKY_QUESTION)
    # the fake counts words as tokens
    tight, tight_fake = make_service(FakeGenerator("Nothing useful [1].", n_ctx=256), max_tokens=64, prompt_sources=3)
    tight_answer = tight.ask(TVERSKY_QUESTION)

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


# ---- the lead on its own -------------------------------------------------------------------------


def test_write_lead_keeps_what_the_check_passes_and_counts_the_rest(embedder: Embedder) -> None:
    true, invented = TVERSKY.sentences[0], "Tversky layers were invented in 1850 by 400 chemists."
    model = FakeGenerator(f"{cite(invented, 1)} {cite(true, 1)} An unfinished")
    template = load_template(Settings().store.prompts_dir, "answer")

    lead = write_lead(
        model, template, analyse("What is a Tversky layer?"), [TVERSKY], SupportChecker(embedder, 0.6), 120
    )

    assert [s.text for s in lead.kept] == [true] and lead.kept[0].citations == [1]
    assert lead.rejected == 1 and lead.written[0].check == "number 1850 is not in the source"
    assert lead.model == "fake" and lead.first_token_ms is not None
    assert "[1] Tversky Neural Networks\n" in model.calls[0][-1]["content"]  # the prompt numbers its sources


def test_each_marker_maps_to_its_own_source(embedder: Embedder) -> None:
    """Shown two sources, a model citing each for its own sentence keeps both, each cited; a
    marker for a source not shown is dropped and counted. (`accept` refusing every sentence makes
    the model write on: by default the first sentence that passes ends the lead.)"""
    model = FakeGenerator(
        f"{cite(GRAPHS.sentences[0], 2)} {cite(TVERSKY.sentences[2], 1)} {cite(TVERSKY.sentences[0], 7)}"
    )
    template = load_template(Settings().store.prompts_dir, "answer")
    checker = SupportChecker(embedder, 0.6)

    lead = write_lead(
        model, template, analyse("How do layers compare?"), [TVERSKY, GRAPHS], checker, 120, accept=lambda s: False
    )

    assert [(s.text, s.citations) for s in lead.kept] == [
        (GRAPHS.sentences[0], [2]),
        (TVERSKY.sentences[2], [1]),
        (TVERSKY.sentences[0], [1]),  # credited to the source that supports it
    ]
    assert lead.dropped_markers == 1


def test_the_first_sentence_that_passes_ends_the_lead(embedder: Embedder) -> None:
    """One lead is all an answer uses: the model is stopped once a sentence passes."""
    model = FakeGenerator(" ".join(cite(s, 1) for s in TVERSKY.sentences))
    template = load_template(Settings().store.prompts_dir, "answer")

    lead = write_lead(
        model, template, analyse("What is a Tversky layer?"), [TVERSKY], SupportChecker(embedder, 0.6), 120
    )

    assert [s.text for s in lead.kept] == [TVERSKY.sentences[0]] and lead.rejected == 0


def test_fit_sources_shortens_then_drops_sources_and_says_so() -> None:
    template = load_template(Settings().store.prompts_dir, "answer")
    sources = [TVERSKY, GRAPHS]

    def fit(n_ctx: int) -> tuple[list[Source], list[dict[str, str]], list[str]]:
        notes: list[str] = []
        kept, messages = fit_sources(FakeGenerator("", n_ctx=n_ctx), template, "Q?", sources, 64, notes)
        return kept, messages, notes

    roomy, _, notes = fit(2048)
    assert roomy == sources and notes == []
    needed = sum(len(m["content"].split()) + 8 for m in fit(2048)[1]) + 64 + 16  # words are the fake's tokens
    kept, messages, notes = fit(needed - 10)
    assert notes and all("context window" in n for n in notes)  # said, never cut silently
    assert sum(len(s.sentences) for s in kept) < sum(len(s.sentences) for s in sources)
    assert sum(len(m["content"].split()) + 8 for m in messages) <= needed - 10 - 64 - 16
    kept, messages, notes = fit(100)  # not even the question and one sentence fit
    assert (kept, messages) == ([], []) and "answering by quotes only" in notes[-1]


def test_format_sources_numbers_each_source_under_its_title() -> None:
    assert format_sources([GRAPHS]) == "[2] Graph networks\n" + " ".join(GRAPHS.sentences)
