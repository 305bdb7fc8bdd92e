"""The answer-type checks of refusal: a question asking for a number or a person is not covered
by papers that hold none, however close their topic."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.corpus import load_corpus
from rag.refusal import (
    holds_number,
    introduces_name,
    missing_answer_type,
    missing_named_terms,
    missing_subject,
    names_apart,
    question_parts,
    wants_several,
)

GAN = "We introduce DCGANs, a class of convolutional GANs, and show they learn a hierarchy of representations."
LOOPED = "We map iterative algorithms to programs executed by a looped, 13-layer transformer."
CIFAR = "SalUn unlearns classes on CIFAR-10 and keeps the accuracy of a ResNet-50 on the rest."


@pytest.mark.parametrize(
    "question",
    [
        "What learning rate and mini-batch size did the DCGAN authors use?",
        "How long does it take to train the DCGAN?",
        "How many layers does the DCGAN generator have?",
    ],
)
def test_a_quantity_question_needs_a_number(question: str) -> None:
    assert missing_answer_type(question, [GAN]) == ["a number"]
    assert missing_answer_type(question, [GAN + " It trains in 2 hours with rate 0.0002."]) == []


def test_digits_inside_names_are_not_numbers_but_13_layer_is() -> None:
    assert missing_answer_type("What learning rate does SalUn use?", [CIFAR]) == ["a number"]
    assert missing_answer_type("How many layers does the looped transformer have?", [LOOPED]) == []


def test_the_number_must_be_in_the_paper_the_question_names() -> None:
    other = "Our detector reaches 91% accuracy on 3 benchmarks."
    assert missing_answer_type("How many layers does the DCGAN have?", [GAN, other]) == ["a number"]
    # no named term: any of the top papers may hold the answer
    assert missing_answer_type("How many layers does the generator have?", [GAN, other]) == []


@pytest.mark.parametrize(
    ("text", "number"),
    [("It takes 18 minutes.", True), ("U^2-Net (176.3 MB)", True), ("U^2-Net is nested.", False)]
    + [("(1) context and (2) depth", False), ("on CIFAR-10 in 3D", False), ("a 4x speed-up", True)],
)
def test_what_counts_as_a_number(text: str, number: bool) -> None:
    assert holds_number(text) is number


@pytest.mark.parametrize(
    "question", ["Who proposed DCGANs?", "In the DCGAN paper, who wrote it?", "Which authors introduced DCGANs?"]
)
def test_a_person_question_needs_a_name(question: str) -> None:
    assert missing_answer_type(question, [GAN]) == ["a person's name"]
    assert missing_answer_type(question, ["Radford et al. introduce DCGANs."]) == []


@pytest.mark.parametrize(
    "question",
    [
        "Which papers study accuracy under distribution shift?",  # "accuracy" is the topic, not the answer
        "How large language models learn in context",  # "how large" here is not a measure
    ],
)
def test_questions_that_do_not_ask_for_a_number(question: str) -> None:
    assert "a number" not in missing_answer_type(question, [GAN])


def test_a_question_about_one_paper_needs_its_names_in_one_paper() -> None:
    topnets = "TopNets designs antibodies with a topological network."
    gpus = "Training on a GPU takes a day."
    assert names_apart("Which GPUs were the TopNets models trained on?", [topnets, gpus]) != []
    assert names_apart("Which GPUs were the TopNets models trained on?", [topnets + " " + gpus]) == []
    assert names_apart("Which papers use TopNets or GPUs?", [topnets, gpus]) == []  # several papers may
    assert names_apart("How does TopNets design antibodies?", [topnets, gpus]) == []  # one name


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("How does speculative decoding use a small draft model?", ["speculative decoding"]),
        ("What are membership inference attacks?", ["membership inference attacks"]),
        ("How do small models work?", []),  # "small draft model": one word apart
        ("What are decoding strategies?", []),  # adjacent, and a plural
        ("How do the papers here decode?", []),  # no subject: words about papers end it
        ("What is decoding?", []),  # one word: left to the other checks
        ("Which decoding is fastest?", []),  # not a "what is / how does" question
        ("Explain how word2vec's skip-gram model with negatives learns.", ["word2vec's skip-gram model"]),
        ("What is the draft model's acceptance rate?", []),  # a property of what the papers know
    ],
)
def test_the_subject_of_a_what_is_question_must_appear_in_the_papers(question: str, missing: list[str]) -> None:
    text = "We study decoding strategies: a small draft model proposes and greedy decoding checks."
    assert missing_subject(question, [text]) == missing


def test_every_title_phrase_is_found_as_a_subject_in_its_paper(full_corpus: Path) -> None:
    """A user asking "What is X?" with two neighbouring words of a paper's title is never told the
    collection lacks X."""
    missed = []
    for paper in load_corpus(full_corpus).papers:
        words = re.findall(r"\w[\w-]*", paper.title)
        for first, second in zip(words, words[1:], strict=False):
            question = f"What is {first} {second}?"
            missed += [(paper.title, m) for m in missing_subject(question, [f"{paper.title} {paper.abstract}"])]
    assert missed == []


@pytest.mark.parametrize(
    ("question", "several"),
    [
        ("Which papers use triplet losses?", True),
        ("Is there work on learnable activation functions?", True),
        ("What does this collection say about grokking?", True),
        ("Compare the two neural collapse papers.", True),
        ("Which paper introduces DCGANs?", False),
        ("Which paper studies how GNNs scale?", False),  # "studies" the verb
        ("Which studies report grokking?", True),
        ("How many layers does the looped transformer have?", False),
    ],
)
def test_several_paper_questions(question: str, several: bool) -> None:
    assert wants_several(question) is several


def test_every_name_a_paper_uses_is_found_in_that_paper(full_corpus: Path) -> None:
    """Asking about a paper in its own words never trips the named-term check: a user who copies
    "Center Loss" or "Gaussian Process (NNGP)" from an abstract must not be refused for it."""
    missed = []
    for paper in load_corpus(full_corpus).papers:
        text = f"{paper.title} {paper.abstract}"
        for sentence in [paper.title, *re.split(r"(?<=[.!?])\s+", paper.abstract)]:
            question = f"Is it true that {sentence}"
            missed += [(paper.title, name) for name in missing_named_terms(question, [text])]
    assert missed == []


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        ("What is grokking?", ["What is grokking?"]),
        (
            "How many heads does it get, and on which datasets was it tested?",
            ["How many heads does it get", "on which datasets was it tested?"],
        ),
        ("Which GPU and how long did training take?", ["Which GPU", "how long did training take?"]),
        (
            "Can one layer approximate anything? Which papers prove it?",
            ["Can one layer approximate anything?", "Which papers prove it?"],
        ),
        ("How do CNNs and transformers compare on ImageNet?", ["How do CNNs and transformers compare on ImageNet?"]),
    ],
)
def test_the_things_a_question_asks(question: str, parts: list[str]) -> None:
    assert question_parts(question) == parts


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
