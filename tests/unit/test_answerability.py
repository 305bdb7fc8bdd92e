"""The answerability decision (rag.answerability), from evidence, before any model runs.

The decision is a logistic regression over features of the evidence, fitted on labelled
questions and shipped as rag/params/answerability.json. These tests hold the features to what
they mean (a question asking for a number or a person is not covered by papers that hold none,
however close their topic; a question about one paper needs all its names in one paper; the
subject of a "what is" question must appear in the papers), the decision to its model, and the
shipped model to the features the code computes. How well the fitted model decides is measured
by `rag eval` and the fit's own leave-one-set-out figures, not here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.alignment import ALIGNMENT_FEATURES, Alignment
from rag.answerability import (
    FEATURES,
    WITHOUT_WORDS,
    Models,
    decide,
    features,
    load_models,
    missing_subject,
    names_apart,
)
from rag.chunking import split_sentences
from rag.corpus import load_corpus, make_paper
from rag.evidence import Evidence, PaperEvidence
from rag.joint import JOINT_FEATURES, JointRead
from rag.linear import LinearModel
from rag.question import analyse
from rag.retrieval import PaperHit, Retrieval
from rag.text import TermStatistics

# what each answer-type feature says the papers lack (the old answer-type check's words)
ABSENT = {"quantity_missing": "a number", "person_missing": "a person's name"}
NO_EVIDENCE = Evidence(Retrieval("q", [], [], 0.0), [])


def evidence(texts: Sequence[str], sims: float = 0.5, dense: float = 0.5) -> Evidence:
    """Evidence of papers with these texts (first sentence the title), best first, every
    sentence at cosine `sims` to the question."""
    hits, papers = [], []
    for i, text in enumerate(texts):
        title, *rest = split_sentences(text)
        hit = PaperHit(str(i), title, 1.0 - i / 10, dense=dense, fused=1.0 - i / 10)
        sentences = rest or [title]
        papers.append(
            PaperEvidence(
                hit,
                make_paper(title, " ".join(sentences)),
                sentences,
                np.zeros((len(sentences), 2)),
                np.full(len(sentences), sims),
            )
        )
        hits.append(hit)
    return Evidence(Retrieval("q", hits, hits, 1.0), papers)


def absent(question: str, texts: Sequence[str]) -> set[str]:
    """What the question asks for that the papers it is about do not hold."""
    values = features(analyse(question), evidence(texts), TermStatistics(texts))
    return {why for name, why in ABSENT.items() if values[name] >= 0.5}


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
    assert absent(question, [GAN]) == {"a number"}
    assert absent(question, [GAN + " It trains in 2 hours with rate 0.0002."]) == set()


def test_digits_inside_names_are_not_numbers_but_13_layer_is() -> None:
    assert absent("What learning rate does SalUn use?", [CIFAR]) == {"a number"}
    assert absent("How many layers does the looped transformer have?", [LOOPED]) == set()


def test_the_number_must_be_in_the_best_paper() -> None:
    other = "Our detector reaches 91% accuracy on 3 benchmarks."
    assert absent("How many layers does the DCGAN have?", [GAN, other]) == {"a number"}
    assert absent("How many layers does the detector have?", [other, GAN]) == set()


@pytest.mark.parametrize(
    "question", ["Who proposed DCGANs?", "In the DCGAN paper, who wrote it?", "Which authors introduced DCGANs?"]
)
def test_a_person_question_needs_a_name(question: str) -> None:
    assert absent(question, [GAN]) == {"a person's name"}
    assert absent(question, ["Radford et al. introduce DCGANs."]) == set()


@pytest.mark.parametrize(
    "question",
    [
        "Which papers study accuracy under distribution shift?",  # "accuracy" is the topic, not the answer
        "How large language models learn in context",  # "how large" here is not a measure
    ],
)
def test_questions_that_do_not_ask_for_a_number(question: str) -> None:
    assert "a number" not in absent(question, [GAN])


def test_a_question_about_one_paper_needs_its_names_in_one_paper() -> None:
    topnets = "TopNets designs antibodies with a topological network."
    gpus = "Training on a GPU takes a day."
    assert names_apart(analyse("Which GPUs were the TopNets models trained on?"), [topnets, gpus])
    assert not names_apart(analyse("Which GPUs were the TopNets models trained on?"), [topnets + " " + gpus])
    assert not names_apart(analyse("Which papers use TopNets or GPUs?"), [topnets, gpus])  # several papers may
    assert not names_apart(analyse("How does TopNets design antibodies?"), [topnets, gpus])  # one name


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
    assert missing_subject(analyse(question), [text]) is bool(missing)


def test_every_title_phrase_is_found_as_a_subject_in_its_paper(full_corpus: Path) -> None:
    """A user asking "What is X?" with two neighbouring words of a paper's title is never told the
    collection lacks X."""
    missed = []
    for paper in load_corpus(full_corpus).papers:
        words = re.findall(r"\w[\w-]*", paper.title)
        for first, second in zip(words, words[1:], strict=False):
            question = f"What is {first} {second}?"
            if missing_subject(analyse(question), [f"{paper.title} {paper.abstract}"]):
                missed.append((paper.title, question))
    assert missed == []


# ---- the other features ------------------------------------------------------------------------


def test_every_feature_is_computed_and_none_without_papers() -> None:
    text = "Deep metric learning using Triplet network. We train a triplet network on 3 datasets."
    values = features(analyse("Why is the triplet network trained?"), evidence([text]), TermStatistics([text]))
    # no alignment and no joint read: left out
    assert set(values) == set(FEATURES) - set(ALIGNMENT_FEATURES) - set(JOINT_FEATURES) == set(WITHOUT_WORDS)
    assert values["reason_missing"] == 1.0  # it asks why; no sentence gives a reason
    assert values["sentence_top"] == pytest.approx(0.5)
    assert features(analyse("What is it?"), NO_EVIDENCE, TermStatistics([])) == dict.fromkeys(FEATURES, 0.0)


# ---- the decision ------------------------------------------------------------------------------


def one_feature_model(name: str, weight: float, intercept: float, names: tuple[str, ...] = FEATURES) -> LinearModel:
    """A model that reads one feature: P = sigmoid(weight * value + intercept), threshold 0.5."""
    coef = np.array([weight if f == name else 0.0 for f in names])
    return LinearModel(names, np.zeros(len(names)), np.ones(len(names)), coef, intercept, 0.5)


def one_feature(name: str, weight: float, intercept: float) -> Models:
    """The same model with and without the alignment (rag.answerability.Models)."""
    return Models(one_feature_model(name, weight, intercept), one_feature_model(name, weight, intercept, WITHOUT_WORDS))


def test_the_decision_follows_its_model_and_says_why_it_refuses() -> None:
    text = "Deep metric learning using Triplet network. We train a triplet network on 3 datasets."
    stats = TermStatistics([text])
    by_sentence = one_feature("sentence_top", 10.0, -5.0)  # answers above a cosine of 0.5

    close = decide(analyse("How is the triplet network trained?"), evidence([text], sims=0.8), stats, by_sentence)
    assert close.covered and close.score == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert close.signals["sentence_top"] == pytest.approx(0.8) and close.missing_terms == ()

    far = decide(analyse("How is the triplet network trained?"), evidence([text], sims=0.2), stats, by_sentence)
    assert not far.covered

    by_names = one_feature("names_missing", -10.0, 2.0)  # refuses a name no paper mentions
    named = decide(analyse("How is the TopoNet trained?"), evidence([text], sims=0.8), stats, by_names)
    assert not named.covered and named.missing_terms == ("TopoNet",)

    nothing = decide(analyse("What is it?"), NO_EVIDENCE, stats, by_sentence)
    assert not nothing.covered and nothing.score == 0.0 and nothing.missing_terms == ("any paper",)


def test_an_alignment_adds_its_features_and_without_one_the_other_fit_decides() -> None:
    text = "Deep metric learning using Triplet network. We train a triplet network on 3 datasets."
    stats = TermStatistics([text])
    question = analyse("How is the triplet network trained?")
    plain = evidence([text])
    matches = np.array([[0.9, 0.2], [0.3, 0.4]])  # "triplet" found, "trained" barely
    alignment = Alignment(("triplet", "trained"), np.array([0.75, 0.25]), matches)
    joint = JointRead(np.array([1.0, 0.0]), np.array([1.0, 1.0]), np.array([0.0, 1.0]))
    aligned = Evidence(plain.retrieval, plain.papers, alignment, joint)
    values = features(question, aligned, stats)
    assert set(values) == set(FEATURES)
    assert values["word_recall"] == pytest.approx(0.75 * 0.9 + 0.25 * 0.4)
    assert values["word_min"] == pytest.approx(0.4)
    assert values["word_recall_sentence"] == pytest.approx(0.75 * 0.9 + 0.25 * 0.3)
    assert values["joint_shift"] == pytest.approx(np.sqrt(0.5)) and values["joint_to_paper"] == pytest.approx(
        np.sqrt(0.5)
    )
    # the words without the joint read (or the other way round) is not the evidence the first fit read
    assert Models.neutral().for_evidence(Evidence(plain.retrieval, plain.papers, alignment)).features == WITHOUT_WORDS

    # with words: answers when the words cover more than half; without: never answers
    models = Models(one_feature_model("word_recall", 10.0, -5.0), one_feature_model("dense", 0.0, -1.0, WITHOUT_WORDS))
    assert models.for_evidence(aligned) is models.words and models.for_evidence(plain) is models.without_words
    assert decide(question, aligned, stats, models).covered
    unaligned = decide(question, plain, stats, models)  # a remote embedder: no word vectors
    assert not unaligned.covered and unaligned.score == pytest.approx(1 / (1 + np.exp(1.0)))
    assert "word_recall" not in unaligned.signals


def test_the_shipped_models_read_the_features_the_code_computes() -> None:
    models = load_models()
    assert set(models.words.features) == set(FEATURES)
    assert set(models.without_words.features) == set(WITHOUT_WORDS)  # nothing it cannot have
    for model in (models.words, models.without_words):
        assert len(model.coef) == len(model.mean) == len(model.scale) == len(model.features)
        assert np.all(model.scale > 0) and 0.0 < model.threshold < 1.0
        assert 0.0 <= model.probability(dict.fromkeys(FEATURES, 0.5)) <= 1.0
