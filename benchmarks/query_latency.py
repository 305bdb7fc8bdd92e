"""Query speed in one warm process: retrieval latency, `ask` latency and time to first token.

    .venv/bin/python benchmarks/query_latency.py [--store DIR] [--questions eval/sets/dev.jsonl]
        [--ask-limit 20] [--out benchmarks/results/query_latency.json]

With no `--store`, the bundled corpus is ingested into a temporary store first (never ./store);
a `--store` that is empty is filled the same way and kept, so later runs skip the ingest.
Then, with the embedder, store, BM25 index and model loaded once (as `rag serve` does):
  - retrieval: `Retriever.retrieve` for every question, twice. The first pass embeds each
    question and reads each retrieved paper's sentence vectors (stored by ingest) from the
    store, the second finds both in memory; then `--other-questions`, new questions in the now
    warm process (what a running server sees);
  - ask: `RagService.ask` in generative mode on the first `--ask-limit` questions, recording
    the time from the question to the model's first token (retrieval + refusal check + prompt
    processing), the model's own first-token time, the first text shown to the user (a
    sentence must pass the support check first) and the whole answer;
  - the same question asked twice in a row, to show what llama.cpp's prompt cache saves.
Prints p50/p95 figures, writes them as JSON, asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchlib import DEV_QUESTIONS, Timer, load_questions, machine, peak_rss_mib, percentiles, write_result


class FirstTokenClock:
    """Wraps the generator to note when its first token arrives (what a streaming user waits for)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.n_ctx = inner.n_ctx
        self.first: float | None = None

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))

    def stream(self, messages: Any, max_tokens: int, constraint: Any = None) -> Iterator[str]:
        for piece in self.inner.stream(messages, max_tokens, constraint):
            if self.first is None:
                self.first = time.perf_counter()
            yield piece


def measure_asks(service: Any, clock: FirstTokenClock, questions: list[str]) -> dict[str, Any]:
    rows: dict[str, list[float]] = {
        k: [] for k in ("question_to_first_token", "model_first_token", "first_text", "total", "retrieve")
    }
    refused = 0
    for question in questions:
        shown: list[float] = []
        clock.first = None
        t0 = time.perf_counter()
        answer = service.ask(
            question, mode="generative", on_text=lambda _t, s=shown: s or s.append(time.perf_counter())
        )
        rows["total"].append((time.perf_counter() - t0) * 1000)
        rows["retrieve"].append(answer.timings["retrieve_ms"])
        if shown:
            rows["first_text"].append((shown[0] - t0) * 1000)
        refused += answer.refused
        if clock.first is not None:
            rows["question_to_first_token"].append((clock.first - t0) * 1000)
            rows["model_first_token"].append(answer.timings["first_token_ms"])
    figures: dict[str, Any] = {name: percentiles(values) for name, values in rows.items()}
    figures["asked"] = len(questions)
    figures["refused"] = refused
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, help="store folder to use (filled with the bundled corpus if empty)")
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS)
    parser.add_argument(
        "--other-questions",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "eval" / "sets" / "heldout.jsonl",
        help="questions new to a process that has answered the first set (a warm server's case)",
    )
    parser.add_argument("--ask-limit", type=int, default=20, help="questions answered by the model")
    parser.add_argument("--n-threads", type=int, help="llama.cpp threads (default: settings)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    started = machine()

    from rag.generation import load_generator
    from rag.service import RagService
    from rag.settings import Settings

    tmp = None if args.store else tempfile.TemporaryDirectory(prefix="rag-bench-query-")
    store_path = args.store or Path(tmp.name) / "store"  # type: ignore[union-attr]
    overrides: dict[str, Any] = {"store_path": store_path}
    if args.n_threads:
        overrides["n_threads"] = args.n_threads
    settings = Settings(**overrides)
    with Timer() as model_load:
        clock = FirstTokenClock(load_generator(settings))
    service = RagService(settings, generator=clock)
    figures: dict[str, Any] = {"store": str(store_path), "n_threads": settings.generation.n_threads}
    with Timer() as load:
        service.embedder  # noqa: B018 - load once
    figures["embedder_load_s"] = round(load.s, 2)
    ingested = service.ensure_ingested()
    if ingested is not None:
        figures["ingested_first"] = {
            "papers": ingested.papers,
            "chunks": ingested.chunks,
            "seconds": round(ingested.seconds, 1),
        }
    with Timer() as load:
        retriever = service.retriever
    figures["retriever_build_s"] = round(load.s, 2)  # store open, BM25 index over every paper
    figures["model_load_s"] = round(model_load.s, 2)
    figures["papers"] = len(retriever.papers)
    figures["chunks"] = service.store.count()

    questions = [q["question"] for q in load_questions(args.questions)]
    others = [q["question"] for q in load_questions(args.other_questions)] if args.other_questions.exists() else []
    retriever.retrieve("warm up the query path", 5)
    for label, asked in (
        ("retrieval_new_questions", questions),
        ("retrieval_repeated_questions", questions),
        ("retrieval_new_questions_warm_process", others),
    ):
        times = []
        for q in asked:
            with Timer() as t:
                retriever.retrieve(q, service.settings.retrieval.top_k)
            times.append(t.ms)
        figures[label] = percentiles(times)
        print(f"{label}: {figures[label]}")

    service.answerer  # noqa: B018 - term statistics, built once
    figures["ask"] = measure_asks(service, clock, questions[: args.ask_limit])
    print(f"ask: {figures['ask']}")

    repeat = questions[0]
    figures["same_question_twice"] = [
        measure_asks(service, clock, [repeat])["question_to_first_token"] for _ in range(2)
    ]
    figures["peak_rss_mib"] = peak_rss_mib()
    print(f"same question twice (question to first token): {figures['same_question_twice']}")
    print(f"peak RSS {figures['peak_rss_mib']} MiB")
    write_result("query_latency", figures, args.out, started)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
