"""The support check and the refusal evidence, on real embeddings."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rag.citations import AnswerSentence, Source, SupportChecker
from rag.embedding import Embedder
from rag.refusal import missing_named_terms, named_terms

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


def test_named_terms_and_case_sensitive_acronyms() -> None:
    assert named_terms("What mean opinion score (MOS) do the TTS models in the collection achieve?") == ["MOS", "TTS"]
    assert named_terms("Which paper trains an agent to play Go or chess?") == ["Go"]
    assert named_terms("Which 3D model was used?") == []  # measures are not names
    assert named_terms("Is it reliable for CLIP-like models?") == ["CLIP"]
    assert named_terms("What single-GPU budget suits non-IID data?") == ["GPU", "IID"]
    assert named_terms("What error did the RNN-controller-designed cell reach?") == ["RNN"]
    assert named_terms("Is a U-shaped U-Net-style network better?") == ["U-Net"]
    assert named_terms("Are the Spanish notes on Bayesian models Chinese?") == ["Bayesian"]
    assert missing_named_terms("Which supervised ResNets?", ["Class Supervised-ResNet50 and DINO-ViT"]) == []
    assert missing_named_terms("Is StyleGAN used?", ["We use StyleGAN-2."]) == []
    assert missing_named_terms("Which papers use the Center Loss?", ["We add a center loss."]) == []
    assert missing_named_terms("Is the Gaussian Process used?", ["A Gaussian process prior."]) == []
    assert missing_named_terms("What MOS does it reach?", ["Most models are fast."]) == ["MOS"]
    assert missing_named_terms("Is the Schrodinger equation solved?", ["We solve the Schrödinger equation."]) == []
    assert missing_named_terms("How does UNet segment?", ["The U-Net segments."]) == []
    assert missing_named_terms("Is U2-Net small?", ["U^2-Net is small."]) == []
    assert missing_named_terms("How does U-Net segment?", ["The net segments."]) == ["U-Net"]


@pytest.mark.parametrize(
    ("question", "text", "missing"),
    [
        ("How do GNNs scale?", "Graph neural networks scale poorly.", []),
        ("Which CBCT scans?", "We reconstruct cone-beam computed tomography scans.", []),
        ("What do LLMs memorise?", "Large Language Models memorise data.", []),
        ("Which CBCT scans?", "Comparable bounds compared to others.", ["CBCT"]),  # "to" spells no T
        ("How do GNNs scale?", "Generative models need networks.", ["GNNs"]),  # not consecutive
    ],
)
def test_an_acronym_counts_as_mentioned_when_spelled_out(question: str, text: str, missing: list[str]) -> None:
    assert missing_named_terms(question, [text]) == missing


def test_a_long_word_does_not_make_name_matching_backtrack() -> None:
    """A capitalised name is looked for inside compounds ("ResNet" in "DINO-ResNet50"); done
    case-insensitively that search tried every split of a long word and never finished on one
    of 60 letters. Run apart, so a regression fails instead of hanging the suite."""
    code = (
        "from rag.refusal import missing_named_terms;"
        "print(missing_named_terms('Does Skillnet work?', ['pre' + 'abcdefghij' * 6 + ' nets']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "['Skillnet']"
