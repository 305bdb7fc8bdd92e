"""The vector store: the only module that talks to Chroma.

Embedded by default (a `PersistentClient` folder), or a Chroma server when `chroma_url` is set.
We always pass our own embeddings; the collection is created with no embedding function so
Chroma never reaches for its default model (which would download one).

A rebuild never leaves the store half-built: it fills a side collection (`<name>__rebuild`) while
the live one keeps answering, then swaps it in by renaming. A damaged store (one that cannot be
opened, or fails `verify`) is rebuilt in a sibling folder that replaces it once complete
(`staging_folder`, `swap_folders`).

Chroma's own errors never leave this module: a failure to open, read or write the store's files
becomes one `StoreDamagedError` that names the fix (`_chroma_failures`), and `verify` looks for
damage that reads alone may miss, before a rebuild decides how to rebuild.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import inspect
import logging
import os
import re
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlparse

import numpy as np

from rag.chunking import Chunk
from rag.corpus import Paper
from rag.errors import RagError, StoreDamagedError, StoreError, StoreMismatchError

log = logging.getLogger(__name__)

_PAGE = 5000
_DATABASE = "chroma.sqlite3"
_SEGMENT_FOLDER = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
REBUILD_SUFFIX = "__rebuild"
RETIRED_SUFFIX = "__old"
_MAX_NAME = 63  # Chroma's limit on collection names
REBUILD_FIX = "run `rag ingest --rebuild [PATH]` to build it again beside it; the damaged folder is kept"
_MAX_REASON_CHARS = 200  # of Chroma's message, in the one line the user reads


@dataclass(frozen=True)
class StoredChunk:
    chunk_id: str
    paper_id: str
    title: str
    index: int
    text: str


@dataclass(frozen=True)
class ChunkHit:
    """A chunk found by vector search: its id (which names its paper), score and vector."""

    chunk_id: str
    score: float  # cosine similarity
    vector: np.ndarray[Any, Any]

    @property
    def paper_id(self) -> str:
        return paper_of(self.chunk_id)


@dataclass(frozen=True)
class Fingerprint:
    """What built the vectors: changing any part makes old vectors meaningless."""

    embedder: str
    chunking: str
    dimension: int


def _client(store_path: Path, chroma_url: str | None) -> Any:
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if chroma_url:
        url = urlparse(chroma_url)
        try:
            return chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as e:  # chromadb raises ValueError or connection errors, by version
            raise StoreError(
                f"cannot reach the Chroma server at {chroma_url}: {e}",
                fix="start it with `chroma run` or unset RAG_CHROMA_URL",
            ) from e
    if store_path.exists() and not store_path.is_dir():
        raise StoreError(f"store path is not a folder: {store_path}", fix="set RAG_STORE_PATH to a folder")
    try:
        store_path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(
            f"cannot create the store folder {store_path}: {e.strerror}", fix="set RAG_STORE_PATH to a writable folder"
        ) from e
    if not os.access(store_path, os.W_OK):
        raise StoreError(
            f"the store folder is not writable: {store_path}",
            fix="fix its permissions or set RAG_STORE_PATH to a writable folder",
        )
    _check_database_present(store_path)
    try:
        return chromadb.PersistentClient(path=str(store_path), settings=chroma_settings)
    except Exception as e:
        # Chroma keeps the half-made client for the folder, and the next open in this process
        # would fail on it with "'RustBindingsAPI' object has no attribute 'bindings'"
        _forget_open_client(store_path)
        raise StoreDamagedError(
            f"cannot open the store at {store_path}: {_reason(e)}", fix=f"it may be damaged: {REBUILD_FIX}"
        ) from e


def _check_database_present(store_path: Path) -> None:
    """Chroma would quietly start an empty store over vector folders whose database is gone (and
    the first question would then ingest the bundled corpus into it): say so instead."""
    database = store_path / _DATABASE
    if database.is_file() and database.stat().st_size > 0:
        return
    if any(_SEGMENT_FOLDER.match(p.name) and p.is_dir() for p in store_path.iterdir()):
        raise StoreDamagedError(
            f"the store at {store_path} has lost its database file {_DATABASE}",
            fix="run `rag ingest --rebuild [PATH]` to build it again from your corpus",
        )


def _reason(error: BaseException) -> str:
    """Chroma's message on one short line."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= _MAX_REASON_CHARS else text[: _MAX_REASON_CHARS - 1] + "…"


def _is_chroma_failure(error: Exception) -> bool:
    """An error of Chroma's (or of the SQLite database under it), not a bug of ours."""
    from chromadb.errors import ChromaError

    return isinstance(error, ChromaError | sqlite3.DatabaseError)


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _chroma_failures(method: _Method) -> _Method:
    """Turn Chroma's errors in a `Store` method (a generator's included) into one StoreError.

    On a damaged database Chroma raises InternalError ("database disk image is malformed") or
    InvalidArgumentError ("Failed to pull logs from the log store") from whichever read meets
    the damage first: every damaged read of the sweep in docs/robustness.md did."""

    @contextlib.contextmanager
    def translated(store: Store) -> Iterator[None]:
        try:
            yield
        except Exception as e:
            if isinstance(e, RagError) or not _is_chroma_failure(e):
                raise
            raise store.damaged(e) from e

    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generate(store: Store, *args: Any, **kwargs: Any) -> Iterator[Any]:
            with translated(store):
                yield from method(store, *args, **kwargs)

        return cast(_Method, generate)

    @functools.wraps(method)
    def call(store: Store, *args: Any, **kwargs: Any) -> Any:
        with translated(store):
            return method(store, *args, **kwargs)

    return cast(_Method, call)


def database_problems(store_path: Path) -> list[str]:
    """What SQLite's own check finds wrong in a store's database (empty: nothing it can see).

    Reads only (`mode=ro`), beside any client Chroma holds open: its database is in rollback-
    journal mode, so a reader sees committed pages. `quick_check` took 71 ms on the 14 MB store
    of the bundled corpus, and finds damage that no read of ours happens to touch."""
    database = store_path / _DATABASE
    if not database.is_file():
        return []
    try:
        connection = sqlite3.connect(database.resolve().as_uri() + "?mode=ro", uri=True)  # a URI needs an absolute path
    except sqlite3.Error as e:
        return [str(e)]
    try:
        rows = connection.execute("PRAGMA quick_check(5)").fetchall()
    except sqlite3.DatabaseError as e:
        return [str(e)]
    finally:
        connection.close()
    found = [line for (text,) in rows for line in str(text).splitlines() if line.strip()]
    return [] if found == ["ok"] else [line for line in found if not line.startswith("***")]


def staging_folder(store_path: Path) -> Path:
    """An empty sibling folder to build a replacement store in (a leftover is removed)."""
    staging = store_path.with_name(store_path.name + ".rebuild")
    shutil.rmtree(staging, ignore_errors=True)
    return staging


def swap_folders(staging: Path, store_path: Path) -> Path | None:
    """Put the complete store built in `staging` in place of `store_path`. The old folder is
    kept beside it (renamed, never deleted: it may hold the only copy of something); returns
    where it went, or None if there was none."""
    kept: Path | None = None
    if store_path.exists():
        kept = store_path.with_name(f"{store_path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(store_path, kept)
    os.replace(staging, store_path)
    _forget_open_client(store_path)
    return kept


def _forget_open_client(store_path: Path) -> None:
    """Chroma keeps one open database per folder path for the life of the process; once the
    folder is replaced, the next open must read the new files, not the old ones still held."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_refcount.pop(str(store_path), None)
    system = SharedSystemClient._identifier_to_system.pop(str(store_path), None)
    if system is not None:
        try:
            system.stop()
        except Exception as e:  # it was serving a broken store: nothing of it is needed
            log.debug("stopping the replaced store's client failed: %s", e)


def paper_of(chunk_id: str) -> str:
    """Chunk ids are `{paper_id}:{n}`."""
    return chunk_id.rsplit(":", 1)[0]


def _pack(vectors: np.ndarray[Any, Any]) -> str:
    """Vectors as metadata (Chroma keeps one vector per record): float16 rows, base64. Float16
    moves a cosine by under 0.001."""
    rows = np.asarray(vectors, dtype=np.float16)
    return f"{rows.shape[1]}:" + base64.b64encode(rows.tobytes()).decode("ascii")


def _unpack(packed: str) -> np.ndarray[Any, Any]:
    dimension, data = packed.split(":", 1)
    return np.frombuffer(base64.b64decode(data), dtype=np.float16).reshape(-1, int(dimension)).astype(np.float32)


def _side_name(name: str, suffix: str) -> str:
    return name[: _MAX_NAME - len(suffix)] + suffix


class Store:
    """Chunks, their vectors and their papers, in one Chroma collection."""

    def __init__(self, store_path: Path, collection: str, chroma_url: str | None = None, ef_search: int = 256) -> None:
        self.location = chroma_url or str(store_path)
        self._remote = bool(chroma_url)
        self.folder = store_path  # the lexical index lives here too (with a Chroma server as well)
        self._client = _client(store_path, chroma_url)
        self._name = collection
        self._ef_search = ef_search
        self._collection: Any = None
        self._live: Any = None  # during a rebuild: the collection that still answers
        self._rebuilding = False
        self._chunk_counts: dict[str, int] = {}
        self.papers_without_sentence_vectors = 0
        try:
            existing = self._collection_names()
            if collection not in existing and _side_name(collection, RETIRED_SUFFIX) in existing:
                self._finish_interrupted_swap(existing)
                existing = self._collection_names()
            if collection in existing:
                self._collection = self._client.get_collection(collection)
        except RagError:
            raise
        except Exception as e:
            raise self.damaged(e) from e
        if self._collection is not None:
            self._tune_search()

    def damaged(self, error: BaseException) -> StoreError:
        """The one-line error for a failure of Chroma's while opening, reading or writing."""
        if self._remote:
            return StoreError(
                f"the Chroma server at {self.location} failed: {_reason(error)}",
                fix="check the server and its log; `rag ingest --rebuild [PATH]` builds the collection again",
            )
        return StoreDamagedError(f"the store at {self.location} is damaged: {_reason(error)}", fix=REBUILD_FIX)

    def verify(self) -> None:
        """Raise StoreDamagedError if the store shows damage: SQLite's check of the database
        finds any, or a read of every record fails. (A damaged store can still answer some
        reads, so opening it is not proof.)"""
        if not self._remote:
            problems = database_problems(Path(self.location))
            if problems:
                found = f"{len(problems)}+ problems" if len(problems) >= 5 else f"{len(problems)} problem(s)"
                raise StoreDamagedError(
                    f"the store at {self.location} is damaged: SQLite's check found {found}, first: "
                    f"{_reason(RuntimeError(problems[0]))}",
                    fix=REBUILD_FIX,
                )
        self.count()
        for _ in self.iter_chunks() if self.exists else ():
            pass

    @property
    def collection_name(self) -> str:
        return self._name

    @_chroma_failures
    def _collection_names(self) -> set[str]:
        return {c if isinstance(c, str) else c.name for c in self._client.list_collections()}

    def _finish_interrupted_swap(self, existing: set[str]) -> None:
        """A rebuild stopped between its renames: the new collection is complete (the swap starts
        only then), so finish the swap; with no new one, put the old one back."""
        retired, rebuilt = _side_name(self._name, RETIRED_SUFFIX), _side_name(self._name, REBUILD_SUFFIX)
        if rebuilt in existing:
            self._client.get_collection(rebuilt).modify(name=self._name)
            self._client.delete_collection(retired)
        else:
            self._client.get_collection(retired).modify(name=self._name)
        log.warning("finished a rebuild of %s that was interrupted while swapping collections", self._name)

    def _tune_search(self) -> None:
        """HNSW is approximate: with a small `ef_search` the tail of a 100-result query varies
        from run to run. A wider search makes results stable (and exact on small collections)."""
        try:
            hnsw = (self._collection.configuration or {}).get("hnsw") or {}
            if hnsw.get("ef_search") != self._ef_search:
                self._collection.modify(configuration={"hnsw": {"ef_search": self._ef_search}})
        except Exception as e:  # older servers may not support modifying the configuration
            log.warning("could not set ef_search on %s: %s", self._name, e)

    # ---- the self-description -------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return self._collection is not None

    def fingerprint(self) -> Fingerprint | None:
        if self._collection is None:
            return None
        meta = self._collection.metadata or {}
        if "embedder" not in meta:
            return None
        return Fingerprint(str(meta["embedder"]), str(meta["chunking"]), int(meta["dimension"]))

    def check(self, expected: Fingerprint) -> None:
        """Raise if the collection was built by another embedder or chunking."""
        found = self.fingerprint()
        if found is not None and found.embedder == expected.embedder and found.dimension != expected.dimension:
            raise StoreMismatchError(
                f"the store at {self.location} holds {found.dimension}-dimensional vectors of {found.embedder}, "
                f"but the embedder now gives {expected.dimension} dimensions",
                fix="check the embeddings server's model, or run `rag ingest --rebuild [PATH]`",
            )
        if found is not None and found != expected:
            raise StoreMismatchError(
                f"the store at {self.location} was built with embedder {found.embedder} and chunking "
                f"{found.chunking}, but the settings ask for {expected.embedder} and {expected.chunking}",
                fix="run `rag ingest --rebuild [PATH]` to embed the collection again with these settings",
            )

    @_chroma_failures
    def create(self, fingerprint: Fingerprint) -> None:
        """Create the collection if missing (cosine space, no embedding function)."""
        if self._collection is not None:
            self.check(fingerprint)
            return
        self._collection = self._new_collection(self._name, fingerprint)

    def _new_collection(self, name: str, fingerprint: Fingerprint) -> Any:
        return self._client.create_collection(
            name=name,
            metadata={
                "embedder": fingerprint.embedder,
                "chunking": fingerprint.chunking,
                "dimension": fingerprint.dimension,
            },
            configuration={"hnsw": {"space": "cosine", "ef_construction": 200, "ef_search": self._ef_search}},
            embedding_function=None,
        )

    @_chroma_failures
    def drop(self) -> None:
        if self._collection is not None:
            self._client.delete_collection(self._name)
            self._collection = None

    @_chroma_failures
    def begin_rebuild(self, fingerprint: Fingerprint) -> None:
        """Send writes to a new, empty side collection; the live one is untouched until
        `finish_rebuild`. A side collection left by an interrupted rebuild is discarded: it may
        hold another corpus."""
        rebuilt = _side_name(self._name, REBUILD_SUFFIX)
        if rebuilt in self._collection_names():
            self._client.delete_collection(rebuilt)
        self._live, self._rebuilding = self._collection, True
        self._collection = self._new_collection(rebuilt, fingerprint)

    @_chroma_failures
    def finish_rebuild(self) -> None:
        """Swap the complete side collection in: live → `__old`, rebuilt → live, drop `__old`.
        Each rename is one database transaction, and a crash between them is finished by the
        next open (`_finish_interrupted_swap`): readers see the old store or the new, never a
        mix and never nothing."""
        if not self._rebuilding:
            raise RuntimeError("finish_rebuild() without begin_rebuild()")
        retired = _side_name(self._name, RETIRED_SUFFIX)
        if retired in self._collection_names():
            self._client.delete_collection(retired)
        if self._live is not None:
            self._live.modify(name=retired)
        self._collection.modify(name=self._name)
        if self._live is not None:
            self._client.delete_collection(retired)
        self._live, self._rebuilding = None, False

    def close(self) -> None:
        """Release the database (before its folder is moved)."""
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    def _require(self) -> Any:
        if self._collection is None:
            raise StoreError(f"the store at {self.location} holds no collection '{self._name}'", fix="run `rag ingest`")
        return self._collection

    # ---- what the lexical index was built from (rag/lexical.py) ---------------------------------

    def stamp(self) -> dict[str, str | int]:
        """The collection's identity and size, cheap to read (15 ms at 200,000 chunks): an ingest
        adds chunks and a rebuild makes a new collection, so either changes this."""
        if self._collection is None:
            return {"collection": "", "chunks": 0}
        return {"collection": str(self._collection.id), "chunks": self.count()}

    def chunk_counts(self) -> dict[str, int]:
        """Chunks per paper, as far as `papers()` or `remember_chunk_counts` told the store."""
        return dict(self._chunk_counts)

    def remember_chunk_counts(self, counts: dict[str, int]) -> None:
        """Chunk counts read elsewhere (the saved lexical index), so that `chunk_vectors` can read
        by id without `papers()` having read every record."""
        self._chunk_counts.update(counts)

    # ---- writing ----------------------------------------------------------------------------

    @property
    def max_batch_size(self) -> int:
        try:
            return int(self._client.get_max_batch_size())
        except Exception:
            return 1000

    @_chroma_failures
    def missing_ids(self, ids: Sequence[str]) -> list[str]:
        """Of `ids`, those not yet stored (what a resumed ingest still has to embed)."""
        collection = self._require()
        present: set[str] = set()
        for start in range(0, len(ids), _PAGE):
            present.update(collection.get(ids=list(ids[start : start + _PAGE]), include=[])["ids"])
        return [i for i in ids if i not in present]

    @_chroma_failures
    def upsert(
        self,
        chunks: Sequence[Chunk],
        vectors: np.ndarray[Any, Any],
        papers: dict[str, Paper],
        sentence_vectors: dict[str, np.ndarray[Any, Any]] | None = None,
    ) -> None:
        """Store the chunks of whole papers with their vectors. A paper's first chunk also carries
        the paper's record, its chunk count and (when given) the vectors of its abstract's
        sentences."""
        collection = self._require()
        counts = Counter(c.paper_id for c in chunks)
        sentence_vectors = sentence_vectors or {}
        batch = self.max_batch_size
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            collection.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=vectors[start : start + batch],
                documents=[c.text for c in part],
                metadatas=[
                    self._metadata(c, papers[c.paper_id], counts[c.paper_id], sentence_vectors.get(c.paper_id))
                    for c in part
                ],
            )

    @staticmethod
    def _metadata(
        chunk: Chunk, paper: Paper, chunk_count: int, sentence_vectors: np.ndarray[Any, Any] | None
    ) -> dict[str, Any]:
        meta: dict[str, Any] = {"paper_id": chunk.paper_id, "title": chunk.title, "index": chunk.index}
        if chunk.index == 0:  # the paper's own record rides on its first chunk
            meta["chunks"] = chunk_count
            if sentence_vectors is not None:
                meta["sentence_vectors"] = _pack(sentence_vectors)
            meta["abstract"] = paper.abstract
            if paper.url:
                meta["url"] = paper.url
            if paper.year is not None:
                meta["year"] = paper.year
            if paper.authors:
                meta["authors"] = "; ".join(paper.authors)
        return meta

    # ---- reading ----------------------------------------------------------------------------

    @_chroma_failures
    def count(self) -> int:
        return int(self._collection.count()) if self._collection is not None else 0

    @_chroma_failures
    def query(self, vector: np.ndarray[Any, Any], n: int) -> list[ChunkHit]:
        """The `n` chunks nearest to `vector`. Ids, scores and vectors only: texts and records
        are read where they are needed (fetching them here took half the query's time)."""
        collection = self._require()
        if n <= 0:
            return []
        # no count() first: Chroma returns fewer when it holds fewer, and counting 200,000
        # chunks took 15 ms, more than the search
        result = collection.query(query_embeddings=[vector], n_results=n, include=["distances", "embeddings"])
        rows = zip(result["ids"][0], result["distances"][0], result["embeddings"][0], strict=True)
        return [ChunkHit(cid, 1.0 - float(dist), np.asarray(vec, dtype=np.float32)) for cid, dist, vec in rows]

    @staticmethod
    def _stored(chunk_id: str, document: str, meta: dict[str, Any]) -> StoredChunk:
        return StoredChunk(chunk_id, str(meta["paper_id"]), str(meta["title"]), int(meta["index"]), document)

    @_chroma_failures
    def chunk_vectors(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray[Any, Any]]:
        """Every chunk embedding of the given papers (rows), by paper id: for exact scoring.

        By chunk id when the chunk counts are known (`papers()` reads them): at 100,000 papers a
        metadata filter took 50 ms where the ids took 17."""
        if not paper_ids:
            return {}
        collection = self._require()
        if all(pid in self._chunk_counts for pid in paper_ids):
            ids = [f"{pid}:{n}" for pid in paper_ids for n in range(self._chunk_counts[pid])]
            page = collection.get(ids=ids, include=["embeddings"])  # the id names the paper
            owners = [paper_of(cid) for cid in page["ids"]]
        else:  # a store written before chunk counts were recorded
            page = collection.get(where={"paper_id": {"$in": list(paper_ids)}}, include=["metadatas", "embeddings"])
            owners = [str(meta["paper_id"]) for meta in page["metadatas"]]
        rows: dict[str, list[np.ndarray[Any, Any]]] = {}
        for pid, vector in zip(owners, page["embeddings"], strict=True):
            rows.setdefault(pid, []).append(np.asarray(vector, dtype=np.float32))
        return {pid: np.stack(vs) for pid, vs in rows.items()}

    @_chroma_failures
    def iter_chunks(self) -> Iterator[StoredChunk]:
        collection = self._require()
        offset = 0
        while True:
            page = collection.get(include=["documents", "metadatas"], limit=_PAGE, offset=offset)
            if not page["ids"]:
                return
            for cid, doc, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=True):
                yield self._stored(cid, doc, meta)
            offset += len(page["ids"])

    @_chroma_failures
    def papers(self) -> list[Paper]:
        """Every paper, from the record on its first chunk, in a stable order."""
        collection = self._require()
        papers: list[Paper] = []
        self.papers_without_sentence_vectors = 0  # stored before ingest kept them
        offset = 0
        while True:
            page = collection.get(where={"index": 0}, include=["metadatas"], limit=_PAGE, offset=offset)
            if not page["ids"]:
                break
            for meta in page["metadatas"]:
                papers.append(self._paper(meta))
                if "chunks" in meta:
                    self._chunk_counts[str(meta["paper_id"])] = int(meta["chunks"])
                if not meta.get("sentence_vectors"):
                    self.papers_without_sentence_vectors += 1
            offset += len(page["ids"])
        return sorted(papers, key=lambda p: p.title.casefold())

    @_chroma_failures
    def get_papers(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        if not paper_ids:
            return {}
        collection = self._require()
        page = collection.get(ids=[f"{pid}:0" for pid in paper_ids], include=["metadatas"])
        return {str(meta["paper_id"]): self._paper(meta) for meta in page["metadatas"]}

    @_chroma_failures
    def sentence_vectors(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray[Any, Any]]:
        """The stored vectors of each paper's abstract sentences (papers stored without them are
        left out)."""
        if not paper_ids:
            return {}
        page = self._require().get(ids=[f"{pid}:0" for pid in paper_ids], include=["metadatas"])
        return {
            str(meta["paper_id"]): _unpack(str(meta["sentence_vectors"]))
            for meta in page["metadatas"]
            if meta.get("sentence_vectors")
        }

    @staticmethod
    def _paper(meta: dict[str, Any]) -> Paper:
        authors = str(meta.get("authors") or "")
        year = meta.get("year")
        return Paper(
            paper_id=str(meta["paper_id"]),
            title=str(meta["title"]),
            abstract=str(meta.get("abstract", "")),
            url=str(meta["url"]) if meta.get("url") else None,
            year=int(year) if isinstance(year, int) else None,
            authors=tuple(a for a in authors.split("; ") if a),
        )
