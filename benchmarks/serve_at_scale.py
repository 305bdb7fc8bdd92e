"""`rag serve` ready at 100,000 papers, and retrieval there: old code against new in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/serve_at_scale.py --store /tmp/rag-bench/store100k \\
        --corpus /tmp/rag-bench/syn100k.jsonl --source-store store [--old-code /tmp/rag-bench/oldcode] \\
        [--out benchmarks/results/serve-100k.json]

`--corpus` is benchmarks/synthetic_corpus.py's JSONL; `--old-code` a checkout of the code before
the persisted lexical index (e.g. `git archive 76003e5 rag prompts corpus | tar -x -C DIR`).

1. Build the store once (kept: a second run reuses it). The real ingest with simulated vectors
   (benchmarks/scale.py) took 23 min on a quiet machine and was on course for 80 at load 13, so
   this writes the store through `Store.upsert` directly: the planted papers (the bundled
   corpus, verbatim) get their real chunks, vectors and sentence vectors copied from
   `--source-store` (an ingest of the bundled corpus); every distractor is chunked by the real
   chunker with word pieces estimated as characters / 4.5, and its chunk and sentence vectors
   are means of three real chunk vectors plus noise. Records, sentence vectors in the metadata
   and the HNSW index are what an ingest writes; no lexical index is written.
2. Start-up, each in a fresh process: the retriever and the term statistics opened (what the
   server's lifespan adds to loading the embedder and the model), and `rag serve` until it
   answers /healthz. New code with the index missing (it rebuilds and saves it), new code with
   the index saved, and the old code.
3. Retrieval, everything loaded once: latency p50/p95 over the dev questions (each new to the
   process: its embedding included), and recall@5 of their planted papers; `retrieval` in this
   process (new code), `retrieval-new` and `retrieval-old` each in a fresh process.
Prints figures, writes JSON, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from benchlib import DEV_QUESTIONS, Timer, load_questions, machine, percentiles, write_result

HERE = Path(__file__).resolve()
NEW_CODE = HERE.parent.parent
CHARS_PER_PIECE = 4.5  # word pieces per character of English abstracts, about (our chunks: 153 pieces)
SERVE_TIMEOUT_S = 1800.0  # the old code at 100,000 papers under load: minutes


def uptime() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[0]


# ---- 1. the store -----------------------------------------------------------------------------


def build_store(corpus: Path, store_path: Path, source_path: Path, batch_chunks: int = 4096) -> dict[str, Any]:
    from rag.chunking import Chunk, chunk_papers, paper_sentences
    from rag.corpus import load_corpus
    from rag.store import Store

    started = time.perf_counter()
    source = Store(source_path, "papers")
    fingerprint = source.fingerprint()
    assert fingerprint is not None, f"{source_path} holds no fingerprinted collection"
    real = {p.paper_id: p for p in source.papers()}
    real_chunks = {c.chunk_id: c for c in source.iter_chunks()}
    real_sentences = source.sentence_vectors(list(real))
    import chromadb

    everything = chromadb.PersistentClient(path=str(source_path)).get_collection("papers").get(include=["embeddings"])
    embeddings = everything["embeddings"]  # a numpy array: `or []` on it raises
    by_id = {
        cid: np.asarray(v, dtype=np.float32)
        for cid, v in zip(everything["ids"], [] if embeddings is None else list(embeddings), strict=True)
    }
    pool = np.stack(list(by_id.values()))

    papers = load_corpus(corpus).papers
    store = Store(store_path, "papers")
    store.create(fingerprint)
    rng = np.random.default_rng(0)

    def stand_ins(n: int) -> np.ndarray:
        mix = pool[rng.integers(0, len(pool), (n, 3))].mean(axis=1) + rng.normal(0.0, 0.02, (n, pool.shape[1]))
        return (mix / np.linalg.norm(mix, axis=1, keepdims=True)).astype(np.float32)

    def estimate(text: str) -> int:
        return max(1, int(len(text) / CHARS_PER_PIECE))

    planted = 0
    for start in range(0, len(papers), batch_chunks // 2):
        part = papers[start : start + batch_chunks // 2]
        chunks, vectors, sentences = [], [], {}
        for paper in part:
            if paper.paper_id in real:
                planted += 1
                copied = sorted(
                    (c for c in real_chunks.values() if c.paper_id == paper.paper_id), key=lambda c: c.index
                )
                for chunk in copied:
                    chunks.append(Chunk(chunk.chunk_id, chunk.paper_id, chunk.title, chunk.index, chunk.text, 0))
                    vectors.append(by_id[chunk.chunk_id])
                if paper.paper_id in real_sentences:
                    sentences[paper.paper_id] = real_sentences[paper.paper_id]
                continue
            mine = chunk_papers([paper], estimate, 200, 1)
            chunks.extend(mine)
            vectors.extend(stand_ins(len(mine)))
            sentences[paper.paper_id] = stand_ins(len(paper_sentences(paper.abstract)))
        store.upsert(chunks, np.asarray(vectors), {p.paper_id: p for p in part}, sentences)
        if start // (batch_chunks // 2) % 10 == 0:
            print(f"  built {start + len(part)} of {len(papers)} papers (load {uptime()})", file=sys.stderr)
    return {
        "papers": len(papers),
        "planted": planted,
        "chunks": store.count(),
        "build_s": round(time.perf_counter() - started, 1),
    }


# ---- 2. start-up ------------------------------------------------------------------------------

OPEN_CHILD = """
import json, sys, time
started = time.perf_counter()
from pathlib import Path
from rag.service import RagService
from rag.settings import Settings
imported = time.perf_counter()
service = RagService(Settings(store_path=Path(sys.argv[1])))
service.embedder
embedder = time.perf_counter()
service.retriever
retriever = time.perf_counter()
service.stats
stats = time.perf_counter()
print(json.dumps({"import_s": round(imported - started, 2), "embedder_s": round(embedder - imported, 2),
                  "retriever_s": round(retriever - embedder, 2), "term_statistics_s": round(stats - retriever, 2),
                  "open_s": round(stats - embedder, 2), "papers": len(service.retriever.papers),
                  "chunks": service.store.count()}))
"""


def open_in_child(code: Path, store: Path) -> dict[str, Any]:
    # run from `code`: `python -c` puts the working folder first on sys.path, before PYTHONPATH
    env = {**os.environ, "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", OPEN_CHILD, str(store)], capture_output=True, text=True, env=env, timeout=3600, cwd=code
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1]) if lines else {"failed": done.stderr[-500:]}
    result["load_before"] = uptime()
    return result


def serve_ready(code: Path, store: Path) -> dict[str, Any]:
    import httpx

    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1", "RAG_STORE_PATH": str(store)}
    command = [sys.executable, "-c", "from rag.cli import cli; cli()", "serve", "--port", str(port)]
    log_path = store.parent / f"serve-{port}.log"
    load = uptime()
    started = time.perf_counter()
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=code)
        try:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).is_success:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.perf_counter() - started > SERVE_TIMEOUT_S:
                    return {"failed": log_path.read_text()[-800:], "load_before": load}
                time.sleep(0.1)
            return {"ready_s": round(time.perf_counter() - started, 2), "load_before": load}
        finally:
            server.terminate()
            server.wait(timeout=60)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- 3. retrieval -----------------------------------------------------------------------------


def retrieval(store: Path, questions: list[dict[str, Any]], k: int = 5) -> dict[str, Any]:
    from rag.service import RagService
    from rag.settings import Settings

    service = RagService(Settings(store_path=store))
    retriever = service.retriever
    latencies, hits = [], 0
    for q in questions:
        with Timer() as t:
            result = retriever.retrieve(q["question"], k)
        latencies.append(t.ms)
        titles = [p.title for p in result.papers]
        hits += any(g in titles for g in q["gold_titles"])
    return {"latency_ms": percentiles(latencies), f"recall_at_{k}": round(hits / len(questions), 3)}


def retrieval_in_child(code: Path, store: Path, questions: Path) -> dict[str, Any]:
    """`retrieval` in a fresh process running `code` (old or new), so both are timed alike."""
    env = {**os.environ, "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, str(HERE), "--store", str(store), "--questions", str(questions), "--retrieval-child"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600, cwd=code)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"failed": done.stderr[-500:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, required=True, help="store folder (built once, then reused)")
    parser.add_argument("--corpus", type=Path, help="synthetic JSONL to build the store from")
    parser.add_argument("--source-store", type=Path, help="a store of the bundled corpus (its real vectors)")
    parser.add_argument("--old-code", type=Path, help="a checkout of the code before the persisted index")
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS)
    parser.add_argument(
        "--steps",
        default="open-missing,open-saved,retrieval,serve-new,open-old,serve-old",
        help="what to measure, in order (the old code's steps are the slow ones)",
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--retrieval-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.retrieval_child:
        print(json.dumps({**retrieval(args.store, load_questions(args.questions)), "load_after": uptime()}))
        return

    record: dict[str, Any] = {"machine": machine(), "load_at_start": uptime()}
    if not (args.store / "chroma.sqlite3").exists():
        assert args.corpus and args.source_store, "--corpus and --source-store build the store"
        record["build"] = build_store(args.corpus, args.store, args.source_store)
        print(f"built: {record['build']}", file=sys.stderr)

    from rag.lexical import index_folder
    from rag.store import Store

    steps = args.steps.split(",")
    old = args.old_code
    record["open"], record["serve"] = {}, {}
    for step in steps:
        if step == "open-missing":  # new code, the index missing: rebuilt from the store and saved
            shutil.rmtree(index_folder(Store(args.store, "papers")), ignore_errors=True)
            record["open"]["new, index missing (rebuilt and saved)"] = open_in_child(NEW_CODE, args.store)
        elif step == "open-saved":
            record["open"]["new, index saved"] = open_in_child(NEW_CODE, args.store)
        elif step == "open-old" and old:
            record["open"]["old (before the persisted index)"] = open_in_child(old, args.store)
        elif step == "retrieval":  # in this process, new code
            record["retrieval"] = retrieval(args.store, load_questions(args.questions))
        elif step in ("retrieval-new", "retrieval-old") and (step == "retrieval-new" or old):
            code = NEW_CODE if step == "retrieval-new" else old
            record.setdefault("retrieval_in_child", {})[step] = retrieval_in_child(code, args.store, args.questions)
        elif step == "serve-new":
            record["serve"]["new, index saved"] = serve_ready(NEW_CODE, args.store)
        elif step == "serve-old" and old:
            record["serve"]["old (before the persisted index)"] = serve_ready(old, args.store)
        print(f"{step}: {json.dumps({k: v for k, v in record.items() if k != 'machine'})}", file=sys.stderr)
    record["load_at_end"] = uptime()
    print(json.dumps(record, indent=2))
    write_result("serve-at-scale", record, args.out)


if __name__ == "__main__":
    main()
