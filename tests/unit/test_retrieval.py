"""Hybrid retrieval with the real embedder over the fixture store: paraphrases find their paper."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.chunking import chunk_papers, paper_sentences
from rag.corpus import load_corpus
from rag.embedding import Embedder
from rag.ingest import fingerprint
from rag.lexical import index_folder
from rag.retrieval import Retriever
from rag.store import Store
from rag.text import content_terms

# Each question paraphrases its paper without reusing a content word of the paper's title, so
# that only meaning (or abstract vocabulary) can find it.
PARAPHRASES = [
    (
        "Which work models likeness between objects through the features they share and the "
        "features that set them apart?",
        "Tversky Neural Networks",
    ),
    (
        "a layer that replaces linear projections and lowers perplexity with fewer parameters",
        "Tversky Neural Networks",
    ),
    (
        "networks that suddenly start predicting unseen inputs correctly long after memorizing their training data",
        "Grokking",
    ),
    (
        "embeddings trained by comparing distances among three examples, beating a Siamese architecture",
        "Deep metric learning using Triplet network",
    ),
    (
        "a pipeline that configures itself automatically for each new biomedical dataset and won "
        "the decathlon challenge",
        "nnU-Net",
    ),
    (
        "inferring temperature and velocity fields in convection flows from a few sparse sensor readings",
        "Physics-informed neural networks",
    ),
    (
        "putting learnable activation functions on edges instead of nodes to predict satellite traffic",
        "Kolmogorov-Arnold Networks",
    ),
]


@pytest.fixture(scope="module")
def retriever(fixture_store: Path, embedder: Embedder) -> Retriever:
    return Retriever(Store(fixture_store, "papers"), embedder)


@pytest.mark.parametrize(("question", "title_start"), PARAPHRASES, ids=[t for _, t in PARAPHRASES])
def test_paraphrased_question_puts_the_right_paper_first(
    retriever: Retriever, fixture_titles: set[str], question: str, title_start: str
) -> None:
    [title] = [t for t in fixture_titles if t.startswith(title_start)]
    assert not content_terms(question) & content_terms(title), "the paraphrase must not copy title words"
    result = retriever.retrieve(question, 5)
    assert result.papers[0].title == title, [p.title for p in result.papers]
    assert result.papers[0].score > result.papers[1].score


def test_results_are_ranked_papers_without_duplicates(retriever: Retriever, fixture_titles: set[str]) -> None:
    result = retriever.retrieve("neural networks", 3)
    assert len(result.papers) == 3
    assert len({p.paper_id for p in result.candidates}) == len(result.candidates) == 6
    scores = [p.score for p in result.candidates]
    assert scores == sorted(scores, reverse=True)
    assert result.papers == result.candidates[:3]
    assert {p.title for p in result.candidates} == fixture_titles
    for paper in result.candidates:
        assert -1.0 <= paper.dense <= 1.0
        assert paper.chunk_ids and all(cid.startswith(paper.paper_id + ":") for cid in paper.chunk_ids)


def test_a_question_of_stop_words_still_retrieves_by_meaning(retriever: Retriever) -> None:
    result = retriever.retrieve("Is it this, or is it that?", 2)
    assert result.lexical_max == 0.0  # no BM25 term, nothing crashes
    assert len(result.papers) == 2


def test_an_exact_rare_term_is_found(retriever: Retriever) -> None:
    result = retriever.retrieve("Penn Treebank", 5)
    assert result.papers[0].title.startswith("Tversky")
    assert result.lexical_max > 0


class CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, real: Embedder) -> None:
        self.real = real
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts += texts
        return self.real.embed(texts)

    def embed_one(self, text: str) -> np.ndarray:
        self.texts.append(text)
        return self.real.embed([text])[0]


def test_a_question_embeds_only_itself_since_ingest_stored_the_sentence_vectors(
    fixture_store: Path, embedder: Embedder
) -> None:
    counting = CountingEmbedder(embedder)
    retriever = Retriever(Store(fixture_store, "papers"), counting)  # type: ignore[arg-type]
    assert retriever.store.papers_without_sentence_vectors == 0
    question = "How does a learnable similarity layer lower perplexity?"
    result = retriever.retrieve(question, 5)
    assert counting.texts == [question]
    assert all(p.sentence != 0.0 for p in result.candidates[: retriever.rerank_depth])
    for paper in result.papers:  # the stored vectors are the model's (float16-rounded)
        sentences, stored = retriever.sentences(paper.paper_id)
        assert sentences == paper_sentences(retriever.papers[paper.paper_id].abstract)
        fresh = embedder.embed(sentences)
        assert np.min(np.sum(stored * fresh, axis=1)) > 0.999


def test_a_store_written_without_sentence_vectors_still_reranks(
    tmp_path: Path, fixture_corpus: Path, embedder: Embedder
) -> None:
    papers = load_corpus(fixture_corpus).papers
    chunks = chunk_papers(papers, embedder.count_tokens, 200, 1)
    store = Store(tmp_path / "store", "papers")
    store.create(fingerprint(embedder, 200, 1))
    store.upsert(chunks, embedder.embed([c.embed_text for c in chunks]), {p.paper_id: p for p in papers})
    counting = CountingEmbedder(embedder)
    retriever = Retriever(store, counting)  # type: ignore[arg-type]
    assert store.papers_without_sentence_vectors == len(papers)  # what `rag info` reports
    result = retriever.retrieve("Penn Treebank perplexity", 5)
    assert result.papers[0].title.startswith("Tversky")
    assert len(counting.texts) > 1  # the sentences had to be embedded now
    assert result.papers[0].sentence > 0.0


def test_chunk_vectors_by_id_equal_those_found_by_metadata(fixture_store: Path) -> None:
    store = Store(fixture_store, "papers")
    ids = [p.paper_id for p in store.papers()]  # reads the chunk counts
    by_id = store.chunk_vectors(ids)
    # a handle that never read the papers has no chunk counts, as for a store written before
    # they were recorded: it finds the vectors by their metadata
    by_filter = Store(fixture_store, "papers").chunk_vectors(ids)
    assert by_id.keys() == by_filter.keys() == set(ids)
    for pid in ids:
        assert sorted(map(tuple, by_id[pid])) == sorted(map(tuple, by_filter[pid]))


def test_chunk_vectors_are_read_from_the_store_once_per_paper(
    fixture_store: Path, embedder: Embedder, tmp_path: Path
) -> None:
    """Without the saved index's vectors (an old store's index), the store is read, once a paper."""
    shutil.copytree(fixture_store, tmp_path / "store")
    store = Store(tmp_path / "store", "papers")
    shutil.rmtree(index_folder(store) / "vectors")
    retriever = Retriever(store, embedder)
    assert retriever.lexical.vectors is None
    ids = sorted(retriever.papers)
    requested: list[str] = []
    read = store.chunk_vectors

    def counting(paper_ids: list[str]) -> dict[str, np.ndarray]:
        requested.extend(paper_ids)
        return read(paper_ids)

    store.chunk_vectors = counting  # type: ignore[method-assign]
    first = retriever.chunk_vectors(ids[:4])
    assert sorted(requested) == ids[:4]
    both = retriever.chunk_vectors(ids)
    assert sorted(requested) == sorted(ids)  # only the two not read before
    assert all(np.array_equal(first[pid], both[pid]) for pid in ids[:4])
    assert {pid: v.shape for pid, v in both.items()} == {pid: v.shape for pid, v in read(ids).items()}


def test_the_saved_vectors_are_the_stores_and_spare_reading_it(fixture_store: Path, embedder: Embedder) -> None:
    """Ingest saves every paper's sentence and chunk vectors beside the store; retrieval reads
    those and gets exactly what the store would have given."""
    store = Store(fixture_store, "papers")
    retriever = Retriever(store, embedder)
    ids = sorted(retriever.papers)

    def unread(paper_ids: list[str]) -> dict[str, np.ndarray]:
        raise AssertionError(f"the store was read for {paper_ids}")

    chunks = retriever.chunk_vectors(ids)
    sentences = retriever.load_sentences(ids)
    for pid, vectors in store.chunk_vectors(ids).items():
        assert np.array_equal(chunks[pid], vectors)
    for pid, vectors in store.sentence_vectors(ids).items():
        assert np.array_equal(sentences[pid][1], vectors)
    quiet = Retriever(Store(fixture_store, "papers"), embedder)
    quiet.store.chunk_vectors = unread  # type: ignore[method-assign]
    quiet.store.sentence_vectors = unread  # type: ignore[method-assign]
    assert [p.paper_id for p in quiet.retrieve("similarity of features", 5).candidates] == [
        p.paper_id for p in retriever.retrieve("similarity of features", 5).candidates
    ]
