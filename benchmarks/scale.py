"""Scale: ingest a synthetic corpus, interrupt and resume it, then measure queries and recall.

    .venv/bin/python benchmarks/synthetic_corpus.py 5000 /tmp/syn5k.jsonl
    .venv/bin/python benchmarks/scale.py /tmp/syn5k.jsonl --store /tmp/syn5k-store \\
        [--vectors real|simulated] [--interrupt-after 60] [--ef-search 16,64,128,256] [--hnsw-variants]
        [--out benchmarks/results/scale-5000.json]

1. Ingest, in a child process (so its peak memory is its own, and it can be interrupted): the
   real `rag.ingest.ingest`. With `--interrupt-after S` the child gets SIGINT (Ctrl-C) after S
   seconds; a second child then resumes, and the record shows how many chunks it embedded
   against how many were missing (they must be equal: nothing done is embedded twice).
   `--vectors simulated` replaces only the model's forward pass, for sizes where real embedding
   would take hours on this machine: the planted (real) papers get their real vectors; each
   distractor chunk gets a mix of three real chunk vectors plus noise, seeded by its text. Parsing,
   chunking (with the real tokenizer), the resume check, Chroma writes and memory are all real.
2. Queries, in this process, with everything loaded once: retrieval latency p50/p95 over the dev
   questions (each new to the process, then each asked again: its vector and its papers' sentence
   vectors are then in memory) and recall@5 / MRR of their gold (planted) papers among N.
3. HNSW: for each `--ef-search`, the latency of the dense query and its recall@100 against an
   exact search over every stored vector. `--hnsw-variants` also rebuilds the index from the
   stored vectors (no re-embedding) with other `max_neighbors` / `ef_construction` values.
Prints figures, writes JSON, asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from benchlib import (
    DEV_QUESTIONS,
    Timer,
    cpu_seconds,
    load_questions,
    machine,
    peak_rss_mib,
    percentiles,
    write_result,
)

HERE = Path(__file__).resolve()


# ---- the ingest child ---------------------------------------------------------------------------


class SimulatedEmbedder:
    """The real embedder's name, tokenizer and dimension; real vectors for the planted papers'
    chunks and sentences, cheap stand-ins for every other text."""

    def __init__(self, real: Any, planted_texts: list[str], cache: Path) -> None:
        self.real = real
        self.name = real.name
        self.dimension = real.dimension
        self.count_tokens = real.count_tokens
        if cache.exists():
            saved = np.load(cache)
            vectors = saved["vectors"]
            assert list(saved["texts"]) == planted_texts, "stale planted-vector cache"
        else:
            vectors = real.embed(planted_texts)
            np.savez(cache, texts=np.array(planted_texts), vectors=vectors)
        self.known = dict(zip(planted_texts, vectors, strict=True))
        self.pool = np.asarray(vectors, dtype=np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            known = self.known.get(text)
            if known is not None:
                out[i] = known
                continue
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            rng = np.random.default_rng(seed)
            mix = self.pool[rng.choice(len(self.pool), 3, replace=False)].mean(axis=0)
            mix += rng.normal(0.0, 0.02, self.dimension).astype(np.float32)
            out[i] = mix / np.linalg.norm(mix)
        return out


def ingest_child(corpus: Path, store_path: Path, vectors: str) -> None:
    """Runs in the child: ingest, print one JSON line with the report (or where it stopped)."""
    # a child of a background job inherits SIGINT ignored, and Python then installs no handler
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from rag.chunking import chunk_papers, paper_sentences
    from rag.corpus import load_corpus
    from rag.embedding import Embedder
    from rag.ingest import ingest
    from rag.settings import Settings
    from rag.store import Store

    settings = Settings(store_path=store_path)
    with Timer() as load:
        embedder: Any = Embedder(
            settings.resolved_embedder_path(), settings.embedding.embed_batch_size, settings.embedding.embed_dtype
        )
    if vectors == "simulated":
        planted = json.loads(corpus.with_suffix(".planted.json").read_text())
        papers = [p for p in load_corpus(corpus).papers if p.title in set(planted)]
        texts = [
            c.embed_text
            for c in chunk_papers(
                papers,
                embedder.count_tokens,
                settings.embedding.chunk_max_tokens,
                settings.embedding.chunk_overlap_sentences,
            )
        ] + [s for p in papers for s in paper_sentences(p.abstract)]
        embedder = SimulatedEmbedder(embedder, texts, store_path.parent / f"{store_path.name}.planted.npz")
    store = Store(store_path, settings.store.collection, ef_search=settings.store.hnsw_ef_search)
    before = store.count()
    record: dict[str, Any] = {"embedder_load_s": round(load.s, 2), "chunks_before": before}
    started, cpu_before = time.perf_counter(), cpu_seconds()
    try:
        report = ingest(
            corpus,
            store,
            embedder,
            settings.embedding.chunk_max_tokens,
            settings.embedding.chunk_overlap_sentences,
            settings.embedding.ingest_batch_chunks,
        )
        record.update(report.to_dict())
        record.pop("skipped", None)
        record.pop("repaired", None)
        record["interrupted"] = False
    except KeyboardInterrupt:
        record["interrupted"] = True
    record["wall_s"] = round(time.perf_counter() - started, 1)
    record["cpu_s"] = round(cpu_seconds() - cpu_before, 1)
    record["chunks_after"] = store.count()
    record["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(record), flush=True)


def run_child(corpus: Path, store: Path, vectors: str, interrupt_after: float | None) -> dict[str, Any]:
    command = [sys.executable, str(HERE), "--child", str(corpus), "--store", str(store), "--vectors", vectors]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    if interrupt_after is not None:
        try:
            child.wait(timeout=interrupt_after)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGINT)  # what Ctrl-C does
    out, _ = child.communicate()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1]) if lines else {"crashed": child.returncode}
    result["exit_code"] = child.returncode
    print(f"ingest child: {result}", file=sys.stderr)
    return result


# ---- queries --------------------------------------------------------------------------------------


def retrieval_quality(retriever: Any, questions: list[dict[str, Any]], k: int) -> dict[str, Any]:
    latencies, hits, reciprocal = [], 0, 0.0
    for q in questions:
        with Timer() as t:
            result = retriever.retrieve(q["question"], k)
        latencies.append(t.ms)
        titles = [p.title for p in result.candidates]
        ranks = [titles.index(g) + 1 for g in q["gold_titles"] if g in titles]
        best = min(ranks) if ranks else None
        hits += best is not None and best <= k
        reciprocal += 1.0 / best if best else 0.0
    return {
        "latency_ms": percentiles(latencies),
        f"recall_at_{k}": round(hits / len(questions), 3),
        "mrr": round(reciprocal / len(questions), 3),
    }


def all_vectors(collection: Any) -> tuple[list[str], np.ndarray]:
    ids, rows, offset = [], [], 0
    while True:
        page = collection.get(include=["embeddings"], limit=5000, offset=offset)
        if not page["ids"]:
            break
        ids += page["ids"]
        rows.append(np.asarray(page["embeddings"], dtype=np.float32))
        offset += len(page["ids"])
    return ids, np.concatenate(rows)


def ann_recall(collection: Any, queries: np.ndarray, exact: list[set[str]], n: int) -> dict[str, Any]:
    """Latency of the dense query and the share of the exact top-n it returns."""
    latencies, found = [], 0.0
    collection.query(query_embeddings=[queries[0]], n_results=n)  # loads the index: not timed
    for vector, truth in zip(queries, exact, strict=True):
        with Timer() as t:
            result = collection.query(query_embeddings=[vector], n_results=n, include=["distances"])
        latencies.append(t.ms)
        found += len(truth & set(result["ids"][0])) / n
    return {"latency_ms": percentiles(latencies), f"recall_at_{n}": round(found / len(queries), 4)}


def hnsw_child(store_path: Path, collection: str, ef: int, data: Path) -> None:
    """In a fresh process: Chroma reads `ef_search` when it loads an index, and keeps a loaded
    index for the life of the process, so each value is measured where it is loaded first."""
    from rag.store import Store

    saved = np.load(data)
    exact = [set(row) for row in saved["exact"].tolist()]
    store = Store(store_path, collection, ef_search=ef)  # sets ef_search as the product does
    print(json.dumps(ann_recall(store._collection, saved["queries"], exact, saved["exact"].shape[1])), flush=True)


def _measure_in_child(store_path: Path, collection: str, ef: int, data: Path) -> dict[str, Any]:
    command = [sys.executable, str(HERE), "--hnsw-child", collection, str(ef), str(data), "--store", str(store_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"failed": done.stderr[-1000:]}


def hnsw_sweep(
    store: Any, store_path: Path, queries: np.ndarray, ef_values: list[int], variants: bool
) -> dict[str, Any]:
    ids, matrix = all_vectors(store._collection)
    n = 100  # what the retriever asks for (Settings.candidate_chunks)
    exact = [[ids[i] for i in np.argsort(-(matrix @ vector))[:n]] for vector in queries]
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rag-bench-hnsw-") as tmp:
        data = Path(tmp) / "queries.npz"
        np.savez(data, queries=queries, exact=np.array(exact))
        for ef in ef_values:
            rows[f"ef_search={ef}"] = _measure_in_child(store_path, store._name, ef, data)
            print(f"ef_search={ef}: {rows[f'ef_search={ef}']}", file=sys.stderr)
        if variants:
            client = store._client
            for m, efc in ((16, 100), (32, 200)):
                name = f"hnsw-m{m}-efc{efc}"
                if name in {c if isinstance(c, str) else c.name for c in client.list_collections()}:
                    client.delete_collection(name)
                variant = client.create_collection(
                    name,
                    configuration={"hnsw": {"space": "cosine", "max_neighbors": m, "ef_construction": efc}},
                    embedding_function=None,
                )
                with Timer() as build:
                    for start in range(0, len(ids), 5000):
                        variant.add(ids=ids[start : start + 5000], embeddings=matrix[start : start + 5000])
                row: dict[str, Any] = {"build_s": round(build.s, 1)}
                for ef in (64, 256):
                    row[f"ef_search={ef}"] = _measure_in_child(store_path, name, ef, data)
                rows[name] = row
                print(f"{name}: {row}", file=sys.stderr)
                client.delete_collection(name)
        # every child set ef_search on the collection it opened: put the settings' value back
        _measure_in_child(store_path, store._name, store._ef_search, data)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path, help="JSONL from synthetic_corpus.py (with its .planted.json)")
    parser.add_argument("--store", type=Path, required=True, help="store folder (kept: a second run resumes)")
    parser.add_argument("--vectors", choices=["real", "simulated"], default="real")
    parser.add_argument("--interrupt-after", type=float, help="Ctrl-C the first ingest after this many seconds")
    parser.add_argument("--skip-ingest", action="store_true", help="measure queries on the store as it is")
    parser.add_argument(
        "--ingest-runs", type=Path, help="with --skip-ingest: a JSON list of the ingest children's records to report"
    )
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS)
    parser.add_argument("--ef-search", default="16,64,128,256", help="HNSW ef_search values to compare")
    parser.add_argument("--hnsw-variants", action="store_true", help="also compare max_neighbors/ef_construction")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--hnsw-child", action="store_true", help=argparse.SUPPRESS)
    args, extra = parser.parse_known_args()
    if args.hnsw_child:  # corpus holds the collection name here; extra: ef and the data file
        hnsw_child(args.store, str(args.corpus), int(extra[0]), Path(extra[1]))
        return
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.child:
        ingest_child(args.corpus, args.store, args.vectors)
        return
    started = machine()
    figures: dict[str, Any] = {"corpus": str(args.corpus), "vectors": args.vectors, "store": str(args.store)}

    runs: list[dict[str, Any]] = []
    if args.skip_ingest and args.ingest_runs:
        runs = json.loads(args.ingest_runs.read_text())
    elif not args.skip_ingest:
        if args.interrupt_after is not None:
            runs.append(run_child(args.corpus, args.store, args.vectors, args.interrupt_after))
        runs.append(run_child(args.corpus, args.store, args.vectors, None))
    if runs:
        figures["ingest_runs"] = runs
        final = runs[-1]
        if final.get("chunks"):
            wall = sum(r["wall_s"] for r in runs)
            added = sum(r["chunks_after"] - r["chunks_before"] for r in runs)
            figures["ingest"] = {
                "papers": final["papers"],
                "chunks": final["chunks"],
                "wall_s": round(wall, 1),
                "papers_per_s": round(final["papers"] * added / final["chunks"] / wall, 2),
                "chunks_per_s": round(added / wall, 2),
                "peak_rss_mib": max(r.get("peak_rss_mib", 0) for r in runs),
                "cpu_s_where_recorded": round(sum(r.get("cpu_s", 0) for r in runs), 1),
            }
            if len(runs) == 2:
                figures["resume"] = {
                    "chunks_stored_when_interrupted": runs[0]["chunks_after"],
                    "chunks_missing_at_resume": final["chunks"] - final["chunks_before"],
                    "chunks_embedded_on_resume": final["added_chunks"],
                }

    from dataclasses import asdict

    from rag.embedding import Embedder
    from rag.retrieval import Retriever
    from rag.settings import Settings
    from rag.store import Store

    # the retriever as RagService builds it, minus the fingerprint check: a store built by an
    # older chunker version still measures query latency and recall
    settings = Settings(store_path=args.store)
    embedder = Embedder(
        settings.resolved_embedder_path(), settings.embedding.embed_batch_size, settings.embedding.embed_dtype
    )
    store = Store(args.store, settings.store.collection, ef_search=settings.store.hnsw_ef_search)
    found = store.fingerprint()
    figures["store_fingerprint"] = asdict(found) if found else None
    with Timer() as build:
        retriever = Retriever(
            store,
            embedder,
            settings.retrieval.candidate_chunks,
            settings.retrieval.lexical_weight,
            settings.retrieval.rerank_depth,
            settings.retrieval.sentence_weight,
        )
    figures["papers"] = len(retriever.papers)
    figures["chunks"] = store.count()
    figures["retriever_build_s"] = round(build.s, 1)  # BM25 over every paper, read from the store
    questions = load_questions(args.questions, answerable_only=True)
    retriever.retrieve("warm up", 5)
    figures["retrieval_new_questions"] = retrieval_quality(retriever, questions, 5)
    figures["retrieval_repeated_questions"] = retrieval_quality(retriever, questions, 5)
    print(f"retrieval: new {figures['retrieval_new_questions']}, repeated {figures['retrieval_repeated_questions']}")
    queries = embedder.embed([q["question"] for q in questions])
    figures["hnsw"] = hnsw_sweep(
        store, args.store, queries, [int(x) for x in args.ef_search.split(",") if x], args.hnsw_variants
    )
    figures["query_process_peak_rss_mib"] = peak_rss_mib()
    write_result(f"scale-{figures['papers']}-{args.vectors}", figures, args.out, started)


if __name__ == "__main__":
    main()
