"""Text helpers every stage shares (rag.text): what a number is, which words name something,
when a text mentions a name (in a compound, spelled out, without accents), and when a sentence
introduces a name of its own."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rag.corpus import load_corpus
from rag.text import (
    TermStatistics,
    content_terms,
    fold,
    holds_number,
    introduces_name,
    missing_names,
    named_terms,
    names_all,
    names_other,
    singular,
    tokens,
)


@pytest.mark.parametrize(
    ("text", "number"),
    [("It takes 18 minutes.", True), ("U^2-Net (176.3 MB)", True), ("U^2-Net is nested.", False)]
    + [("(1) context and (2) depth", False), ("on CIFAR-10 in 3D", False), ("a 4x speed-up", True)],
)
def test_what_counts_as_a_number(text: str, number: bool) -> None:
    assert holds_number(text) is number


def test_content_terms_are_stemmed_lower_case_words_without_stop_words() -> None:
    assert content_terms("We propose a Segmentation method for U-Net models") == {"segmen", "u-net"}
    assert content_terms("the of and") == set()


def test_folding_tokens_and_plurals() -> None:
    assert fold("Schrödinger") == "Schrodinger"
    assert tokens("Divide-and-Conquer, Schrödinger!") == ["divide", "and", "conquer", "schrodinger"]
    assert [singular(w) for w in ("ResNets", "Loss", "Robustness")] == ["ResNet", "Loss", "Robustness"]


def test_term_statistics_weigh_rare_terms_higher() -> None:
    stats = TermStatistics(["graph networks", "graph attention", "triplet loss"])
    assert stats.n == 3 and stats.df["graph"] == 2
    assert stats.idf("triple") > stats.idf("graph") > 0


def test_names_all_and_names_other() -> None:
    assert names_all(["CLIP", "ViT"], "CLIP trains a ViT.") and not names_all(["CLIP", "ViT"], "CLIP alone.")
    assert names_all([], "anything")
    assert names_other("We compare with ResNet.", ["CLIP"]) and not names_other("We use CLIP.", ["CLIP"])


def test_named_terms_and_case_sensitive_acronyms() -> None:
    assert named_terms("What mean opinion score (MOS) do the TTS models in the collection achieve?") == ["MOS", "TTS"]
    assert named_terms("Which paper trains an agent to play Go or chess?") == ["Go"]
    assert named_terms("Which 3D model was used?") == []  # measures are not names
    assert named_terms("Is it reliable for CLIP-like models?") == ["CLIP"]
    assert named_terms("What single-GPU budget suits non-IID data?") == ["GPU", "IID"]
    assert named_terms("What error did the RNN-controller-designed cell reach?") == ["RNN"]
    assert named_terms("Is a U-shaped U-Net-style network better?") == ["U-Net"]
    assert named_terms("Are the Spanish notes on Bayesian models Chinese?") == ["Bayesian"]
    assert missing_names(named_terms("Which supervised ResNets?"), ["Class Supervised-ResNet50 and DINO-ViT"]) == []
    assert missing_names(named_terms("Is StyleGAN used?"), ["We use StyleGAN-2."]) == []
    assert missing_names(named_terms("Which papers use the Center Loss?"), ["We add a center loss."]) == []
    assert missing_names(named_terms("Is the Gaussian Process used?"), ["A Gaussian process prior."]) == []
    assert missing_names(named_terms("What MOS does it reach?"), ["Most models are fast."]) == ["MOS"]
    assert (
        missing_names(named_terms("Is the Schrodinger equation solved?"), ["We solve the Schrödinger equation."]) == []
    )
    assert missing_names(named_terms("How does UNet segment?"), ["The U-Net segments."]) == []
    assert missing_names(named_terms("Is U2-Net small?"), ["U^2-Net is small."]) == []
    assert missing_names(named_terms("How does U-Net segment?"), ["The net segments."]) == ["U-Net"]


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
    assert missing_names(named_terms(question), [text]) == missing


def test_a_long_word_does_not_make_name_matching_backtrack() -> None:
    """A capitalised name is looked for inside compounds ("ResNet" in "DINO-ResNet50"); done
    case-insensitively that search tried every split of a long word and never finished on one
    of 60 letters. Run apart, so a regression fails instead of hanging the suite."""
    code = "from rag.text import missing_names;print(missing_names(['Skillnet'], ['pre' + 'abcdefghij' * 6 + ' nets']))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "['Skillnet']"


def test_every_name_a_paper_uses_is_found_in_that_paper(full_corpus: Path) -> None:
    """Asking about a paper in its own words never trips the named-term check: a user who copies
    "Center Loss" or "Gaussian Process (NNGP)" from an abstract must not be refused for it."""
    missed = []
    for paper in load_corpus(full_corpus).papers:
        text = f"{paper.title} {paper.abstract}"
        for sentence in [paper.title, *re.split(r"(?<=[.!?])\s+", paper.abstract)]:
            question = f"Is it true that {sentence}"
            missed += [(paper.title, name) for name in missing_names(named_terms(question), [text])]
    assert missed == []


@pytest.mark.parametrize(
    ("sentence", "introduces"),
    [
        ("Building on our study, we present our predictor FLAN: Flow Attention for NAS.", True),
        ("This paper introduces DifFeed, a feedback mechanism for diffusion models.", True),
        ("We present a framework for using transformers as universal computers.", False),  # names nothing
        ("FLAN cuts the cost of NAS by an order of magnitude.", False),  # names, but introduces nothing
        ("We propose to improve SalUn.", False),  # the only name is the question's own
    ],
)
def test_a_sentence_that_names_the_papers_own_contribution(sentence: str, introduces: bool) -> None:
    assert introduces_name(sentence, ["SalUn"]) is introduces
