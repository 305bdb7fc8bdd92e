"""The store behind a Chroma server (`RAG_CHROMA_URL`) behaves like the embedded store.

A real `chroma run --path DIR --port P` on 127.0.0.1 is started once for this module (CI too);
the tests ingest the fixture corpus into it with the real embedder and compare what comes back
with the embedded store's answers.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from chroma_helpers import chroma_collection
from servers import free_port, running

from rag.embedding import Embedder
from rag.errors import StoreError, StoreMismatchError
from rag.generation import FakeGenerator
from rag.ingest import IngestReport, ingest
from rag.service import RagService
from rag.settings import Settings
from rag.store import Fingerprint, Store


def _chroma_executable() -> str:
    beside_python = Path(sys.executable).with_name("chroma")  # the venv's console script
    found = str(beside_python) if beside_python.exists() else shutil.which("chroma")
    if found is None:
        pytest.fail("the `chroma` command (from the chromadb package) is not installed")
    return found


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Chroma server on a free loopback port, with its data in a temporary folder."""
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    command = [_chroma_executable(), "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running(command, f"{url}/api/v2/heartbeat", data / "server.log", timeout_s=60, env=env):
        yield url


@pytest.fixture
def collection_name(request: pytest.FixtureRequest) -> str:
    """One collection per test on the shared server, so tests cannot see each other's data."""
    return "t-" + request.node.name.replace("_", "-")[:50].strip("-")


def _ingest(url: str, name: str, corpus: Path, embedder: Embedder, folder: Path) -> IngestReport:
    """Ingest into the server; `folder` is the store folder, where the lexical index is kept
    even for a server collection (a temporary one: never the working folder)."""
    return ingest(corpus, Store(folder, name, url), embedder, 200, 1, batch_size=64)


def test_ingest_into_the_server_is_idempotent_and_resumable(
    chroma_url: str, collection_name: str, fixture_corpus: Path, embedder: Embedder, tmp_path: Path
) -> None:
    first = _ingest(chroma_url, collection_name, fixture_corpus, embedder, tmp_path / "ingest")
    assert first.papers == 6 and first.added_chunks == first.chunks > 0
    store = Store(tmp_path / "unused", collection_name, chroma_url)
    assert store.count() == first.chunks
    assert not (tmp_path / "unused").exists()  # a server store never creates a local folder

    assert _ingest(chroma_url, collection_name, fixture_corpus, embedder, tmp_path / "ingest").added_chunks == 0

    ids = sorted(c.chunk_id for c in store.iter_chunks())
    chroma_collection(chroma_url, collection_name).delete(ids=ids[:2])  # as if the last batch never reached the server
    assert _ingest(chroma_url, collection_name, fixture_corpus, embedder, tmp_path / "ingest").added_chunks == 2
    assert store.count() == first.chunks


def test_the_server_store_answers_like_the_embedded_one(
    chroma_url: str,
    collection_name: str,
    fixture_corpus: Path,
    fixture_store: Path,
    embedder: Embedder,
    make_service: Callable[..., tuple[RagService, FakeGenerator]],
    tmp_path: Path,
) -> None:
    _ingest(chroma_url, collection_name, fixture_corpus, embedder, tmp_path / "ingest")
    remote = RagService(
        # the lexical index is kept in the store folder even with a Chroma server: a tmp one here
        Settings(chroma_url=chroma_url, collection=collection_name, corpus_path=fixture_corpus, store_path=tmp_path),
        generator=FakeGenerator(""),
        embedder=embedder,
    )
    local, _ = make_service()

    assert [p.title for p in remote.papers()] == [p.title for p in local.papers()]
    for query in ("spiking neural networks", "medical image segmentation", "a question about nothing here"):
        ours, theirs = remote.search(query, 6), local.search(query, 6)
        assert [h["title"] for h in ours] == [h["title"] for h in theirs]
        assert [h["score"] for h in ours] == pytest.approx([h["score"] for h in theirs], abs=1e-4)
    info = remote.info()
    assert info["store"] == chroma_url and info["papers"] == 6


def test_the_server_collection_keeps_its_fingerprint_and_search_breadth(
    chroma_url: str, collection_name: str, fixture_corpus: Path, embedder: Embedder, tmp_path: Path
) -> None:
    _ingest(chroma_url, collection_name, fixture_corpus, embedder, tmp_path / "ingest")
    store = Store(tmp_path, collection_name, chroma_url, ef_search=300)
    configuration = chroma_collection(chroma_url, collection_name).configuration
    assert configuration["hnsw"]["ef_search"] == 300
    assert configuration["hnsw"]["space"] == "cosine"
    found = store.fingerprint()
    assert found is not None and found.dimension == embedder.dimension
    with pytest.raises(StoreMismatchError, match="rebuild"):
        store.check(Fingerprint("another-model@1234", found.chunking, found.dimension))


def test_an_unreachable_server_is_one_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(StoreError, match="cannot reach the Chroma server") as raised:
        Store(tmp_path, "papers", url)
    assert "RAG_CHROMA_URL" in str(raised.value)
