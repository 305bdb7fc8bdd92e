"""Shared fixtures: one real embedder per session, one real Chroma store of the fixture corpus.

Everything here is real (sentence-transformers, Chroma on disk under a tmp folder); only the
language model is replaced, and only in the tests that say so. Test modules get what they need
through fixtures, never `import conftest` (another conftest.py below tests/ would shadow it).

The tests mirror the package: tests/unit/test_<module>.py for each module of rag/, tests/api/
for the HTTP routes, tests/e2e/ for what runs the real bundled model, a real Chroma server, a
real OpenAI-compatible server or a headless browser. The API's fixtures (tests/api_fixtures.py)
are a plugin of this conftest, so that tests/api and tests/e2e share one service.
"""

from __future__ import annotations

import os

# before anything imports transformers or chromadb: never reach for a hub, never phone home
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import re  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from click.testing import CliRunner, Result  # noqa: E402

from rag.chunking import split_sentences  # noqa: E402
from rag.cli import cli  # noqa: E402
from rag.corpus import Paper, load_corpus  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.generation import FakeGenerator  # noqa: E402
from rag.ingest import IngestReport, ingest  # noqa: E402
from rag.service import RagService  # noqa: E402
from rag.settings import PROJECT_DIR, Settings, bundled_embedder_path  # noqa: E402
from rag.store import Store  # noqa: E402
from rag.words import KeptWords, folder_for  # noqa: E402

FIXTURE_CORPUS = Path(__file__).resolve().parent / "fixtures" / "papers.txt"
FULL_CORPUS = PROJECT_DIR / "corpus" / "papers.txt"

# The settings every store below is built with (the defaults, spelled out so that a changed
# default shows up here rather than as a confusing fingerprint mismatch).
CHUNK_MAX_TOKENS = 200
CHUNK_OVERLAP = 1

# the app over a real service, for tests/api and tests/e2e (tests/ is on sys.path: see servers.py)
pytest_plugins = ["api_fixtures"]

Messages = Sequence[dict[str, str]]
Reply = str | Callable[[Messages], str]


@pytest.fixture(autouse=True)
def _no_rag_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read RAG_* variables: a developer's shell must not change what the tests see."""
    for name in list(os.environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def fixture_corpus() -> Path:
    """tests/fixtures/papers.txt: six papers, page-chrome lines, a glued "Subscribe" prefix."""
    return FIXTURE_CORPUS


@pytest.fixture(scope="session")
def full_corpus() -> Path:
    """The bundled corpus/papers.txt (261 papers)."""
    return FULL_CORPUS


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real bundled all-MiniLM-L6-v2, loaded once for the whole run."""
    return Embedder(bundled_embedder_path())


@pytest.fixture(scope="session")
def fixture_papers() -> list[Paper]:
    return load_corpus(FIXTURE_CORPUS).papers


@pytest.fixture(scope="session")
def fixture_titles(fixture_papers: list[Paper]) -> set[str]:
    return {p.title for p in fixture_papers}


@pytest.fixture(scope="session")
def ingest_into(embedder: Embedder) -> Callable[..., IngestReport]:
    """`ingest_into(store_path, corpus=fixture, max_tokens=200, overlap=1)`: a real ingest, which
    keeps the word vectors beside the store as `rag ingest` does."""

    def run(
        store_path: Path,
        corpus: Path = FIXTURE_CORPUS,
        max_tokens: int = CHUNK_MAX_TOKENS,
        overlap: int = CHUNK_OVERLAP,
    ) -> IngestReport:
        words = KeptWords(folder_for(store_path, embedder.name))
        return ingest(corpus, Store(store_path, "papers"), embedder, max_tokens, overlap, batch_size=64, words=words)

    return run


@pytest.fixture(scope="session")
def fixture_store(tmp_path_factory: pytest.TempPathFactory, ingest_into: Callable[..., IngestReport]) -> Path:
    """A real Chroma store of the six fixture papers, built once. Tests must not write to it."""
    path = tmp_path_factory.mktemp("fixture-store") / "store"
    report = ingest_into(path)
    assert report.papers == 6 and report.added_chunks == report.chunks > 0
    return path


@pytest.fixture
def store_of_six(tmp_path: Path, embedder: Embedder) -> Path:
    """A fresh store of the six fixture papers that a test may break, closed after the ingest:
    this process holds nothing of it open, so what a test does to its files is what the next
    command sees, as in a new process."""
    store = Store(tmp_path / "store", "papers")
    ingest(FIXTURE_CORPUS, store, embedder, CHUNK_MAX_TOKENS, CHUNK_OVERLAP, batch_size=64)
    store.close()
    return tmp_path / "store"


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, embedder: Embedder, fixture_corpus: Path) -> Callable[..., Result]:
    """`run(*args, env=...)`: the `rag` command line in-process through click's CliRunner, with
    the fixture corpus as RAG_CORPUS_PATH, the session's embedder (no reload per command) and no
    running server asked (RAG_SERVER_URL=off)."""
    monkeypatch.setattr("rag.service.Embedder", lambda *args, **kwargs: embedder)
    monkeypatch.setenv("RAG_CORPUS_PATH", str(fixture_corpus))
    # `rag ask` would use a `rag serve` that happens to run at the default address; tests that
    # want a server pass its URL in `env`
    monkeypatch.setenv("RAG_SERVER_URL", "off")
    runner = CliRunner()

    def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(cli, [str(a) for a in args], env=env, prog_name="rag")

    return invoke


@pytest.fixture(scope="session")
def make_service(embedder: Embedder, fixture_store: Path) -> Callable[..., tuple[RagService, FakeGenerator]]:
    """`make_service(reply, **settings)`: a new RagService over the shared fixture store with the
    session's embedder and a fresh scripted model (returned too, to inspect its calls). `reply`
    is what FakeGenerator takes, or a FakeGenerator itself (e.g. one with a small `n_ctx`).

    Each call builds its service through the constructor, as the CLI and the API do; over six
    papers that costs milliseconds, and no test sees another's model calls or caches.
    """

    def make(reply: Reply | FakeGenerator = "", **overrides: object) -> tuple[RagService, FakeGenerator]:
        fake = reply if isinstance(reply, FakeGenerator) else FakeGenerator(reply)
        # the scripted models copy one shown sentence and change another: they need more than
        # the one sentence the bundled model is shown by default
        overrides = {"prompt_sentences": 3, **overrides}
        settings = Settings(store_path=fixture_store, corpus_path=FIXTURE_CORPUS, **overrides)  # type: ignore[arg-type]
        return RagService(settings, generator=fake, embedder=embedder), fake

    return make


_SOURCE = re.compile(r"^\[(\d+)\] (.+)\n(.+)$", re.M)


def _prompt_sources(messages: Messages) -> dict[int, tuple[str, list[str]]]:
    user = messages[-1]["content"]
    return {int(m.group(1)): (m.group(2), split_sentences(m.group(3))) for m in _SOURCE.finditer(user)}


@pytest.fixture(scope="session")
def prompt_sources() -> Callable[[Messages], dict[int, tuple[str, list[str]]]]:
    """Reads the numbered sources back out of a rendered prompt: {n: (title, sentences)}."""
    return _prompt_sources
