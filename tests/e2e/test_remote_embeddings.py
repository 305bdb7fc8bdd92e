"""Embedding through an OpenAI-compatible /v1/embeddings server (`RAG_EMBED_BASE_URL`).

The server is tests/embeddings_server.py, a real uvicorn process on a free 127.0.0.1 port that
serves the real bundled embedder. An ingest through it must cut exactly the chunks a local
ingest cuts (same ids), with the same vectors, and the store must record the server's model so
that it never mixes those vectors with the local embedder's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from chroma_helpers import chroma_collection
from embeddings_server import MODEL, TRUNCATED
from servers import free_port, running

from rag.chunking import chunk_papers
from rag.corpus import load_corpus
from rag.embedding import Embedder, RemoteEmbedder
from rag.errors import ConfigError, StoreMismatchError
from rag.ingest import fingerprint, ingest
from rag.service import RagService
from rag.settings import Settings, bundled_embedder_path
from rag.store import Store
from rag.words import KeptWords, folder_for

SERVER = Path(__file__).resolve().parent.parent / "embeddings_server.py"
START_TIMEOUT_S = 300  # the child imports torch and loads the embedder on a busy machine


@pytest.fixture(scope="module")
def embed_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("embeddings-server") / "server.log"
    command = [sys.executable, str(SERVER), "--port", str(port)]
    with running(
        command, f"http://127.0.0.1:{port}/v1/models", log_path, timeout_s=START_TIMEOUT_S, env=dict(os.environ)
    ):
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="module")
def remote_store(tmp_path_factory: pytest.TempPathFactory, embed_base_url: str, fixture_corpus: Path) -> Path:
    """The fixture corpus ingested through the server, in batches of 8 texts per request."""
    path = tmp_path_factory.mktemp("remote") / "store"
    remote = RemoteEmbedder(embed_base_url, bundled_embedder_path(), MODEL, batch_size=8)
    ingest(fixture_corpus, Store(path, "papers"), remote, 200, 1, batch_size=64)
    return path


def stored(store_path: Path) -> dict[str, np.ndarray]:
    page = chroma_collection(store_path).get(include=["embeddings"])
    return {cid: np.asarray(v, dtype=np.float32) for cid, v in zip(page["ids"], page["embeddings"], strict=True)}


def test_a_remote_ingest_keeps_no_word_vectors_and_says_so(
    embed_base_url: str, fixture_corpus: Path, tmp_path: Path
) -> None:
    """`rag ingest` asks for word vectors by default; a server has none to give."""
    remote = RemoteEmbedder(embed_base_url, bundled_embedder_path(), MODEL, batch_size=8)
    words = KeptWords(folder_for(tmp_path / "store", remote.name))
    report = ingest(fixture_corpus, Store(tmp_path / "store", "papers"), remote, 200, 1, batch_size=64, words=words)
    assert report.added_chunks == report.chunks > 0
    assert "the embedder gives no word vectors: none kept" in report.notes
    assert len(words) == 0


def test_a_remote_ingest_stores_the_local_chunks_and_vectors(remote_store: Path, fixture_store: Path) -> None:
    remote, local = stored(remote_store), stored(fixture_store)
    assert sorted(remote) == sorted(local)
    cosines = [float(remote[cid] @ local[cid]) for cid in local]
    assert min(cosines) > 0.999


def test_the_store_records_the_servers_model_and_refuses_the_local_embedder(
    remote_store: Path, embedder: Embedder
) -> None:
    store = Store(remote_store, "papers")
    found = store.fingerprint()
    assert found is not None and found.embedder == MODEL and found.dimension == 384
    with pytest.raises(StoreMismatchError, match=MODEL):
        store.check(fingerprint(embedder, 200, 1))


def test_the_service_embeds_questions_through_the_server(
    remote_store: Path, embed_base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RAG_EMBED_BASE_URL alone: the model is the first the server lists, and retrieval works on
    the store built through it."""
    monkeypatch.setenv("RAG_EMBED_BASE_URL", embed_base_url)
    service = RagService(Settings(store_path=remote_store))
    assert isinstance(service.embedder, RemoteEmbedder)
    service.fingerprint_check()
    hits = service.search("networks that generalize long after they memorized their training data", 3)
    assert hits[0]["title"].startswith("Grokking")


def test_a_question_is_answered_through_the_server_without_word_vectors(
    remote_store: Path, embed_base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server gives one vector a text, so the answerability decision has no word-by-word
    alignment (rag.alignment): it decides on the other features, reading those as the pool's mean."""
    monkeypatch.setenv("RAG_EMBED_BASE_URL", embed_base_url)
    service = RagService(Settings(store_path=remote_store))
    assert service.embedder.word_vectors(["What is grokking?"]) is None
    answer = service.ask("What is grokking?", mode="extractive")
    assert answer.coverage is not None and answer.coverage.covered
    assert "word_recall" not in answer.coverage.signals and "dense" in answer.coverage.signals
    assert any(c.title.startswith("Grokking") for c in answer.citations)


def test_a_server_that_is_down_is_one_line_with_the_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        RemoteEmbedder(f"http://127.0.0.1:{free_port()}/v1", bundled_embedder_path(), MODEL)
    message = str(caught.value)
    assert "cannot reach the embeddings server" in message and "\n" not in message
    assert message.endswith("(start it, or unset RAG_EMBED_BASE_URL)")


def test_an_unknown_model_names_the_setting(embed_base_url: str) -> None:
    with pytest.raises(ConfigError, match=r"answered 404.*RAG_EMBED_MODEL \(no-such-model\)"):
        RemoteEmbedder(embed_base_url, bundled_embedder_path(), "no-such-model")


def test_a_server_whose_dimension_changed_is_refused_by_the_store(embed_base_url: str, remote_store: Path) -> None:
    smaller = RemoteEmbedder(embed_base_url, bundled_embedder_path(), TRUNCATED)
    assert smaller.name == MODEL and smaller.dimension == 128
    with pytest.raises(StoreMismatchError, match="384-dimensional vectors of all-MiniLM-L6-v2.*gives 128"):
        Store(remote_store, "papers").check(fingerprint(smaller, 200, 1))


def test_the_tokenizer_alone_counts_word_pieces_as_the_local_model_does(
    embed_base_url: str, embedder: Embedder, fixture_papers: list
) -> None:
    remote = RemoteEmbedder(embed_base_url, bundled_embedder_path(), MODEL)
    texts = [p.abstract for p in fixture_papers] + [r"LaTeX $\mathcal{O}(n^2)$ and https://example.org/x?y=1"]
    assert [remote.count_tokens(t) for t in texts] == [embedder.count_tokens(t) for t in texts]
    assert remote.vocabulary() == embedder.vocabulary()


def test_the_bundled_corpus_is_cut_into_the_chunks_a_local_ingest_cuts(
    embed_base_url: str, embedder: Embedder, full_corpus: Path
) -> None:
    """Chunk ids follow from the chunks alone, so the whole bundled corpus (261 papers) is
    checked without embedding it twice: the same ids, texts and word-piece counts."""
    remote = RemoteEmbedder(embed_base_url, bundled_embedder_path(), MODEL)
    papers = load_corpus(full_corpus).papers
    through_server = chunk_papers(papers, remote.count_tokens, 200, 1)
    local = chunk_papers(papers, embedder.count_tokens, 200, 1)
    assert len(local) > 500
    assert through_server == local
