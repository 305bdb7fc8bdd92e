"""Where a cold in-process `rag ask` spends its time: each import and each load, one after another.

    .venv/bin/python benchmarks/cold_phases.py --store DIR [--with-torch] [--out benchmarks/results/cold_phases.json]

Run it in a fresh interpreter (it is one): every heavy library is imported for the first time by
the phase that names it, in the order a cold `rag ask` meets them, then the store, the embedder,
the retriever, one extractive answer, the model and one generative answer. Each phase gets its
CPU seconds (all threads) and wall seconds; on a shared machine the CPU seconds are the figure
to compare, the wall seconds show the contention. Prints figures, writes JSON, asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import resource
import time
from pathlib import Path
from typing import Any

from benchlib import machine, write_result

TYPICAL_QUESTION = (
    "What is the name of the training method that the unified neural divide-and-conquer solver uses to "
    "eliminate the negative impact of a sub-optimal dividing policy?"
)  # eval/sets/dev.jsonl d001


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, required=True, help="a store holding the bundled corpus")
    parser.add_argument(
        "--with-torch", action="store_true", help="embed with sentence-transformers (RAG_EMBED_BACKEND=torch)"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    started = machine()
    phases: list[dict[str, Any]] = []
    last = (cpu_s(), time.perf_counter())

    def mark(label: str) -> None:
        nonlocal last
        now = (cpu_s(), time.perf_counter())
        phases.append({"phase": label, "cpu_s": round(now[0] - last[0], 2), "wall_s": round(now[1] - last[1], 2)})
        print(f"{label:>62}: CPU {phases[-1]['cpu_s']:6.2f} s   wall {phases[-1]['wall_s']:6.2f} s")
        last = now

    service_module = importlib.import_module("rag.service")
    mark("import rag.service (numpy, pydantic, httpx)")
    heavy = [("chromadb", "import chromadb")]
    if args.with_torch:  # what a cold ask imported before the numpy encoder (rag.bert)
        heavy += [
            ("torch", "import torch"),
            ("sentence_transformers", "import sentence_transformers (transformers, sklearn, scipy)"),
        ]
    heavy += [
        ("tokenizers", "import tokenizers"),
        ("safetensors.numpy", "import safetensors"),
        ("llama_cpp", "import llama_cpp"),
    ]
    for name, label in heavy:
        importlib.import_module(name)
        mark(label)
    from rag.settings import Settings

    if args.with_torch:
        os.environ["RAG_EMBED_BACKEND"] = "torch"
    service = service_module.RagService(Settings(store_path=args.store, mode="generative"))
    service.store.count()
    mark("open the store")
    service.embedder.embed_one("warm up")
    mark("load the embedder")
    service.answerer  # noqa: B018 - papers, BM25 index, term statistics
    mark("the retriever: papers, BM25 index, term statistics")
    service.ask(TYPICAL_QUESTION, mode="extractive")
    mark("one extractive answer (the first)")
    service.generator()
    mark("load the model (Llama())")
    service.ask(TYPICAL_QUESTION, mode="generative")
    mark("one generative answer")
    total_cpu = round(sum(p["cpu_s"] for p in phases), 2)
    total_wall = round(sum(p["wall_s"] for p in phases), 2)
    print(f"total: CPU {total_cpu} s, wall {total_wall} s; load average now {os.getloadavg()}")
    write_result("cold_phases", {"store": str(args.store), "phases": phases}, args.out, started)


if __name__ == "__main__":
    main()
