"""The support check (rag.support) on real embeddings: a faithful paraphrase is supported, an
invented number or an unrelated claim is not, and a wrong citation moves to the source that
supports the sentence."""

from __future__ import annotations

from rag.embedding import Embedder
from rag.support import SupportChecker, numbers_in
from rag.types import AnswerSentence, Source

TVERSKY = Source(
    1,
    "t",
    "Tversky Neural Networks",
    (
        "We develop a differentiable parameterization of Tversky's similarity that is learnable through gradient descent.",
        "Replacing linear projection layers in a language model with Tversky projection layers reduces perplexity by 7.5% "
        "on the Penn Treebank dataset while using 34.8% fewer parameters.",
    ),
)
GROKKING = Source(
    2,
    "g",
    "Grokking",
    ("In some situations we show that neural networks learn through a process of grokking a pattern in the data.",),
)


def test_a_faithful_paraphrase_is_supported(embedder: Embedder) -> None:
    checker = SupportChecker(embedder, 0.6)
    sentence = AnswerSentence(
        "Tversky projection layers cut perplexity by 7.5% on Penn Treebank with 34.8% fewer parameters.", [1]
    )
    checker.check(sentence, [TVERSKY, GROKKING])
    assert sentence.supported and sentence.citations == [1]


def test_an_invented_number_is_not_supported(embedder: Embedder) -> None:
    checker = SupportChecker(embedder, 0.6)
    sentence = AnswerSentence("Tversky projection layers reduce perplexity by 12.5% on the Penn Treebank dataset.", [1])
    checker.check(sentence, [TVERSKY, GROKKING])
    assert not sentence.supported


def test_an_unrelated_claim_is_not_supported(embedder: Embedder) -> None:
    checker = SupportChecker(embedder, 0.6)
    sentence = AnswerSentence("The authors are affiliated with a university in Zurich and won an award.", [1])
    checker.check(sentence, [TVERSKY, GROKKING])
    assert not sentence.supported


def test_a_wrong_citation_moves_to_the_source_that_supports_it(embedder: Embedder) -> None:
    checker = SupportChecker(embedder, 0.6)
    sentence = AnswerSentence("Neural networks learn by grokking a pattern in the data.", [1])
    checker.check(sentence, [TVERSKY, GROKKING])
    assert sentence.supported and sentence.citations == [2]


def test_an_uncited_sentence_is_credited_to_the_source_that_supports_it(embedder: Embedder) -> None:
    checker = SupportChecker(embedder, 0.6)
    sentence = AnswerSentence("Neural networks learn by grokking a pattern in the data.")
    checker.check(sentence, [TVERSKY, GROKKING])
    assert sentence.supported and sentence.citations == [2] and sentence.support >= 0.6


def test_numbers_in_reads_figures_by_the_one_rule_without_thousands_separators() -> None:
    assert numbers_in("34.8% fewer, 27,556 papers in 2 groups on CIFAR-10") == ["34.8%", "27556", "2"]
