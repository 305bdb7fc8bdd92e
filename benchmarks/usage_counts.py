"""Are the API's `usage` counts the model's own? The streamed, metered counts of
`LlamaCppGenerator` against llama.cpp's own `usage` for the same request without streaming.

    .venv/bin/python benchmarks/usage_counts.py [--questions eval/sets/dev.jsonl] [--n 12]

llama.cpp reports no usage when it streams, so the generator reads the counts off the context
(rag/generation.py). This loads the bundled model twice (the generator's, and a plain
`llama_cpp.Llama` for the reference), asks each question once with a generous token budget and
once with a budget of 8 tokens (an answer cut short), and prints how many of the pairs agree.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from benchlib import DEV_QUESTIONS, load_questions, machine
from llama_cpp import Llama

from rag.generation import LlamaCppGenerator, metered
from rag.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS)
    parser.add_argument("--n", type=int, default=12, help="questions to ask")
    args = parser.parse_args()

    g = Settings().generation
    path = Settings().resolved_model_path()
    generator = LlamaCppGenerator(path, g.n_ctx, g.n_threads, g.temperature, g.seed, g.repeat_penalty)
    reference = Llama(model_path=str(path), n_ctx=g.n_ctx, n_threads=g.n_threads, seed=g.seed, verbose=False)
    questions = [q["question"] for q in load_questions(args.questions)][: args.n]

    agree = total = 0
    started = time.perf_counter()
    for question in questions:
        messages = [
            {"role": "system", "content": "Answer in one sentence."},
            {"role": "user", "content": question},
        ]
        for budget in (200, 8):
            with metered() as usage:
                for _ in generator.stream(messages, budget):
                    pass
            own: Any = reference.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                max_tokens=budget,
                temperature=g.temperature,
                top_k=1 if g.temperature == 0 else 40,
                seed=g.seed,
                repeat_penalty=g.repeat_penalty,
            )
            expected = (own["usage"]["prompt_tokens"], own["usage"]["completion_tokens"])
            got = (usage.prompt_tokens, usage.completion_tokens)
            total += 1
            agree += got == expected
            mark = "ok " if got == expected else "OFF"
            print(f"{mark} budget {budget:3d}  metered {got}  llama.cpp {expected}  {question[:60]}")
    print(f"\n{agree}/{total} (prompt, completion) pairs equal llama.cpp's own usage")
    print(f"{time.perf_counter() - started:.0f} s on {machine()}")


if __name__ == "__main__":
    main()
