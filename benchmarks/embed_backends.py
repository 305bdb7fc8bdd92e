"""Is another embedding backend faster than PyTorch on these CPUs, on real abstracts?

    .venv/bin/python benchmarks/embed_backends.py [--onnx-site DIR] [--repeats 3] [--out FILE]

Compares, on the chunks of the bundled corpus (real abstracts, about 150 word pieces each) and on
short sentences:
  - torch fp32: sentence-transformers as `rag` runs it (the reference);
  - torch bf16: the same under CPU autocast to bfloat16;
  - onnx fp32 and onnx int8: the same BERT exported with `torch.onnx.export` and run by
    onnxruntime (already installed as a chromadb dependency), with the same mean pooling.
For each: chunks/s (best and median of `--repeats`, backends interleaved so a busy neighbour
hurts them alike), the lowest cosine between its vectors and the reference, and dense recall@5
on the dev questions (exact search over the chunk vectors, papers ranked by their best chunk).

sentence-transformers' own `backend="onnx"` needs `optimum-onnx`, which pins transformers
below 4.58 and would downgrade the project's transformers 5.x; so the export here is done by
hand. It needs the `onnx` package only for the export: install it outside the venv with
`pip install --target /tmp/onnxpkgs --no-deps onnx ml_dtypes` and pass `--onnx-site /tmp/onnxpkgs`.
Without it the ONNX rows are skipped and the record says why.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from benchlib import BUNDLED_CORPUS, load_questions, machine, peak_rss_mib, write_result

Encode = Callable[[list[str]], np.ndarray]


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def onnx_encoders(model: Any, batch_size: int, threads: int, workdir: Path) -> dict[str, Encode]:
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    bert = model[0].auto_model.eval()
    tokenizer = model.tokenizer
    max_len = int(model.max_seq_length)

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = tokenizer(["a sample sentence", "another"], return_tensors="pt", padding=True)
    fp32 = workdir / "model.onnx"
    torch.onnx.export(
        LastHidden(),
        tuple(sample[n] for n in names),
        str(fp32),
        input_names=names,
        output_names=["last_hidden_state"],
        dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]},
        opset_version=17,
        dynamo=False,
    )
    int8 = workdir / "model.int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)

    def encoder(path: Path) -> Encode:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        def encode(texts: list[str]) -> np.ndarray:
            order = np.argsort([-len(t) for t in texts])  # as sentence-transformers does: less padding
            out = np.zeros((len(texts), 384), dtype=np.float32)
            for start in range(0, len(texts), batch_size):
                idx = order[start : start + batch_size]
                enc = tokenizer(
                    [texts[i] for i in idx], padding=True, truncation=True, max_length=max_len, return_tensors="np"
                )
                feeds = {n: enc[n].astype(np.int64) for n in names}
                hidden = session.run(None, feeds)[0]
                out[idx] = mean_pool(hidden, enc["attention_mask"])
            return out

        return encode

    return {"onnx fp32": encoder(fp32), "onnx int8": encoder(int8)}


def dense_recall_at_5(
    vectors: np.ndarray,
    chunk_papers: list[str],
    questions: list[dict[str, Any]],
    encode: Encode,
    titles: dict[str, str],
) -> float:
    qv = encode([q["question"] for q in questions])
    hits = 0
    for q, v in zip(questions, qv, strict=True):
        sims = vectors @ v
        ranked: list[str] = []
        for i in np.argsort(-sims):
            if chunk_papers[i] not in ranked:
                ranked.append(chunk_papers[i])
            if len(ranked) == 5:
                break
        gold = set(q["gold_titles"])
        hits += any(titles[p] in gold for p in ranked)
    return hits / len(questions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=BUNDLED_CORPUS)
    parser.add_argument("--onnx-site", type=Path, help="folder holding the `onnx` package (for the export only)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    started = machine()

    import torch

    from rag.chunking import chunk_papers, split_sentences
    from rag.corpus import load_corpus
    from rag.embedding import Embedder
    from rag.settings import Settings

    settings = Settings()
    embedder = Embedder(settings.resolved_embedder_path(), args.batch_size)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(settings.resolved_embedder_path()), device="cpu")  # for the ONNX export
    papers = load_corpus(args.corpus).papers
    chunks = chunk_papers(
        papers, embedder.count_tokens, settings.embedding.chunk_max_tokens, settings.embedding.chunk_overlap_sentences
    )
    long_texts = [c.embed_text for c in chunks]
    short_texts = [s for p in papers for s in split_sentences(p.abstract)][: len(long_texts)]
    threads = torch.get_num_threads()

    def torch_fp32(texts: list[str]) -> np.ndarray:
        return embedder.embed(texts)

    def torch_bf16(texts: list[str]) -> np.ndarray:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return embedder.embed(texts)

    encoders: dict[str, Encode] = {"torch fp32": torch_fp32, "torch bf16": torch_bf16}
    figures: dict[str, Any] = {
        "texts": len(long_texts),
        "mean_tokens_long": round(float(np.mean([c.n_tokens for c in chunks])), 1),
        "mean_tokens_short": round(float(np.mean([embedder.count_tokens(t) for t in short_texts])), 1),
        "threads": threads,
        "batch_size": args.batch_size,
    }
    with tempfile.TemporaryDirectory(prefix="rag-bench-onnx-") as tmp:
        if args.onnx_site:
            sys.path.insert(0, str(args.onnx_site))
        try:
            encoders.update(onnx_encoders(model, args.batch_size, threads, Path(tmp)))
        except Exception as e:  # the export needs the `onnx` package, which the venv does not hold
            figures["onnx_skipped"] = f"{type(e).__name__}: {e}"
            print(f"onnx skipped: {figures['onnx_skipped']}", file=sys.stderr)

        for encode in encoders.values():
            encode(long_texts[:8])  # warm up
        timings: dict[str, dict[str, list[float]]] = {n: {"long": [], "short": []} for n in encoders}
        results: dict[str, np.ndarray] = {}
        for _ in range(args.repeats):
            for name, encode in encoders.items():  # interleaved: load from neighbours hits all alike
                for kind, texts in (("long", long_texts), ("short", short_texts)):
                    t0 = time.perf_counter()
                    vectors = encode(texts)
                    timings[name][kind].append(len(texts) / (time.perf_counter() - t0))
                    if kind == "long":
                        results[name] = vectors
                print(f"{name}: {[round(x, 1) for x in timings[name]['long']]} chunks/s", file=sys.stderr)

        questions = load_questions(answerable_only=True)
        titles = {p.paper_id: p.title for p in papers}
        chunk_paper_ids = [c.paper_id for c in chunks]
        reference = results["torch fp32"]
        rows: dict[str, Any] = {}
        for name, encode in encoders.items():
            vectors = results[name]
            rows[name] = {
                "long_chunks_per_s_best": round(max(timings[name]["long"]), 1),
                "long_chunks_per_s_median": round(statistics.median(timings[name]["long"]), 1),
                "short_sentences_per_s_best": round(max(timings[name]["short"]), 1),
                "min_cosine_to_torch_fp32": round(float(np.min(np.sum(vectors * reference, axis=1))), 4),
                "dense_recall_at_5": round(dense_recall_at_5(vectors, chunk_paper_ids, questions, encode, titles), 3),
            }
    figures["backends"] = rows
    figures["peak_rss_mib"] = peak_rss_mib()
    for name, row in rows.items():
        print(f"{name:>11}: {row}")
    write_result("embed_backends", figures, args.out, started)


if __name__ == "__main__":
    main()
