"""How an answer reads (rag.render): the lead (for a which-paper question opened by the title it
cites; for a question about several papers, their titles), then at most a few quotes, one per
line; unsupported sentences flagged; the citations with the source sentence that best backs
each; and a refusal that names the nearest papers."""

from __future__ import annotations

from rag.prompts import CANNOT_ANSWER
from rag.render import answer_text, citations, join, lead_line, refusal_text, shown, titles_lead, within
from rag.retrieval import PaperHit
from rag.types import AnswerSentence, Source

TVERSKY = Source(1, "t", "Tversky Neural Networks", ("Tversky similarity is learnable.", "It cuts perplexity."))
GROKKING = Source(2, "g", "Grokking", ("Networks generalize long after overfitting.",))
SOURCES = [TVERSKY, GROKKING]


def quote(text: str, n: int) -> AnswerSentence:
    return AnswerSentence(text, [n], True, 1.0, kind="quote")


def test_a_which_paper_lead_opens_with_the_title_it_cites() -> None:
    lead = quote(TVERSKY.sentences[0], 1)
    assert (
        lead_line(lead, SOURCES, names_title=True) == '"Tversky Neural Networks" [1]: Tversky similarity is learnable.'
    )
    assert lead_line(lead, SOURCES, names_title=False) == "Tversky similarity is learnable. [1]"
    names_it = AnswerSentence("Tversky Neural Networks learn similarity.", [1], True)
    assert lead_line(names_it, SOURCES, names_title=True) == "Tversky Neural Networks learn similarity. [1]"


def test_a_several_paper_answer_is_led_by_the_titles_each_cited() -> None:
    lead = titles_lead(SOURCES)
    assert lead.text == '2 papers in the collection: "Tversky Neural Networks" [1]; "Grokking" [2].'
    assert lead.citations == [1, 2] and lead.supported and lead.kind == "overview"
    assert lead.rendered() == lead.text  # its markers are inline: not repeated
    assert lead_line(lead, SOURCES, names_title=True) == lead.text
    assert titles_lead([GROKKING]).text.startswith("1 paper in the collection: ")


def test_the_answer_is_the_lead_then_one_quote_per_line_with_unsupported_sentences_flagged() -> None:
    lead = AnswerSentence("It was invented in 1850.", [1], False, 0.0)
    quotes = [quote(TVERSKY.sentences[1], 1), quote(GROKKING.sentences[0], 2)]
    pieces = answer_text(lead, quotes, SOURCES, names_title=False)
    assert pieces == [
        "It was invented in 1850. [1] (unsupported)",
        "> It cuts perplexity. [1]",
        "> Networks generalize long after overfitting. [2]",
    ]
    assert (
        join(pieces)
        == "It was invented in 1850. [1] (unsupported)\n\n> It cuts perplexity. [1]\n> Networks generalize long after overfitting. [2]"
    )
    assert (
        join(answer_text(None, quotes, SOURCES, names_title=False))
        == "> It cuts perplexity. [1]\n> Networks generalize long after overfitting. [2]"
    )
    assert join([]) == "" and shown(quotes[0]) == "It cuts perplexity. [1]"


def test_citations_are_the_supported_sentences_sources_with_their_best_snippet() -> None:
    sentences = [
        AnswerSentence("It cuts perplexity a lot.", [1], True, 0.9),
        AnswerSentence("Grokking is invented.", [2], False, 0.1),  # unsupported: not a citation
    ]
    [cited] = citations(sentences, SOURCES)
    assert (cited.n, cited.title, cited.paper_id, cited.snippet) == (
        1,
        "Tversky Neural Networks",
        "t",
        "It cuts perplexity.",
    )


def test_a_refusal_names_at_most_three_nearest_papers() -> None:
    nearest = [PaperHit(str(i), f"Paper {i}", 0.1) for i in range(5)]
    assert refusal_text(nearest) == f'{CANNOT_ANSWER} The nearest papers in it are: "Paper 0"; "Paper 1"; "Paper 2".'
    assert refusal_text([]) == CANNOT_ANSWER


def test_a_lead_opened_by_its_title_is_still_flagged_when_unsupported() -> None:
    lead = AnswerSentence("It was invented in 1850.", [1], False, 0.0)
    assert lead_line(lead, SOURCES, names_title=True).endswith("(unsupported)")


def test_quotes_that_would_pass_the_word_limit_are_left_out_in_order() -> None:
    lead = quote("Tversky similarity is learnable.", 1)  # shown: 5 words with its marker
    first = quote("It cuts perplexity by a lot on every benchmark.", 1)  # shown: 11 words
    second = quote("Networks generalize long after overfitting.", 2)  # shown: 7 words
    assert within(lead, [first, second], SOURCES, False, 0) == [first, second]  # 0: no limit
    assert within(lead, [first, second], SOURCES, False, 23) == [first, second]
    assert within(lead, [first, second], SOURCES, False, 22) == [first]
    # the first quote that does not fit ends the answer, even if a later one would fit
    assert within(lead, [first, second], SOURCES, False, 15) == []
    # the title a which-paper lead opens with counts: shown, that lead is 8 words, not 5
    assert within(lead, [first, second], SOURCES, True, 19) == [first]
    assert within(lead, [first, second], SOURCES, True, 18) == []
    # with no lead the first quote stays, whatever its length
    assert within(None, [first, second], SOURCES, False, 3) == [first]
    shown_words = len(
        join(answer_text(lead, within(lead, [first, second], SOURCES, False, 22), SOURCES, False)).split()
    )
    assert shown_words <= 22
