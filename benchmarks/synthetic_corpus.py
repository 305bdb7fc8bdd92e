"""A synthetic corpus of N abstracts from the bundled corpus's vocabulary, with planted papers.

    .venv/bin/python benchmarks/synthetic_corpus.py N OUT.jsonl [--seed 0] [--source corpus/papers.txt]

The planted papers are the real papers of `--source`, verbatim, so the dev questions
(eval/sets/dev.jsonl) keep their gold titles and recall can be measured at any N. The other
N - planted papers are distractors written by a word bigram model trained on the real titles and
abstracts: the same vocabulary, the same topics, similar lengths (sentences per abstract and
words per sentence are drawn from the real ones), so they compete with the planted papers for
both BM25 and the embedder rather than being trivially unlike them. Planted papers sit at
evenly spaced positions. Writes JSONL ({"title", "abstract"} per line) and prints a summary;
OUT.planted.json lists the planted titles.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

from benchlib import BUNDLED_CORPUS

START = "<s>"


class Bigrams:
    """A word bigram model: next word drawn in proportion to how often it followed."""

    def __init__(self, sentences: Sequence[Sequence[str]]) -> None:
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for words in sentences:
            for a, b in itertools.pairwise([START, *words]):
                counts[a][b] += 1
        self.table: dict[str, tuple[list[str], list[int]]] = {}
        for word, following in counts.items():
            words = list(following)
            self.table[word] = (words, list(itertools.accumulate(following[w] for w in words)))

    def _next(self, word: str, rng: random.Random) -> str | None:
        entry = self.table.get(word)
        if entry is None:
            return None
        words, cumulative = entry
        return words[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])]

    def sentence(self, length: int, rng: random.Random) -> list[str]:
        words: list[str] = []
        word = START
        while len(words) < length:
            nxt = self._next(word, rng)
            if nxt is None:  # a dead end (the last word of the training text): start afresh
                nxt = self._next(START, rng)
                assert nxt is not None
            words.append(nxt)
            word = nxt
        return words


def _sentence_words(text: str) -> list[list[str]]:
    from rag.chunking import split_sentences

    return [s.rstrip(".!?").split() for s in split_sentences(text)]


def generate(source: Path, n: int, seed: int = 0) -> tuple[Iterator[dict[str, str]], list[str]]:
    """Records in order (planted ones spread evenly) and the planted titles."""
    from rag.corpus import load_corpus

    papers = load_corpus(source).papers
    rng = random.Random(seed)
    abstract_sentences = [_sentence_words(p.abstract) for p in papers]
    body = Bigrams([s for sents in abstract_sentences for s in sents if s])
    titles = Bigrams([p.title.split() for p in papers])
    sentence_lengths = [len(s) for sents in abstract_sentences for s in sents if s]
    sentence_counts = [len(sents) for sents in abstract_sentences if sents]
    title_lengths = [len(p.title.split()) for p in papers]
    real_titles = {p.title for p in papers}
    planted = papers[: min(n, len(papers))]
    every = max(1, n // max(1, len(planted)))
    planted_at = {i * every: p for i, p in enumerate(planted)}

    def records() -> Iterator[dict[str, str]]:
        for i in range(n):
            if i in planted_at:
                p = planted_at[i]
                yield {"title": p.title, "abstract": p.abstract}
                continue
            title = " ".join(titles.sentence(rng.choice(title_lengths), rng))
            while title in real_titles:
                title += " " + rng.choice(["Revisited", "at Scale", "in Practice"])
            sentences = [
                " ".join(body.sentence(max(4, rng.choice(sentence_lengths)), rng))
                for _ in range(rng.choice(sentence_counts))
            ]
            abstract = ". ".join(s[:1].upper() + s[1:] for s in sentences) + "."
            yield {"title": title, "abstract": abstract}

    return records(), [p.title for p in planted]


def write(source: Path, n: int, out: Path, seed: int = 0) -> list[str]:
    records, planted = generate(source, n, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    out.with_suffix(".planted.json").write_text(json.dumps(planted, indent=0, ensure_ascii=False))
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, help="papers in the corpus, planted ones included")
    parser.add_argument("out", type=Path, help="JSONL file to write")
    parser.add_argument("--source", type=Path, default=BUNDLED_CORPUS, help="real papers: vocabulary and plants")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    planted = write(args.source, args.n, args.out, args.seed)
    size = args.out.stat().st_size / 1024 / 1024
    print(f"wrote {args.n} papers ({len(planted)} planted) to {args.out} ({size:.1f} MiB)")


if __name__ == "__main__":
    main()
