"""Chunking: sentence-aware, overlapping, and always within what the embedder reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.chunking import Chunk, chunk_paper, chunk_papers, split_sentences
from rag.corpus import Paper, load_corpus, make_paper
from rag.embedding import Embedder

MAX_TOKENS = 200


@pytest.fixture(scope="module")
def full_chunks(full_corpus: Path, embedder: Embedder) -> tuple[list[Paper], list[Chunk]]:
    papers = load_corpus(full_corpus).papers
    return papers, chunk_papers(papers, embedder.count_tokens, MAX_TOKENS, 1)


def numbered_paper(n_sentences: int) -> Paper:
    abstract = " ".join(
        f"Sentence {i} reports that model number {i} improves the benchmark by a modest margin."
        for i in range(1, n_sentences + 1)
    )
    return make_paper("A synthetic paper about many numbered findings", abstract)


# ---- split_sentences ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "We test many encoders, e.g. BERT and RoBERTa. They all improve.",
            ["We test many encoders, e.g. BERT and RoBERTa.", "They all improve."],
        ),
        (
            "Results follow Smith et al. We confirm them.",
            ["Results follow Smith et al. We confirm them."],
        ),
        (
            "As shown in Fig. 3 the loss drops. Training is stable, i.e. No spikes occur.",
            ["As shown in Fig. 3 the loss drops.", "Training is stable, i.e. No spikes occur."],
        ),
        (
            "Accuracy reaches 7.5% on the test set. It was 3.2 before!",
            ["Accuracy reaches 7.5% on the test set.", "It was 3.2 before!"],
        ),
        ("Does it work? Yes. [1] cites it.", ["Does it work?", "Yes.", "[1] cites it."]),
        ("  ", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_split_sentences_keeps_closing_brackets_and_quotes() -> None:
    text = 'The gain is large (see the appendix.) We call it "grokking." Later work agrees.'
    assert split_sentences(text) == [
        "The gain is large (see the appendix.)",
        'We call it "grokking."',
        "Later work agrees.",
    ]


# ---- the bundled corpus fits the embedder --------------------------------------------------------


def test_every_chunk_of_the_full_corpus_fits_the_embedder(
    full_chunks: tuple[list[Paper], list[Chunk]], embedder: Embedder
) -> None:
    papers, chunks = full_chunks
    assert {c.paper_id for c in chunks} == {p.paper_id for p in papers}
    assert embedder.max_seq_length == 256
    for chunk in chunks:
        pieces = embedder.count_tokens(chunk.embed_text)  # what the model really reads: title + text
        assert pieces <= MAX_TOKENS, chunk.chunk_id
        assert pieces + 2 < 256, chunk.chunk_id  # with [CLS] and [SEP], nothing is truncated
    # the corpus does have abstracts longer than one chunk, so the limit is really exercised
    assert len(chunks) > len(papers)


def test_chunk_ids_are_paper_id_and_index_and_deterministic(
    full_chunks: tuple[list[Paper], list[Chunk]], full_corpus: Path, embedder: Embedder
) -> None:
    papers, chunks = full_chunks
    by_paper: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_paper.setdefault(chunk.paper_id, []).append(chunk)
    for paper_id, own in by_paper.items():
        assert [c.chunk_id for c in own] == [f"{paper_id}:{n}" for n in range(len(own))]
        assert [c.index for c in own] == list(range(len(own)))
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    again = chunk_papers(load_corpus(full_corpus).papers, embedder.count_tokens, MAX_TOKENS, 1)
    assert again == chunks


def test_neighbouring_chunks_of_the_full_corpus_share_one_sentence(
    full_chunks: tuple[list[Paper], list[Chunk]], embedder: Embedder
) -> None:
    papers, chunks = full_chunks
    titles = {p.paper_id: p.title for p in papers}
    pairs = [(a, b) for a, b in zip(chunks, chunks[1:], strict=False) if a.paper_id == b.paper_id]
    assert len(pairs) > 100, "the corpus should have many multi-chunk papers"
    overlapping = 0
    for a, b in pairs:
        last, first = split_sentences(a.text)[-1], split_sentences(b.text)[0]
        budget = MAX_TOKENS - embedder.count_tokens(titles[a.paper_id]) - 1
        if embedder.count_tokens(last) + embedder.count_tokens(first) > budget:
            continue  # the two sentences cannot share a chunk, so no overlap is possible
        assert (b.text + " ").startswith(last + " "), (a.chunk_id, b.chunk_id)
        assert last not in split_sentences(b.text)[1:]  # one sentence, not more
        overlapping += 1
    assert overlapping >= len(pairs) - 5


def test_no_chunk_only_repeats_its_predecessor(embedder: Embedder) -> None:
    # a short sentence, then one that nearly fills the budget on its own
    long_sentence = "The " + " ".join(f"word{i}" for i in range(55)) + " close the list."
    second = "A second short sentence follows it."
    abstract = f"Short opening sentences come first. {second} {long_sentence}"
    paper = make_paper("Overlap", abstract)
    chunks = chunk_paper(paper, embedder.count_tokens, max_tokens=120, overlap_sentences=1)
    # the second sentence (the overlap) and the long one do not fit together; the long one does
    budget = 120 - embedder.count_tokens(paper.title) - 1
    assert embedder.count_tokens(second) + embedder.count_tokens(long_sentence) > budget
    assert embedder.count_tokens(long_sentence) <= budget
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert not set(split_sentences(b.text)) <= set(split_sentences(a.text)), b.chunk_id


def test_overlap_is_exactly_the_configured_number_of_sentences(embedder: Embedder) -> None:
    paper = numbered_paper(30)
    sentences = split_sentences(paper.abstract)
    for overlap in (0, 1, 2):
        chunks = chunk_paper(paper, embedder.count_tokens, max_tokens=96, overlap_sentences=overlap)
        assert len(chunks) >= 4
        groups = [split_sentences(c.text) for c in chunks]
        for a, b in zip(groups, groups[1:], strict=False):
            shared = [s for s in b if s in a]
            assert shared == a[len(a) - overlap :] if overlap else shared == []
        # nothing is lost and the order is kept
        seen = [s for g in groups for s in g]
        assert sorted(set(seen), key=seen.index) == sentences
        for chunk in chunks:
            assert embedder.count_tokens(chunk.embed_text) <= 96


def test_a_very_long_sentence_is_split_between_words(embedder: Embedder) -> None:
    abstract = "An ordinary sentence comes first. The " + " ".join(f"token{i}" for i in range(400)) + "."
    paper = make_paper("A paper with one enormous sentence", abstract)
    chunks = chunk_paper(paper, embedder.count_tokens, max_tokens=64, overlap_sentences=1)
    assert len(chunks) > 5
    for chunk in chunks:
        assert embedder.count_tokens(chunk.embed_text) <= 64, chunk.chunk_id
        assert chunk.n_tokens <= 64
    # every word survives, in order (overlapping parts repeat some; keep first occurrences)
    words = list(dict.fromkeys(w for c in chunks for w in c.text.split()))
    assert words == abstract.split()


def test_short_abstract_is_one_chunk_with_title_in_embed_text(embedder: Embedder) -> None:
    paper = numbered_paper(2)
    [chunk] = chunk_paper(paper, embedder.count_tokens)
    assert chunk.chunk_id == f"{paper.paper_id}:0"
    assert chunk.text == paper.abstract
    assert chunk.embed_text == f"{paper.title}\n{paper.abstract}"
