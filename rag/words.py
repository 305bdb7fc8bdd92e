"""Word vectors of the collection's titles and sentences, computed once at ingest and kept beside
the store, so that matching a question word by word (rag.alignment) costs a lookup instead of a
pass of the embedder over the best paper's sentences (179 ms at the median against 18 ms,
benchmarks/alignment_cost.py, docs/performance.md).

Layout: `<store>/words/<embedder name>/`, one segment per write, named by a 6-digit number:
- `NNNNNN.npy`: the vectors, float16, one row per word, the segment's texts one after another;
- `NNNNNN.keys.npy`: each text's key (a hash of the text), and `NNNNNN.starts.npy` its first row
  (one more entry than texts: where the next would start);
- `NNNNNN.words.json`: each text's words, read only when a text of the segment is asked for;
- `NNNNNN.json`: written last, so a segment without it was interrupted and is ignored.
Texts are the key, not papers: a rebuild, a re-ingest or a paper stored twice never makes them
stale, and the folder name keeps another embedder's vectors apart.

Nothing is read until the first lookup, so start-up does not grow with the collection; the keys
are then read as numpy arrays (20 bytes a text) and looked up by binary search, and the vectors
are mapped, not read. Size: 384 dimensions in float16 are 768 bytes a word; the bundled 261
papers come to 46 MB, 100,000 papers to about 15 GB, so `RAG_KEEP_WORD_VECTORS=false` turns
this off (questions then compute the best paper's word vectors as they come).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.bert import WordVectors

log = logging.getLogger(__name__)

# texts handed to the embedder at a time while filling the folder after an ingest (the titles,
# and papers stored before any were kept): sorted by length first, so that a batch pads little;
# one segment per batch, so an interrupted fill redoes one. 1,024 sentences hold 30,000-40,000
# word pieces: enough for the embedder to take them to torch, 2.7 times faster than numpy in
# bulk (rag.embedding._BULK_PIECES)
FILL_BATCH = 1024
_KEY_BYTES = 20  # hex digits of a SHA-1 (80 bits): no collision at any collection size
_WORDS_SEGMENTS = 64  # segments whose words are kept in memory once read
_SEGMENT = re.compile(r"^(\d{6})\.json$")
_NUMBERED = re.compile(r"^(\d{6})\.")


def key(text: str) -> bytes:
    # hex, not the raw digest: numpy's fixed-width bytes drop trailing zero bytes
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:_KEY_BYTES].encode("ascii")


def folder_for(store_folder: Path, embedder_name: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._@-]+", "_", embedder_name)
    return store_folder / "words" / safe


@dataclass
class _Segment:
    base: Path  # the folder and the segment's number: f"{base}.npy" and so on
    keys: np.ndarray[Any, Any]
    starts: np.ndarray[Any, Any]
    vectors: np.ndarray[Any, Any]

    def read_words(self) -> list[list[str]]:
        words: list[list[str]] = json.loads(Path(f"{self.base}.words.json").read_text(encoding="utf-8"))
        return words


@dataclass(frozen=True)
class _Index:
    """Every segment's keys in one sorted array, with where each text is: one binary search
    finds a text, and an ingest's texts are checked in one vectorised pass (at 874,000 texts,
    about 100,000 papers, a search per segment took 0.9 ms a text: 13 minutes for an ingest)."""

    keys: np.ndarray[Any, Any]
    segment: np.ndarray[Any, Any]
    position: np.ndarray[Any, Any]

    @classmethod
    def of(cls, segments: list[_Segment]) -> _Index:
        if not segments:
            empty = np.zeros(0, dtype=np.int64)
            return cls(np.zeros(0, dtype=f"S{_KEY_BYTES}"), empty, empty)
        keys = np.concatenate([s.keys for s in segments])
        order = np.argsort(keys, kind="stable")
        segment = np.concatenate([np.full(len(s.keys), i) for i, s in enumerate(segments)])
        position = np.concatenate([np.arange(len(s.keys)) for s in segments])
        return cls(keys[order], segment[order], position[order])

    def find(self, keys: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """For each key, its row in this index, or -1."""
        if not len(self.keys):
            return np.full(len(keys), -1)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[at] == keys, at, -1)


def _load_vectors(path: Path) -> np.ndarray[Any, Any]:
    """Mapped, not read: only the rows a question uses come off the disk. numpy cannot map an
    array without rows; those are read."""
    try:
        return np.load(path, mmap_mode="r")
    except ValueError:
        return np.load(path)


class KeptWords:
    """The kept word vectors of one embedder in one store folder. Reading is safe from many
    threads; writes come from one ingest at a time (the store's own rule)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._segments: list[_Segment] = []
        self._seen: set[str] = set()
        self._loaded = False
        self._index: _Index | None = None  # built on first use after each change
        # the words of the segments read last: a question reads a few texts of a few segments,
        # and every segment's words would be 1.5 GB of strings at 100,000 papers
        self._words: OrderedDict[int, list[list[str]]] = OrderedDict()

    def _ensure(self) -> None:
        if not self._loaded:
            self.refresh()

    def refresh(self) -> None:
        """Read the segments written since the last look (by an ingest in this process or
        another); a damaged segment is skipped with a warning: its texts are computed again."""
        with self._lock:
            self._loaded = True
            if not self.folder.is_dir():
                return
            for path in sorted(self.folder.glob("*.json")):
                if not _SEGMENT.match(path.name) or path.name in self._seen:
                    continue
                self._seen.add(path.name)
                base = path.with_suffix("")
                try:
                    keys = np.load(f"{base}.keys.npy")
                    starts = np.load(f"{base}.starts.npy")
                    vectors = _load_vectors(Path(f"{base}.npy"))
                    if len(starts) != len(keys) + 1 or int(starts[-1]) != len(vectors):
                        raise ValueError(f"{len(keys)} texts and {len(vectors)} words do not agree")
                except (OSError, ValueError) as e:
                    log.warning("kept word vectors %s unreadable (%s): their texts will be computed again", base, e)
                    continue
                self._segments.append(_Segment(base, keys, starts, vectors))
                self._index = None

    def _rows(self, texts: Sequence[str]) -> tuple[list[_Segment], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Each text's segment number and position there (-1 where it is not kept)."""
        self._ensure()
        with self._lock:
            if self._index is None:
                self._index = _Index.of(self._segments)
            index, segments = self._index, list(self._segments)
        if not len(index.keys):
            nowhere = np.full(len(texts), -1)
            return segments, nowhere, nowhere
        rows = index.find(np.array([key(t) for t in texts], dtype=f"S{_KEY_BYTES}"))
        kept = rows >= 0
        return (
            segments,
            np.where(kept, index.segment[np.maximum(rows, 0)], -1),
            np.where(kept, index.position[np.maximum(rows, 0)], -1),
        )

    def __len__(self) -> int:
        self._ensure()
        return sum(len(s.keys) for s in self._segments)

    def get(self, texts: Sequence[str]) -> dict[str, WordVectors]:
        """The texts found here, with their words and (float32) vectors."""
        found: dict[str, WordVectors] = {}
        if not texts:
            return found
        segments, numbers, positions = self._rows(texts)
        for text, number, at in zip(texts, numbers.tolist(), positions.tolist(), strict=True):
            if number < 0:
                continue
            segment = segments[number]
            try:
                words = self._words_of(number, segment)[at]
            except (OSError, ValueError, IndexError) as e:
                log.warning("kept words %s unreadable (%s): computing them", segment.base, e)
                continue
            rows = segment.vectors[int(segment.starts[at]) : int(segment.starts[at + 1])]
            found[text] = (list(words), np.asarray(rows, dtype=np.float32))
        return found

    def _words_of(self, number: int, segment: _Segment) -> list[list[str]]:
        with self._lock:
            words = self._words.get(number)
            if words is not None:
                self._words.move_to_end(number)
                return words
        words = segment.read_words()
        with self._lock:
            self._words[number] = words
            if len(self._words) > _WORDS_SEGMENTS:
                self._words.popitem(last=False)
        return words

    def missing(self, texts: Iterable[str]) -> list[str]:
        unique = list(dict.fromkeys(texts))
        if not unique:
            return []
        _, numbers, _ = self._rows(unique)
        return [t for t, number in zip(unique, numbers.tolist(), strict=True) if number < 0]

    def add(self, texts: Sequence[str], computed: Sequence[WordVectors]) -> None:
        """Write one segment holding `texts` (the vectors in float16)."""
        if not texts:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            numbers = [int(m.group(1)) for p in self.folder.iterdir() if (m := _NUMBERED.match(p.name))]
            base = self.folder / f"{max(numbers, default=-1) + 1:06d}"
            dimension = next((v.shape[1] for _, v in computed if len(v)), 0)
            rows = [v.astype(np.float16) for _, v in computed if len(v)]
            matrix = np.concatenate(rows) if rows else np.zeros((0, dimension), dtype=np.float16)
            starts = np.concatenate([[0], np.cumsum([len(v) for _, v in computed])]).astype(np.int64)
            keys = np.array([key(t) for t in texts], dtype=f"S{_KEY_BYTES}")
            for suffix, array in ((".npy", matrix), (".keys.npy", keys), (".starts.npy", starts)):
                _write(Path(f"{base}{suffix}"), array)
            _write(Path(f"{base}.words.json"), json.dumps([list(w) for w, _ in computed]).encode("utf-8"))
            marker = {"texts": len(texts), "words": len(matrix)}
            _write(Path(f"{base}.json"), json.dumps(marker).encode("utf-8"))  # last: the segment is whole
        self.refresh()

    def fill(
        self,
        texts: Iterable[str],
        compute: Callable[[list[str]], list[WordVectors] | None],
        advance: Callable[[int], None] | None = None,
    ) -> int:
        """Compute and keep the word vectors of `texts`, those `missing` found not kept; how many
        were added. `compute` returning None (an embedder that gives no word vectors) stops it."""
        todo = sorted(texts, key=len)
        added = 0
        for start in range(0, len(todo), FILL_BATCH):
            batch = todo[start : start + FILL_BATCH]
            computed = compute(batch)
            if computed is None:
                return added
            self.add(batch, computed)
            added += len(batch)
            if advance:
                advance(len(batch))
        return added

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("*")) if self.folder.is_dir() else 0


def _write(path: Path, content: bytes | np.ndarray[Any, Any]) -> None:
    """Whole or not at all: into a side file, then renamed."""
    part = path.with_name(path.name + ".part")
    with open(part, "wb") as f:
        if isinstance(content, bytes):
            f.write(content)
        else:
            np.save(f, content)
    os.replace(part, path)
