"""Word vectors kept beside the store (rag.words): written by the real ingest, read back by a new
process as it would read them, read before computing, and the same figures either way."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.alignment import ALIGNMENT_FEATURES
from rag.chunking import paper_sentences
from rag.corpus import Paper
from rag.embedding import Embedder
from rag.ingest import IngestReport
from rag.service import RagService
from rag.summary import WORD_FEATURES
from rag.words import KeptWords, folder_for

TEXTS = ["Sparse subnetworks train as fast as the dense network.", "We prune 90% of the weights."]


def kept(embedder: Embedder, folder: Path) -> KeptWords:
    words = KeptWords(folder)
    computed = embedder.word_vectors(TEXTS)
    assert computed is not None
    words.add(TEXTS, computed)
    return words


def test_kept_vectors_read_back_in_a_new_process_as_computed(embedder: Embedder, tmp_path: Path) -> None:
    kept(embedder, tmp_path)
    again = KeptWords(tmp_path)  # what another process opening the folder sees
    found = again.get([*TEXTS, "a sentence never kept"])
    assert set(found) == set(TEXTS) and len(again) == 2
    computed = embedder.word_vectors(TEXTS)
    assert computed is not None
    for text, (words, vectors) in zip(TEXTS, computed, strict=True):
        kept_words, kept_vectors = found[text]
        assert kept_words == words and kept_vectors.dtype == np.float32
        # float16 on disk: each word's vector within 0.999 cosine of the computed one
        assert np.min(np.sum(kept_vectors * vectors, axis=1)) > 0.999
    assert again.missing([TEXTS[0], "new"]) == ["new"]


def test_an_interrupted_or_damaged_segment_is_skipped_and_its_texts_computed_again(
    embedder: Embedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    words = kept(embedder, tmp_path)
    (tmp_path / "000001.npy").write_bytes(b"half a write")  # stopped before its .json
    (tmp_path / "000002.json").write_text("{not json")
    (tmp_path / "000002.npy").write_bytes(b"")
    again = KeptWords(tmp_path)
    assert len(again) == 2 and "unreadable" in caplog.text
    extra = embedder.word_vectors(["Another sentence entirely."])
    assert extra is not None
    again.add(["Another sentence entirely."], extra)  # numbered past every file there
    assert len(KeptWords(tmp_path)) == 3 and len(words) == 2
    assert json.loads((tmp_path / "000003.json").read_text()) == {"texts": 1, "words": len(extra[0][0])}


def test_the_embedder_reads_kept_vectors_before_computing(embedder: Embedder, tmp_path: Path) -> None:
    words = KeptWords(tmp_path)
    planted = (["Planted", "words"], np.ones((2, embedder.dimension), dtype=np.float32) / np.sqrt(embedder.dimension))
    words.add(["A planted text."], [planted])
    embedder.keep_words(words)
    try:
        got = embedder.word_vectors(["A planted text.", TEXTS[0]])
        assert got is not None and embedder.keeps_words
        assert got[0][0] == ["Planted", "words"]
        assert np.allclose(got[0][1], planted[1], atol=1e-3)
        assert got[1][0][0] == "Sparse"  # not kept: computed
    finally:
        embedder.keep_words(None)
    assert not embedder.keeps_words


def test_ingest_keeps_every_title_and_sentence_once(
    ingest_into: Callable[..., IngestReport], embedder: Embedder, fixture_papers: list[Paper], tmp_path: Path
) -> None:
    report = ingest_into(tmp_path / "store")
    assert any(n.startswith("word vectors of ") for n in report.notes)
    words = KeptWords(folder_for(tmp_path / "store", embedder.name))
    texts = [t for p in fixture_papers for t in (p.title, *paper_sentences(p.abstract))]
    assert words.missing(texts) == []
    again = ingest_into(tmp_path / "store")  # a re-run computes nothing
    assert not any(n.startswith("word vectors of ") for n in again.notes)


def test_kept_vectors_give_the_answers_the_same_alignment(
    make_service: Callable[..., tuple[RagService, object]], fixture_papers: list[Paper]
) -> None:
    question_text = "Which paper proposes a differentiable similarity measure?"
    sentences = paper_sentences(fixture_papers[0].abstract)
    # one embedder serves both: each service points it at its own kept vectors when built
    kept_service, _ = make_service()
    with_kept = kept_service.answerer.alignment(kept_service.analyse(question_text), sentences)
    live_service, _ = make_service(keep_word_vectors=False)
    live = live_service.answerer.alignment(live_service.analyse(question_text), sentences)
    assert with_kept is not None and live is not None
    for name in ALIGNMENT_FEATURES:
        assert with_kept.features()[name] == pytest.approx(live.features()[name], abs=2e-3)


def test_the_summaries_word_features_are_measured_not_read(
    make_service: Callable[..., tuple[RagService, object]],
) -> None:
    """The membership fit reports them (`fit_membership --words`); the shipped decision reads
    none, so asking for them changes no paper's probability."""
    service, _ = make_service()
    summarizer = service.summarizer
    topic = "similarity measures for neural networks"
    vector = service.embedder.embed_one(topic)
    plain = summarizer.candidates(topic, topic, vector)
    measured = summarizer.candidates(topic, topic, vector, words=True)
    assert plain and not set(WORD_FEATURES) & set(plain[0].features)
    assert all(set(WORD_FEATURES) <= set(c.features) for c in measured)
    assert [summarizer.membership.probability(c.features) for c in measured] == pytest.approx(
        [summarizer.membership.probability(c.features) for c in plain]
    )


def test_rag_ingest_keeps_none_when_turned_off(run: Callable[..., Any], fixture_corpus: Path, tmp_path: Path) -> None:
    off = run("ingest", fixture_corpus, env={"RAG_STORE_PATH": str(tmp_path / "off"), "RAG_KEEP_WORD_VECTORS": "false"})
    on = run("ingest", fixture_corpus, env={"RAG_STORE_PATH": str(tmp_path / "on")})
    assert off.exit_code == 0 and on.exit_code == 0, off.output + on.output
    assert not (tmp_path / "off" / "words").exists()
    assert len(list((tmp_path / "on" / "words").glob("*/*.npy"))) >= 1
    # `rag info` says which, and how to get them where a store has none
    assert "titles and sentences kept" in run("--store", tmp_path / "on", "info").stdout
    assert "none kept: `rag ingest` keeps them" in run("--store", tmp_path / "off", "info").stdout
    off_info = run("--store", tmp_path / "off", "info", "--json", env={"RAG_KEEP_WORD_VECTORS": "false"}).stdout
    assert json.loads(off_info)["word_vectors"].startswith("off (RAG_KEEP_WORD_VECTORS=false)")


def test_a_rebuild_finds_its_texts_kept(
    run: Callable[..., Any], fixture_corpus: Path, fixture_papers: list[Paper], embedder: Embedder, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    assert run("--store", store, "ingest", fixture_corpus).exit_code == 0
    segments = sorted((store / "words").glob("*/*.json"))
    rebuilt = run("--store", store, "ingest", "--rebuild", fixture_corpus)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert sorted((store / "words").glob("*/*.json")) == segments  # nothing computed again
    texts = [t for p in fixture_papers for t in (p.title, *paper_sentences(p.abstract))]
    assert KeptWords(folder_for(store, embedder.name)).missing(texts) == []
