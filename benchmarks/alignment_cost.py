"""What matching the question's words to the best paper's (rag.alignment) costs a question: one
warm process, the opened sets' questions asked in extractive mode (no model runs, so the
answer's own work is what the alignment is compared with), the alignment then timed alone on
the same question and best paper with a fresh embedder (nothing remembered), once computing the
paper's word vectors and once reading those ingest kept (rag.words), alternating, so that a busy
neighbour slows both alike. The answers run as configured (kept vectors by default). Then the
question read beside the same paper (rag.joint, session 15), which nothing can keep: the question
is new each time.

    .venv/bin/python benchmarks/alignment_cost.py [--store DIR] [--sets dev,dev2] [--out FILE]

Prints p50 and p95 in ms of the whole extractive answer, of the alignment, computed and kept, and
of the joint read, and the median shares of an answer; writes JSON; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from benchlib import machine, percentiles, write_result

from rag.alignment import align
from rag.embedding import Embedder
from rag.evaluation import load_questions
from rag.joint import passage
from rag.params.fitting import SETS
from rag.service import RagService
from rag.settings import Settings
from rag.words import KeptWords, folder_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, help="a store holding the bundled corpus (default: the configured one)")
    parser.add_argument("--sets", default="dev,dev2", help="names under eval/sets, comma-separated")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    started = machine()
    extra: dict[str, Any] = {"store_path": args.store} if args.store else {}
    service = RagService(Settings(mode="extractive", **extra))
    questions = [q.question for name in args.sets.split(",") if name for q in load_questions(SETS / f"{name}.jsonl")]
    service.ask("What is grokking?")  # loads the indexes and the embedder; not counted
    answers: list[float] = []
    alignments: list[float] = []
    from_kept: list[float] = []
    joint: list[float] = []
    kept = KeptWords(folder_for(service.settings.store.store_path, service.embedder.name))
    print(f"kept word vectors: {len(kept)} texts in {kept.folder}")
    lengths: list[int] = []
    for text in questions:
        question = service.analyse(text)
        if question.is_summary_request:
            continue
        t = time.perf_counter()
        service.ask(question)
        answers.append(1000 * (time.perf_counter() - t))
        best = service.retriever.retrieve(question.text, 1).papers[:1]
        if not best:
            continue
        sentences, _ = service.answerer.sentences_of(best[0].paper_id)
        # fresh embedders, whose remembered word vectors are empty: the cost of a paper met first
        timed = {}
        for how in ("computed", "kept") if len(answers) % 2 else ("kept", "computed"):
            fresh = Embedder(service.embedder.path)
            fresh.keep_words(kept if how == "kept" else None)
            t = time.perf_counter()
            words = fresh.word_vectors([question.text, *sentences])
            if words:
                align(words[0], words[1:], service.stats)
            timed[how] = 1000 * (time.perf_counter() - t)
        t = time.perf_counter()
        service.embedder.read_together(question.text, passage(best[0].title, sentences))
        joint.append(1000 * (time.perf_counter() - t))
        alignments.append(timed["computed"])
        from_kept.append(timed["kept"])
        lengths.append(sum(len(s.split()) for s in sentences))
    figures = {
        "answer": percentiles(answers),
        "alignment": percentiles(alignments),
        "alignment_kept": percentiles(from_kept),
        "joint_read": percentiles(joint),
    }
    share = statistics.median(a / b for a, b in zip(alignments, answers, strict=False))
    joint_share = statistics.median(a / b for a, b in zip(joint, answers, strict=False))
    print(f"{len(answers)} questions, extractive; best papers of {statistics.median(lengths):.0f} words at the median")
    for what, f in figures.items():
        print(f"  {what:<15} p50 {f['p50']:.0f} ms  p95 {f['p95']:.0f} ms")
    print(f"  the alignment's share of an answer, median: {share:.2f}; the joint read's: {joint_share:.2f}")
    result = {
        "questions": len(answers),
        "ms": figures,
        "share_p50": round(share, 3),
        "joint_share_p50": round(joint_share, 3),
    }
    write_result("alignment_cost", result, args.out, started)


if __name__ == "__main__":
    main()
