"""The lexical side of retrieval, kept beside the store so that start-up reads files, not Chroma.

BM25 over whole papers (bm25s, English stop words, Snowball stemming), the papers' records and
the collection's term statistics. Building them reads every paper's record from Chroma (which
carries the paper's sentence vectors: about 10 KB each) and tokenizes every abstract: at
100,000 papers opening the retriever took 28 s, and the term statistics alone 278 s at load 12.
So ingest builds them once and saves them; start-up loads them, and rebuilds (saying so) only
when they are missing or stale.

One folder per collection, `<store>/lexical/<collection>/`:

    stamp.json                     what it was built from: the collection's id and chunk count
    bm25/                          `bm25s.BM25.save`: the score matrix (CSC arrays), vocabulary
    papers.json                    ids, titles, urls, years, authors, chunk counts (columns)
    abstracts.txt, abstracts.npy   the abstracts as one UTF-8 text and their offsets (a JSON of
                                   130 MB took 4.2 s to read at 100,000 papers; this 0.3 s)
    tokens.npy, tokens.offsets.npy, tokens.vocab.json
                                   every paper's stemmed tokens, so an ingest tokenizes only
                                   the papers it adds (bm25s cannot add documents to an index:
                                   the scores are re-made from these, which is the cheaper half)
    terms.json                     `TermStatistics` counts (document frequencies, words)
    vectors/                       each paper's sentence vectors (float16, as the store packs
                                   them) and chunk vectors (float32, as Chroma returns them),
                                   rows in the papers' order, with offsets; read mapped into
                                   memory. At 100,000 papers reading them from Chroma for the
                                   papers a question finds was 31 of a 71 ms retrieval (30 Nov).
                                   Absent when some paper was stored without sentence vectors
                                   (an old store): retrieval then reads them from the store.

The stamp is checked against the store at every open: a store that another ingest, a rebuild or
a restore changed has another chunk count or collection id. Ingest only adds chunks (upserts by
content id) or replaces the collection (a new id), so the two catch every change it makes. The
folder is written beside the final one and renamed into place: a reader sees the old index or
the new, never a half-written one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.corpus import Paper
from rag.store import Store
from rag.text import TermStatistics

log = logging.getLogger(__name__)

# Bump when what is saved, or how it is computed (the tokenizer, stop words, stemmer, the
# content terms of rag.text), changes: an index of another format is stale.
FORMAT = 1
_STEMMER = "english"


def canonical(paper: Paper) -> tuple[str, str]:
    """The order of an index's papers (BM25 breaks ties by it)."""
    return paper.title.casefold(), paper.paper_id


def _paper_text(paper: Paper) -> str:
    return f"{paper.title}\n{paper.abstract}"


class Tokens:
    """Each paper's stemmed tokens as ids into one vocabulary (what bm25s indexes). Loaded ones
    stay flat arrays until an ingest needs them as lists: at 38,912 papers making the lists took
    1.3 s of a 3.9 s load, and a search never reads them."""

    def __init__(
        self,
        ids: list[list[int]] | None,
        vocab: dict[str, int],
        flat: np.ndarray[Any, Any] | None = None,
        offsets: np.ndarray[Any, Any] | None = None,
    ) -> None:
        self._ids = ids
        self._flat, self._offsets = flat, offsets
        self.vocab = vocab

    @property
    def ids(self) -> list[list[int]]:
        if self._ids is None:
            flat, offsets = self._flat, self._offsets
            assert flat is not None and offsets is not None
            self._ids = [flat[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
        return self._ids

    def extend(self, token_lists: Iterable[list[str]]) -> None:
        ids = self.ids
        for tokens in token_lists:
            ids.append([self.vocab.setdefault(t, len(self.vocab)) for t in tokens])

    def arrays(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """The tokens flat, and where each paper's start (one more offset than papers)."""
        if self._ids is None and self._flat is not None and self._offsets is not None:
            return self._flat, self._offsets
        flat = np.asarray([i for ids in self.ids for i in ids], dtype=np.int32)
        return flat, np.cumsum([0] + [len(ids) for ids in self.ids], dtype=np.int64)


class SavedPapers(Sequence[Paper]):
    """The papers of a saved index, each made when first asked for.

    Why: at 100,000 papers, making every `Paper` and decoding every abstract at start-up took
    0.8 of the 1.06 s the index took to load (cProfile, 30 Nov), while a question reads a few
    dozen. Iterating makes them all, once; they are kept."""

    def __init__(self, columns: dict[str, list[Any]], abstracts: bytes, offsets: list[int]) -> None:
        self.ids: list[str] = columns["ids"]
        self._columns = columns
        self._abstracts = abstracts
        self._offsets = offsets
        self._made: list[Paper | None] = [None] * len(self.ids)
        if not len(offsets) == len(self.ids) + 1:
            raise ValueError(f"{len(offsets) - 1} abstracts for {len(self.ids)} papers")

    def __len__(self) -> int:
        return len(self.ids)

    def _make(self, i: int) -> Paper:
        paper = self._made[i]
        if paper is None:
            c = self._columns
            abstract = self._abstracts[self._offsets[i] : self._offsets[i + 1]].decode("utf-8")
            paper = Paper(self.ids[i], c["titles"][i], abstract, c["urls"][i], c["years"][i], tuple(c["authors"][i]))
            self._made[i] = paper
        return paper

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._make(k) for k in range(*i.indices(len(self)))]
        return self._make(range(len(self))[i])

    def __iter__(self) -> Iterator[Paper]:
        return (self._make(i) for i in range(len(self)))


class PaperMap(Mapping[str, Paper]):
    """Papers by id over a `SavedPapers`, made only when looked up."""

    def __init__(self, papers: SavedPapers) -> None:
        self._papers = papers
        self._index = {pid: i for i, pid in enumerate(papers.ids)}

    def __getitem__(self, paper_id: str) -> Paper:
        return self._papers[self._index[paper_id]]

    def __contains__(self, paper_id: object) -> bool:
        return paper_id in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


class Vectors:
    """Sentence and chunk vectors of every paper of an index, rows in the index's paper order.

    Retrieval reads them for the few dozen papers a question finds. They are a copy of what the
    store holds (read from it after an ingest), so the scores are the same either way; only
    the read is cheaper. A paper they lack is left out of what they return: ask the store."""

    def __init__(
        self,
        ids: Sequence[str],
        sentences: np.ndarray[Any, Any],
        sentence_offsets: np.ndarray[Any, Any],
        chunks: np.ndarray[Any, Any],
        chunk_offsets: np.ndarray[Any, Any],
    ) -> None:
        if not len(sentence_offsets) == len(chunk_offsets) == len(ids) + 1:
            raise ValueError("the saved vectors do not match the saved papers")
        self.ids = list(ids)
        self._sentences, self._sentence_offsets = sentences, sentence_offsets
        self._chunks, self._chunk_offsets = chunks, chunk_offsets
        self._rows: dict[str, int] | None = None  # made on first lookup, not at start-up

    def _row(self, paper_id: str) -> int | None:
        if self._rows is None:
            self._rows = {pid: i for i, pid in enumerate(self.ids)}
        return self._rows.get(paper_id)

    def sentences_of(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray[Any, Any]]:
        """Each known paper's sentence vectors, as the store's `sentence_vectors` gives them."""
        return {pid: np.array(rows, dtype=np.float32) for pid, rows in self._sentence_rows(paper_ids).items()}

    def chunks_of(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray[Any, Any]]:
        """Each known paper's chunk vectors, as the store's `chunk_vectors` gives them."""
        return {pid: np.array(rows, dtype=np.float32) for pid, rows in self._chunk_rows(paper_ids).items()}

    def _sentence_rows(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray[Any, Any]]:
        return self._rows_of(paper_ids, self._sentences, self._sentence_offsets)

    def _chunk_rows(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray[Any, Any]]:
        return self._rows_of(paper_ids, self._chunks, self._chunk_offsets)

    def _rows_of(
        self, paper_ids: Sequence[str], array: np.ndarray[Any, Any], offsets: np.ndarray[Any, Any]
    ) -> dict[str, np.ndarray[Any, Any]]:
        """Each known paper's rows as views of the (mapped) array: no copy, no conversion."""
        found = {}
        for pid in paper_ids:
            row = self._row(pid)
            if row is not None:
                found[pid] = array[offsets[row] : offsets[row + 1]]
        return found

    @classmethod
    def gather(cls, ids: Sequence[str], known: Vectors | None, store: Store) -> Vectors | None:
        """The vectors of `ids`, in that order: from `known` where it has them, else read from
        the store a page of papers at a time. None when the store lacks some paper's."""
        sentences: dict[str, np.ndarray[Any, Any]] = {}
        chunks: dict[str, np.ndarray[Any, Any]] = {}
        if known is not None:  # its rows as they are: float16 stays float16 (at 100,000 papers
            # a float32 copy of every sentence vector would be 1.4 GB for nothing)
            sentences.update(known._sentence_rows(ids))
            chunks.update(known._chunk_rows(ids))
        missing = [pid for pid in ids if pid not in sentences or pid not in chunks]
        for start in range(0, len(missing), _VECTOR_PAGE):
            page = missing[start : start + _VECTOR_PAGE]
            sentences.update(store.sentence_vectors(page))
            chunks.update(store.chunk_vectors(page))
        if any(pid not in sentences or pid not in chunks for pid in ids):
            return None
        dimension = next((v.shape[1] for v in chunks.values()), 0)

        def stacked(rows: dict[str, np.ndarray[Any, Any]], dtype: Any) -> tuple[np.ndarray[Any, Any], ...]:
            counts = [len(rows[pid]) for pid in ids]
            offsets = np.cumsum([0, *counts], dtype=np.int64)
            array = np.zeros((int(offsets[-1]), dimension), dtype=dtype)
            for pid, start in zip(ids, offsets[:-1], strict=False):
                array[start : start + len(rows[pid])] = rows[pid]
            return array, offsets

        return cls(ids, *stacked(sentences, np.float16), *stacked(chunks, np.float32))

    def save(self, folder: Path) -> None:
        folder.mkdir()
        np.save(folder / "sentences.npy", self._sentences)
        np.save(folder / "sentences.offsets.npy", self._sentence_offsets)
        np.save(folder / "chunks.npy", self._chunks)
        np.save(folder / "chunks.offsets.npy", self._chunk_offsets)

    @classmethod
    def load(cls, folder: Path, ids: Sequence[str]) -> Vectors | None:
        """The vectors saved in `folder`, mapped into memory; None when there are none."""
        if not folder.is_dir():
            return None
        return cls(
            ids,
            np.load(folder / "sentences.npy", mmap_mode="r"),
            np.load(folder / "sentences.offsets.npy"),
            np.load(folder / "chunks.npy", mmap_mode="r"),
            np.load(folder / "chunks.offsets.npy"),
        )


_VECTOR_PAGE = 500  # papers per read from the store when gathering vectors


class LexicalIndex:
    """BM25 over papers, with the papers' records and the collection's term statistics.

    Build it from papers (`LexicalIndex(papers)`, which puts them in `canonical` order), or open
    the saved one beside a store with `open_index(store)`. `tokens`, `terms` and `bm25` are for
    `load` and `with_papers`: they must follow `papers`' order."""

    def __init__(
        self,
        papers: Sequence[Paper],
        chunk_counts: dict[str, int] | None = None,
        *,
        tokens: Tokens | None = None,
        terms: TermStatistics | None = None,
        bm25: Any = None,
        vectors: Vectors | None = None,
    ) -> None:
        import bm25s
        import Stemmer

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import
        self._bm25s = bm25s
        self._stemmer = Stemmer.Stemmer(_STEMMER)
        self.papers: Sequence[Paper]
        if isinstance(papers, SavedPapers):
            self.papers = papers  # loaded: its records are made when asked for
        elif tokens is not None:
            self.papers = list(papers)
        else:
            self.papers = sorted(papers, key=canonical)
        self.chunk_counts = dict(chunk_counts or {})
        self.vectors = vectors  # the papers' sentence and chunk vectors, when gathered (`with_vectors`)
        self.tokens = tokens if tokens is not None else Tokens([], {})
        if tokens is None:
            self.tokens.extend(self._tokenize([_paper_text(p) for p in self.papers]))
        self.terms = terms if terms is not None else TermStatistics(f"{p.title} {p.abstract}" for p in self.papers)
        if bm25 is not None:
            self.index = bm25
        else:
            self.index = bm25s.BM25()
            if self.papers:
                # a copy: bm25s adds its empty token to the vocabulary it is given
                self.index.index((self.tokens.ids, dict(self.tokens.vocab)), show_progress=False)

    def by_id(self) -> Mapping[str, Paper]:
        """The papers by id; for a loaded index, each made only when looked up."""
        if isinstance(self.papers, SavedPapers):
            return PaperMap(self.papers)
        return {p.paper_id: p for p in self.papers}

    def _tokenize(self, texts: list[str]) -> list[list[str]]:
        if not texts:
            return []
        tokens = self._bm25s.tokenize(
            texts, stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )
        return [list(t) for t in tokens]

    def search(self, query: str, n: int) -> list[tuple[Paper, float]]:
        if not self.papers:
            return []
        tokens = self._bm25s.tokenize([query], stopwords="en", stemmer=self._stemmer, show_progress=False)
        if not tokens.vocab:  # every word of the query was a stop word
            return []
        n = min(n, len(self.papers))
        ids, scores = self.index.retrieve(tokens, k=n, show_progress=False, n_threads=1)
        return [(self.papers[int(i)], float(s)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]

    def with_papers(self, added: Sequence[Paper], chunk_counts: dict[str, int]) -> LexicalIndex:
        """This index with `added` papers too (those it holds already are skipped): only they are
        tokenized and counted; the BM25 scores are made again over all (their IDF changed)."""
        known = {p.paper_id for p in self.papers}
        new = [p for p in dict((p.paper_id, p) for p in added).values() if p.paper_id not in known]
        vocab = dict(self.tokens.vocab)
        grown = Tokens([], vocab)
        grown.extend(self._tokenize([_paper_text(p) for p in new]))
        terms = TermStatistics.from_counts(self.terms.df.copy(), set(self.terms.words), self.terms.n)
        for paper in new:
            terms.add(f"{paper.title} {paper.abstract}")
        # the papers in the order a build from scratch gives them, so ties rank the same
        rows = sorted(
            zip([*self.papers, *new], [*self.tokens.ids, *grown.ids], strict=True), key=lambda r: canonical(r[0])
        )
        return LexicalIndex(
            [paper for paper, _ in rows],
            {**self.chunk_counts, **chunk_counts},
            tokens=Tokens([ids for _, ids in rows], vocab),
            terms=terms,
        )

    def with_vectors(self, store: Store, known: Vectors | None = None) -> LexicalIndex:
        """This index with its papers' vectors: `known`'s where it has them, else the store's."""
        store.remember_chunk_counts(self.chunk_counts)  # so the store reads chunk vectors by id
        self.vectors = Vectors.gather([p.paper_id for p in self.papers], known, store)
        return self

    # ---- saving and loading ----------------------------------------------------------------

    def save(self, folder: Path, stamp: dict[str, Any]) -> None:
        """Write the index to `folder`, replacing what is there in one rename."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = folder.with_name(f"{folder.name}.writing-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        if self.papers:
            self.index.save(str(staging / "bm25"), show_progress=False)
        columns = {
            "ids": [p.paper_id for p in self.papers],
            "titles": [p.title for p in self.papers],
            "urls": [p.url for p in self.papers],
            "years": [p.year for p in self.papers],
            "authors": [list(p.authors) for p in self.papers],
            "chunks": [self.chunk_counts.get(p.paper_id) for p in self.papers],
        }
        (staging / "papers.json").write_text(json.dumps(columns, ensure_ascii=False), encoding="utf-8")
        _save_texts(staging / "abstracts", [p.abstract for p in self.papers])
        flat, offsets = self.tokens.arrays()
        np.save(staging / "tokens.npy", flat)
        np.save(staging / "tokens.offsets.npy", offsets)
        (staging / "tokens.vocab.json").write_text(json.dumps(self.tokens.vocab, ensure_ascii=False), encoding="utf-8")
        terms = {"n": self.terms.n, "df": dict(self.terms.df), "words": sorted(self.terms.words)}
        (staging / "terms.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        if self.vectors is not None:
            self.vectors.save(staging / "vectors")
        # the stamp last: a folder without one is incomplete and never loaded
        (staging / "stamp.json").write_text(json.dumps({**stamp, "format": FORMAT, "papers": len(self.papers)}))
        retired = folder.with_name(f"{folder.name}.old-{os.getpid()}")
        if folder.exists():
            os.replace(folder, retired)
        os.replace(staging, folder)
        shutil.rmtree(retired, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """The index saved in `folder` (raises OSError/ValueError/KeyError if it is unreadable)."""
        import bm25s

        columns = json.loads((folder / "papers.json").read_text(encoding="utf-8"))
        if len({len(columns[k]) for k in ("ids", "titles", "urls", "years", "authors", "chunks")}) != 1:
            raise ValueError("the saved papers' columns differ in length")
        base = folder / "abstracts"
        papers = SavedPapers(columns, base.with_suffix(".txt").read_bytes(), np.load(base.with_suffix(".npy")).tolist())
        counts = {pid: n for pid, n in zip(columns["ids"], columns["chunks"], strict=True) if n is not None}
        flat = np.load(folder / "tokens.npy")
        offsets = np.load(folder / "tokens.offsets.npy")
        vocab = json.loads((folder / "tokens.vocab.json").read_text(encoding="utf-8"))
        saved = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        terms = TermStatistics.from_counts(Counter(saved["df"]), set(saved["words"]), int(saved["n"]))
        bm25 = None
        if papers:
            logging.getLogger("bm25s").setLevel(logging.WARNING)
            bm25 = bm25s.BM25.load(str(folder / "bm25"), mmap=False, show_progress=False)
        vectors = Vectors.load(folder / "vectors", columns["ids"])
        return cls(papers, counts, tokens=Tokens(None, vocab, flat, offsets), terms=terms, bm25=bm25, vectors=vectors)


def _save_texts(base: Path, texts: Sequence[str]) -> None:
    encoded = [t.encode("utf-8") for t in texts]
    base.with_suffix(".txt").write_bytes(b"".join(encoded))
    np.save(base.with_suffix(".npy"), np.cumsum([0] + [len(e) for e in encoded], dtype=np.int64))


# ---- beside the store ---------------------------------------------------------------------------


def index_folder(store: Store) -> Path:
    return store.folder / "lexical" / store.collection_name


def saved_stamp(folder: Path) -> dict[str, Any] | None:
    try:
        stamp: dict[str, Any] = json.loads((folder / "stamp.json").read_text())
    except (OSError, ValueError):
        return None
    return stamp


def is_fresh(stamp: dict[str, Any] | None, store: Store) -> bool:
    return stamp is not None and stamp.get("format") == FORMAT and _without_counts(stamp) == store.stamp()


def _without_counts(stamp: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in stamp.items() if k not in ("format", "papers")}


def load_fresh(store: Store) -> LexicalIndex | None:
    """The saved index if it matches the store as it is now, else None."""
    folder = index_folder(store)
    if not is_fresh(saved_stamp(folder), store):
        return None
    try:
        return LexicalIndex.load(folder)
    except (OSError, ValueError, KeyError) as e:
        log.warning("the lexical index at %s is unreadable (%s): rebuilding it", folder, e)
        return None


def save_beside(index: LexicalIndex, store: Store, stamp: dict[str, Any] | None = None) -> None:
    """Save `index` as the store's, stamped with the store's state (or `stamp`). A folder that
    cannot be written costs only the next start-up's rebuild, so it is a warning."""
    folder = index_folder(store)
    try:
        index.save(folder, stamp if stamp is not None else store.stamp())
    except OSError as e:
        log.warning("could not save the lexical index to %s: %s (the next start rebuilds it)", folder, e)


def rebuild(store: Store) -> LexicalIndex:
    """Build the index from every paper's record in the store, and save it."""
    started = time.perf_counter()
    stamp = store.stamp()  # before reading: a write during the read then leaves it stale, not wrong
    papers = store.papers()
    index = LexicalIndex(papers, store.chunk_counts()).with_vectors(store)
    save_beside(index, store, stamp)
    log.warning(
        "rebuilt the lexical index of %d papers from the store in %.1f s (saved to %s)",
        len(papers),
        time.perf_counter() - started,
        index_folder(store),
    )
    return index


def open_index(store: Store) -> LexicalIndex:
    """The store's lexical index: the saved one if fresh, else rebuilt from the store (and saved)."""
    folder = index_folder(store)
    index = load_fresh(store)
    if index is not None:
        store.remember_chunk_counts(index.chunk_counts)
        return index
    why = "is stale" if saved_stamp(folder) is not None else "is missing"
    log.warning("the lexical index at %s %s: rebuilding it from the store", folder, why)
    return rebuild(store)


def update_after_ingest(
    store: Store,
    before: LexicalIndex | None,
    added: Sequence[Paper],
    chunk_counts: dict[str, int],
    replaced: bool = False,
) -> LexicalIndex:
    """The index once an ingest stored `added`: `before` (the index that was fresh when the ingest
    began) with them added; with `replaced` (the ingest rebuilt the collection from `added`
    alone), made from them; else, without `before`, rebuilt from the store."""
    if replaced:
        index = LexicalIndex(added, chunk_counts).with_vectors(store)
        save_beside(index, store)
        return index
    if before is None:
        return rebuild(store)
    started = time.perf_counter()
    index = before.with_papers(added, chunk_counts).with_vectors(store, before.vectors)
    save_beside(index, store)
    log.info(
        "lexical index: %d papers (%d added) in %.1f s",
        len(index.papers),
        len(index.papers) - len(before.papers),
        time.perf_counter() - started,
    )
    return index
