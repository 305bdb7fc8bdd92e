"""Word vectors of the collection's titles and sentences, computed once at ingest and kept beside
the store, so that matching a question word by word (rag.alignment) costs a lookup instead of a
pass of the embedder over the best paper's sentences (262 ms at the median, session 13,
benchmarks/alignment_cost.py), and a summary can match its topic against every candidate's
whole text (about 50 papers: 5-10 s to compute at query time).

Layout: `<store>/words/<embedder name>/`, one segment per write: `NNNNNN.npy` holds the vectors
(float16, one row per word, all texts of the segment one after another) and `NNNNNN.json` the
texts' keys (a hash of the text), their word counts and words. The json is written last, so a
segment without one was interrupted and is ignored (and overwritten by the next write). Texts are
the key, not papers: a rebuild, a re-ingest or a paper stored twice never makes them stale, and
the folder name keeps another embedder's vectors apart.

Size: 384 dimensions in float16 are 768 bytes a word; the bundled 261 papers come to about
40 MB, 100,000 papers to about 15 GB, so `RAG_KEEP_WORD_VECTORS=false` turns this off (questions
then compute the best paper's word vectors as they come, and summaries read no word features).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.bert import WordVectors

log = logging.getLogger(__name__)

# texts handed to the embedder at a time while filling the folder: sorted by length first, so
# that a batch pads little; one segment is written per batch, so an interrupted fill redoes one.
# 1,024 sentences hold 30,000-40,000 word pieces: enough for the embedder to take them to torch,
# 2.7 times faster than numpy in bulk (rag.embedding._BULK_PIECES)
FILL_BATCH = 1024
_SEGMENT = re.compile(r"^(\d{6})\.json$")


def key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]


def folder_for(store_folder: Path, embedder_name: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._@-]+", "_", embedder_name)
    return store_folder / "words" / safe


def _load(path: Path) -> np.ndarray[Any, Any]:
    """Mapped, not read: the bundled store's 40 MB stay on disk until a paper's words are used.
    numpy cannot map an array without rows; those are read."""
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
        # text key -> (segment vectors, first row, word count, words)
        self._index: dict[str, tuple[np.ndarray[Any, Any], int, int, list[str]]] = {}
        self._segments: set[str] = set()
        self.refresh()

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and key(text) in self._index

    def refresh(self) -> None:
        """Read the segments written since this was opened (by an ingest in this process or
        another); a damaged segment is skipped with a warning: its texts are computed again."""
        if not self.folder.is_dir():
            return
        with self._lock:
            for path in sorted(self.folder.glob("*.json")):
                if not _SEGMENT.match(path.name) or path.name in self._segments:
                    continue
                try:
                    meta = json.loads(path.read_text())
                    vectors = _load(path.with_suffix(".npy"))
                    start = 0
                    for k, n, words in zip(meta["keys"], meta["counts"], meta["words"], strict=True):
                        self._index[k] = (vectors, start, n, words)
                        start += n
                    if start != len(vectors):
                        raise ValueError(f"{start} words listed, {len(vectors)} stored")
                except (OSError, ValueError, KeyError, TypeError) as e:
                    log.warning("kept word vectors %s unreadable (%s): their texts will be computed again", path, e)
                self._segments.add(path.name)

    def get(self, texts: Sequence[str]) -> dict[str, WordVectors]:
        """The texts found here, with their words and (float32) vectors."""
        found: dict[str, WordVectors] = {}
        for text in texts:
            entry = self._index.get(key(text))
            if entry is not None:
                vectors, start, n, words = entry
                found[text] = (list(words), np.asarray(vectors[start : start + n], dtype=np.float32))
        return found

    def missing(self, texts: Iterable[str]) -> list[str]:
        return list(dict.fromkeys(t for t in texts if key(t) not in self._index))

    def add(self, texts: Sequence[str], computed: Sequence[WordVectors]) -> None:
        """Write one segment holding `texts` (the vectors only, in float16)."""
        if not texts:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            numbers = [int(m.group(1)) for p in self.folder.iterdir() if (m := re.match(r"^(\d{6})\.", p.name))]
            name = f"{max(numbers, default=-1) + 1:06d}"
            dimension = next((len(v[0]) for _, v in computed if len(v)), 0)
            rows = [v.astype(np.float16) for _, v in computed if len(v)]
            matrix = np.concatenate(rows) if rows else np.zeros((0, dimension), dtype=np.float16)
            npy = self.folder / f"{name}.npy"
            with open(npy.with_suffix(".npy.part"), "wb") as f:
                np.save(f, matrix)
            os.replace(npy.with_suffix(".npy.part"), npy)
            meta = {
                "keys": [key(t) for t in texts],
                "counts": [len(v) for _, v in computed],
                "words": [list(w) for w, _ in computed],
            }
            part = self.folder / f"{name}.json.part"
            part.write_text(json.dumps(meta))
            os.replace(part, self.folder / f"{name}.json")
        self.refresh()

    def fill(
        self,
        texts: Iterable[str],
        compute: Callable[[list[str]], list[WordVectors] | None],
        advance: Callable[[int], None] | None = None,
    ) -> int:
        """Compute and keep the word vectors of the texts not kept yet; how many were added.
        `compute` returning None (an embedder that gives no word vectors) stops it."""
        todo = sorted(self.missing(texts), key=len)
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
