"""Copy decoding several ways on the bundled model. Same prompts, same greedy decoding; the text
must be the same, and the figure is the time. The ways (`--ways`, two or three of them):

    grammar  llama.cpp's grammar engine (what a llama.cpp server is sent)
    mask     the token mask (rag.constrain.ReplyMask) as a logits processor, one token at a time
    draft    the mask with the rest of the reply guessed and checked in one batch (the default
             for a local model since session 10: LlamaCppGenerator.draft_copies)

    .venv/bin/python benchmarks/copy_mask.py [--prompts 24] [--sentences 1] [--ways grammar,mask] [--out FILE]

Each prompt pairs a dev question with `--sentences` sentences of a bundled paper, shown as the
answer prompt shows its one source (prompts/answer.*.txt). Each way answers every prompt twice,
in passes ordered first, second, second, first (for two ways), so a busy neighbour slows all alike. Prints
per-answer wall time and tokens for each, how many texts matched, and the load; writes JSON;
asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from benchlib import BUNDLED_CORPUS, DEV_QUESTIONS, load_questions, machine, percentiles, write_result

from rag.chunking import paper_sentences
from rag.constrain import Constraint, copy_grammar, copy_replies
from rag.corpus import load_corpus
from rag.generation import LlamaCppGenerator, load_generator, metered
from rag.prompts import CANNOT_ANSWER, load_template
from rag.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=24, help="question and source pairs")
    parser.add_argument("--sentences", type=int, default=1, help="sentences of the source shown and copied from")
    parser.add_argument("--ways", default="grammar,mask", help="comma-separated: grammar, mask, draft")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    ways = args.ways.split(",")
    if len(ways) < 2 or not set(ways) <= {"grammar", "mask", "draft"}:
        parser.error("--ways takes two or three of grammar, mask, draft")

    settings = Settings()
    generator = load_generator(settings)
    template = load_template(settings.store.prompts_dir, "answer")
    papers = load_corpus(BUNDLED_CORPUS).papers
    questions = load_questions(DEV_QUESTIONS)
    record: dict[str, Any] = {"machine": machine(), "sentences": args.sentences, "ways": ways}
    times: dict[str, list[float]] = {way: [] for way in ways}
    tokens: dict[str, list[int]] = {way: [] for way in ways}
    generator.count_tokens("warm up")
    started = time.perf_counter()
    list(generator.stream([{"role": "user", "content": "Say hi."}], 4, Constraint("", copy_replies(["hi"], 1))))
    record["first_mask_s"] = round(time.perf_counter() - started, 3)  # builds the vocabulary's piece index
    prompts = []
    for i in range(args.prompts):
        paper = papers[(i * 37) % len(papers)]  # spread over the corpus
        sentences = paper_sentences(paper.abstract)[: args.sentences]
        question = questions[i % len(questions)]["question"]
        messages = template.render(
            sources=f"[1] {paper.title}\n" + " ".join(sentences), question=question, cannot_answer=CANNOT_ANSWER
        )
        grammar = copy_grammar(sentences, 1)
        replies = copy_replies(sentences, 1)
        prompts.append((messages, {"grammar": Constraint(grammar), "mask": Constraint(grammar, replies)}))
    # whole passes, one way each, in the order first, second, ..., second, first: two prompts in
    # a row share only the system prompt, which llama.cpp keeps either way; asking the same
    # prompt twice in a row would hand the second way the first one's evaluated prompt
    texts: dict[str, list[str]] = {way: [] for way in ways}
    for way in [*ways, *reversed(ways)]:
        written = []
        if isinstance(generator, LlamaCppGenerator):
            generator.draft_copies = way == "draft"
        for messages, constraints in prompts:
            with metered() as usage:
                started = time.perf_counter()
                constraint = constraints["grammar" if way == "grammar" else "mask"]
                written.append("".join(generator.stream(messages, settings.generation.max_tokens, constraint)))
                times[way].append((time.perf_counter() - started) * 1000)
            tokens[way].append(usage.completion_tokens)
        texts[way] = written
    first = ways[0]
    same = min(sum(a == b for a, b in zip(texts[first], texts[way], strict=True)) for way in ways[1:])
    record.update(
        prompts=args.prompts,
        same_text=same,
        ms={way: percentiles(values) for way, values in times.items()},
        completion_tokens={way: statistics.median(values) for way, values in tokens.items()},
        load_after=machine()["load_average"],
    )
    for way in times:
        print(
            f"{way:8} answer p50 {record['ms'][way]['p50']:7.1f} ms  mean {record['ms'][way]['mean']:7.1f} ms"
            f"  tokens p50 {record['completion_tokens'][way]}"
        )
    ratios = "; ".join(
        f"{w}/{first} mean time {record['ms'][w]['mean'] / record['ms'][first]['mean']:.2f}" for w in ways[1:]
    )
    print(f"same text as {first}: {same} of {args.prompts} (the fewest of any way); {ratios}")
    print(f"first mask {record['first_mask_s']} s")
    print(f"load {record['machine']['load_average']} -> {record['load_after']}")
    write_result("copy_mask", record, args.out)


if __name__ == "__main__":
    main()
