"""What the kept word vectors (rag.words) cost to open and look up at about 100,000 papers,
without computing 15 GB of vectors: segments shaped as the bundled ingest writes them (8.7
texts a paper, 25 words a text, about 2,450 texts a segment), with one-dimensional vectors, in a
temporary folder.

    .venv/bin/python benchmarks/kept_words_scale.py [--papers 100000] [--out FILE]

Prints the time to open the folder, the first lookup (which reads every segment's keys and
builds the index), a later lookup of a question's 11 texts, and checking an ingest's worth of
texts for which are kept; writes JSON; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from benchlib import machine, write_result

from rag.words import KeptWords, key

TEXTS_PER_PAPER = 2281 / 261  # the bundled corpus: titles and sentences per paper
WORDS_PER_TEXT = 25
TEXTS_PER_SEGMENT = 2450  # an ingest batch of 512 chunks holds about 280 papers


def build(folder: Path, papers: int) -> list[str]:
    """Segments as KeptWords.add writes them; returns some of their texts."""
    segments = max(1, round(papers * TEXTS_PER_PAPER / TEXTS_PER_SEGMENT))
    sample = []
    for s in range(segments):
        texts = [f"text {s} {i}" for i in range(TEXTS_PER_SEGMENT)]
        sample += texts[:: TEXTS_PER_SEGMENT // 3]
        starts = np.arange(TEXTS_PER_SEGMENT + 1, dtype=np.int64) * WORDS_PER_TEXT
        base = folder / f"{s:06d}"
        np.save(f"{base}.npy", np.zeros((int(starts[-1]), 1), dtype=np.float16))
        np.save(f"{base}.keys.npy", np.array([key(t) for t in texts], dtype="S20"))
        np.save(f"{base}.starts.npy", starts)
        Path(f"{base}.words.json").write_text(json.dumps([["word"] * WORDS_PER_TEXT] * TEXTS_PER_SEGMENT))
        Path(f"{base}.json").write_text(json.dumps({"texts": TEXTS_PER_SEGMENT, "words": int(starts[-1])}))
    return sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    started = machine()
    with tempfile.TemporaryDirectory() as tmp:
        sample = build(Path(tmp), args.papers)
        ms: dict[str, float] = {}
        t = time.perf_counter()
        kept = KeptWords(Path(tmp))
        ms["open"] = 1000 * (time.perf_counter() - t)
        question = sample[:: max(1, len(sample) // 11)][:11]
        t = time.perf_counter()
        kept.get(question)
        ms["first lookup"] = 1000 * (time.perf_counter() - t)
        t = time.perf_counter()
        kept.get(question)
        ms["a later lookup, 11 texts"] = 1000 * (time.perf_counter() - t)
        ingest = [f"new text {i}" for i in range(round(args.papers * TEXTS_PER_PAPER))]
        t = time.perf_counter()
        kept.missing(ingest)
        ms[f"which of {len(ingest):,} texts are kept"] = 1000 * (time.perf_counter() - t)
        texts = len(kept)
    print(f"{texts:,} texts kept, as from {args.papers:,} papers")
    for what, value in ms.items():
        print(f"  {what:<32} {value:9.1f} ms")
    write_result("kept_words_scale", {"papers": args.papers, "texts": texts, "ms": ms}, args.out, started)


if __name__ == "__main__":
    main()
