"""Ingest throughput: papers/s and chunks/s for a corpus, after the embedder is loaded.

    .venv/bin/python benchmarks/ingest_speed.py [--corpus corpus/papers.txt] [--batch-sizes 16,32,64,128]
        [--out benchmarks/results/ingest_speed.json]

Into a temporary store (never ./store), it times:
  - loading the embedder;
  - the real `rag.ingest.ingest` of the corpus (parse, chunk, embed, write), the headline figure;
  - the same stages apart: parse + chunk, embedding alone at each batch size, writing to Chroma;
  - ingesting the same file again (nothing should be embedded);
  - ingesting a copy in which a few papers were edited (only those should be embedded; their
    old versions stay in the store, see docs/performance.md).
Prints the figures, writes them as JSON, asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchlib import BUNDLED_CORPUS, Timer, cpu_seconds, machine, peak_rss_mib, write_result


def edited_copy(source: Path, target: Path, n_edits: int, seed: int = 0) -> int:
    """A copy of a papers.txt corpus with `n_edits` abstracts changed by one appended sentence."""
    from rag.corpus import load_corpus

    papers = load_corpus(source).papers
    chosen = set(random.Random(seed).sample(range(len(papers)), min(n_edits, len(papers))))
    lines = []
    for i, p in enumerate(papers):
        extra = " We also release our code." if i in chosen else ""
        lines += [p.title, p.abstract + extra, ""]
    target.write_text("\n".join(lines))
    return len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=BUNDLED_CORPUS)
    parser.add_argument("--batch-sizes", default="16,32,64,128", help="embedding batch sizes to compare")
    parser.add_argument(
        "--ingest-batch-chunks", type=int, default=None, help="chunks per ingest batch (default: the settings')"
    )
    parser.add_argument("--edits", type=int, default=5, help="papers edited for the re-ingest measurement")
    parser.add_argument("--dtype", choices=["auto", "float32", "bfloat16"], default=None, help="embedder precision")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    started = machine()

    import torch

    from rag.chunking import chunk_papers
    from rag.corpus import load_corpus
    from rag.embedding import Embedder
    from rag.ingest import fingerprint, ingest
    from rag.settings import Settings
    from rag.store import Store

    settings = Settings()
    batch_size = args.ingest_batch_chunks or settings.embedding.ingest_batch_chunks
    with Timer() as load:
        embedder = Embedder(
            settings.resolved_embedder_path(),
            settings.embedding.embed_batch_size,
            args.dtype or settings.embedding.embed_dtype,
        )
    embedder.embed(["warm up"])  # first call pays one-time allocations; not part of throughput

    figures: dict[str, Any] = {
        "corpus": str(args.corpus),
        "torch_threads": torch.get_num_threads(),
        "embedder": embedder.name,
        "embed_dtype": embedder.dtype,
        "embedder_load_s": round(load.s, 2),
        "ingest_batch_chunks": batch_size,
    }
    with tempfile.TemporaryDirectory(prefix="rag-bench-ingest-") as tmp:
        store = Store(Path(tmp) / "store", "papers")
        cpu_before = cpu_seconds()
        with Timer() as full:
            report = ingest(
                args.corpus,
                store,
                embedder,
                settings.embedding.chunk_max_tokens,
                settings.embedding.chunk_overlap_sentences,
                batch_size,
            )
        figures["ingest"] = {
            "papers": report.papers,
            "chunks": report.chunks,
            "seconds": round(full.s, 2),
            "papers_per_s": round(report.papers / full.s, 1),
            "chunks_per_s": round(report.chunks / full.s, 1),
            "cpu_s": round(cpu_seconds() - cpu_before, 1),
        }

        with Timer() as again:
            second = ingest(
                args.corpus,
                store,
                embedder,
                settings.embedding.chunk_max_tokens,
                settings.embedding.chunk_overlap_sentences,
                batch_size,
            )
        figures["reingest_unchanged"] = {"added_chunks": second.added_chunks, "seconds": round(again.s, 2)}

        edited = Path(tmp) / "edited.txt"
        n_edited = edited_copy(args.corpus, edited, args.edits)
        before = store.count()
        with Timer() as changed:
            third = ingest(
                edited,
                store,
                embedder,
                settings.embedding.chunk_max_tokens,
                settings.embedding.chunk_overlap_sentences,
                batch_size,
            )
        figures["reingest_edited"] = {
            "papers_edited": n_edited,
            "added_chunks": third.added_chunks,
            "seconds": round(changed.s, 2),
            "chunks_before": before,
            "chunks_after": store.count(),
            "papers_listed_after": len(store.papers()),
        }

        # the stages apart
        with Timer() as parse:
            papers = load_corpus(args.corpus).papers
        with Timer() as chunking:
            chunks = chunk_papers(
                papers,
                embedder.count_tokens,
                settings.embedding.chunk_max_tokens,
                settings.embedding.chunk_overlap_sentences,
            )
        texts = [c.embed_text for c in chunks]
        figures["parse_s"] = round(parse.s, 3)
        figures["chunk_s"] = round(chunking.s, 3)
        figures["mean_chunk_tokens"] = round(sum(c.n_tokens for c in chunks) / len(chunks), 1)

        embedding: dict[str, Any] = {}
        vectors = None
        for size in [int(s) for s in args.batch_sizes.split(",") if s]:
            embedder.batch_size = size
            with Timer() as one_call:  # one call: the library sorts every text by length first
                vectors = embedder.embed(texts)
            with Timer() as per_batch:  # what ingest does: one call per stored batch
                for start in range(0, len(texts), size):
                    embedder.embed(texts[start : start + size])
            embedding[str(size)] = {
                "one_call_chunks_per_s": round(len(texts) / one_call.s, 1),
                "per_batch_calls_chunks_per_s": round(len(texts) / per_batch.s, 1),
            }
            print(f"batch {size:>4}: {embedding[str(size)]}", file=sys.stderr)
        figures["embedding_only"] = embedding

        assert vectors is not None
        writer = Store(Path(tmp) / "store2", "papers")
        writer.create(
            fingerprint(embedder, settings.embedding.chunk_max_tokens, settings.embedding.chunk_overlap_sentences)
        )
        by_id = {p.paper_id: p for p in papers}
        with Timer() as write:
            writer.upsert(chunks, vectors, by_id)
        figures["store_write_chunks_per_s"] = round(len(chunks) / write.s, 1)

    figures["peak_rss_mib"] = peak_rss_mib()
    print(
        f"ingest {figures['ingest']['papers']} papers / {figures['ingest']['chunks']} chunks in "
        f"{figures['ingest']['seconds']} s ({figures['ingest']['papers_per_s']} papers/s, "
        f"{figures['ingest']['chunks_per_s']} chunks/s); embedder load {figures['embedder_load_s']} s; "
        f"re-ingest {figures['reingest_unchanged']}; edited {figures['reingest_edited']}; "
        f"peak RSS {figures['peak_rss_mib']} MiB"
    )
    write_result("ingest_speed", figures, args.out, started)


if __name__ == "__main__":
    main()
