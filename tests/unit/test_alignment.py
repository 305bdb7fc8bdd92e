"""The question's words matched to the best paper's, in context (rag.alignment), with the real
bundled embedder: a word the paper never speaks of is the worst covered, a paraphrase covers
more of its own paper than of another, and a question of asking words alone has no alignment.
What the three figures are worth to the answerability decision is measured by its fit
(`python -m rag.params.fit_answerability --report`), not here."""

from __future__ import annotations

import numpy as np
import pytest

from rag.alignment import ALIGNMENT_FEATURES, Alignment, align
from rag.chunking import split_sentences
from rag.embedding import Embedder
from rag.text import TermStatistics

GAN = (
    "We introduce DCGANs, a class of convolutional GANs, and show they learn a hierarchy of representations. "
    "Training on image datasets, the generator and discriminator learn object parts and scenes."
)
PRUNE = (
    "We prune up to 90% of the weights of trained networks without losing accuracy. "
    "Sparse subnetworks found this way train as fast as the dense network."
)
STATS = TermStatistics([GAN, PRUNE])


def aligned(embedder: Embedder, question: str, abstract: str) -> Alignment | None:
    words = embedder.word_vectors([question, *split_sentences(abstract)])
    assert words is not None
    return align(words[0], words[1:], STATS)


def worst(alignment: Alignment) -> str:
    return alignment.words[int(np.argmin(alignment.matches.max(axis=1)))]


def test_a_detail_the_paper_never_mentions_is_its_worst_covered_word(embedder: Embedder) -> None:
    a = aligned(embedder, "How many GPUs were used to train the DCGAN?", GAN)
    assert a is not None and worst(a) == "GPUs"
    asked_about = aligned(embedder, "What did the DCGAN generator learn?", GAN)
    assert asked_about is not None
    assert asked_about.features()["word_min"] > a.features()["word_min"]


def test_a_paraphrase_covers_its_own_paper_more_than_another(embedder: Embedder) -> None:
    question = "Can you cut away most of a network's connections and keep it as good?"
    own, other = aligned(embedder, question, PRUNE), aligned(embedder, question, GAN)
    assert own is not None and other is not None
    assert own.features()["word_recall"] > other.features()["word_recall"] + 0.1


def test_the_figures_are_weighted_covers_within_their_bounds(embedder: Embedder) -> None:
    a = aligned(embedder, "What did the DCGAN generator learn from image datasets?", GAN)
    assert a is not None
    assert set(a.features()) == set(ALIGNMENT_FEATURES)
    assert a.weights.sum() == pytest.approx(1.0) and np.all(a.weights > 0)
    assert a.matches.shape == (len(a.words), len(split_sentences(GAN)))
    f = a.features()
    # one sentence covers no more than the whole paper; the worst word no more than the mean
    assert f["word_recall_sentence"] <= f["word_recall"] <= 1.0 + 1e-6
    assert f["word_min"] <= f["word_recall"]
    assert "DCGAN" in a.words and "What" not in a.words and "the" not in a.words


@pytest.mark.parametrize("question", ["What is it about?", "", "???"])
def test_a_question_without_content_words_has_no_alignment(embedder: Embedder, question: str) -> None:
    assert aligned(embedder, question, GAN) is None


def test_a_paper_without_words_has_no_alignment(embedder: Embedder) -> None:
    words = embedder.word_vectors(["What did the DCGAN generator learn?", ""])
    assert words is not None
    assert align(words[0], words[1:], STATS) is None
