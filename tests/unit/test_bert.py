"""The numpy encoder (rag.bert) against sentence-transformers on the same folder: the vectors a
question gets in numpy must be the ones the store's chunks got in torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.bert import supports
from rag.corpus import Paper, load_corpus
from rag.embedding import Embedder
from rag.errors import ConfigError
from rag.joint import passage
from rag.settings import bundled_embedder_path

ODD_TEXTS = [
    "What is grokking?",
    "",
    "   ",
    r"LaTeX $\mathcal{O}(n^2)$, 10\times speed-ups and https://example.org/a/b?c=1",
    "Ünïcödé façade — naïve café 東京",
    "word " * 400,  # more than 256 pieces: both truncate at the same place
]


@pytest.fixture(scope="module")
def full_papers(full_corpus: Path) -> list[Paper]:
    return load_corpus(full_corpus).papers


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder(bundled_embedder_path(), backend="torch")


@pytest.fixture(scope="module")
def numpy_embedder() -> Embedder:
    return Embedder(bundled_embedder_path(), backend="numpy")


def test_the_bundled_embedder_is_read_by_the_numpy_encoder(embedder: Embedder) -> None:
    assert supports(bundled_embedder_path())
    assert embedder.backend == "numpy"


def test_numpy_and_torch_give_the_same_vectors(
    full_papers: list[Paper], numpy_embedder: Embedder, torch_embedder: Embedder
) -> None:
    texts = [p.abstract for p in full_papers[:24]] + [p.title for p in full_papers[:24]] + ODD_TEXTS
    ours = numpy_embedder.embed(texts)
    theirs = torch_embedder.embed(texts)
    assert ours.shape == theirs.shape == (len(texts), 384)
    assert np.min(np.sum(ours * theirs, axis=1)) > 0.99999
    assert np.max(np.abs(ours - theirs)) < 1e-5


def test_numpy_and_torch_count_the_same_word_pieces(
    full_papers: list[Paper], numpy_embedder: Embedder, torch_embedder: Embedder
) -> None:
    # chunk ids follow from these counts: a store built with one must match the other
    texts = [p.abstract for p in full_papers[:60]] + ODD_TEXTS
    assert [numpy_embedder.count_tokens(t) for t in texts] == [torch_embedder.count_tokens(t) for t in texts]
    assert numpy_embedder.vocabulary() == torch_embedder.vocabulary()
    assert numpy_embedder.name == torch_embedder.name and numpy_embedder.max_seq_length == 256


def test_a_folder_the_numpy_encoder_cannot_read_is_refused_with_the_fix(tmp_path: Path) -> None:
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "modules.json").write_text('[{"idx": 0, "name": "0", "path": "", "type": "x.CLIPModel"}]')
    assert not supports(folder)
    with pytest.raises(ConfigError) as caught:
        Embedder(folder, backend="numpy")
    assert "RAG_EMBED_BACKEND" in str(caught.value.fix)


def test_a_missing_folder_is_one_error_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        Embedder(tmp_path / "absent")
    assert "RAG_EMBEDDER_PATH" in str(caught.value.fix)


def test_a_question_is_embedded_without_importing_torch() -> None:
    code = (
        "import sys; from rag.embedding import Embedder; from rag.settings import bundled_embedder_path; "
        "e = Embedder(bundled_embedder_path()); v = e.embed_one('What is grokking?'); "
        "print(v.shape, e.backend, sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "(384,) numpy []"


def test_numpy_and_torch_give_the_same_word_vectors(
    full_papers: list[Paper], numpy_embedder: Embedder, torch_embedder: Embedder
) -> None:
    """The words the answerability decision matches one by one (rag.alignment)."""
    texts = [p.abstract for p in full_papers[:6]] + ["How many GPUs did they use for the 1.1B model?"] + ODD_TEXTS
    ours, theirs = numpy_embedder.word_vectors(texts), torch_embedder.word_vectors(texts)
    assert ours is not None and theirs is not None and len(ours) == len(theirs) == len(texts)
    for (our_words, our_vectors), (their_words, their_vectors) in zip(ours, theirs, strict=True):
        assert our_words == their_words
        assert our_vectors.shape == (len(our_words), 384)
        if our_words:
            assert np.min(np.sum(our_vectors * their_vectors, axis=1)) > 0.9999
            assert np.allclose(np.linalg.norm(our_vectors, axis=1), 1.0, atol=1e-5)
    question_words, _ = ours[6]
    assert question_words[:4] == ["How", "many", "GPUs", "did"]  # a word whole, not its pieces
    assert ours[8][0] == [] and ours[8][1].shape == (0, 384)  # "" has no words


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_one_pass_gives_the_vectors_and_the_word_vectors_of_two(
    backend: str, full_papers: list[Paper], numpy_embedder: Embedder, torch_embedder: Embedder
) -> None:
    """Ingest keeps each sentence's vector and word vectors from one pass (rag.words)."""
    embedder = numpy_embedder if backend == "numpy" else torch_embedder
    texts = [p.title for p in full_papers[:8]] + [p.abstract for p in full_papers[:3]] + ODD_TEXTS
    vectors, words = embedder.embed_with_words(texts)
    separate = numpy_embedder.word_vectors(texts)
    assert words is not None and separate is not None and len(words) == len(texts)
    assert np.min(np.sum(vectors * numpy_embedder.embed(texts), axis=1)) > 0.99999
    for (one_words, one_vectors), (words_alone, vectors_alone) in zip(words, separate, strict=True):
        assert one_words == words_alone
        if one_words:
            assert np.min(np.sum(one_vectors * vectors_alone, axis=1)) > 0.9999


@pytest.mark.parametrize(
    "question", ["How many GPUs did they use for the 1.1B model?", "What is grokking?", "word " * 300, ""]
)
def test_numpy_and_torch_read_a_question_beside_a_paper_alike(
    question: str, full_papers: list[Paper], numpy_embedder: Embedder, torch_embedder: Embedder
) -> None:
    """The joint read the answerability decision reads (rag.joint), in both encoders; a long
    question keeps its pieces and the paper is cut instead, and an empty one reads as zeros."""
    paper = passage(full_papers[0].title, [full_papers[0].abstract])
    ours, theirs = numpy_embedder.read_together(question, paper), torch_embedder.read_together(question, paper)
    assert ours is not None and theirs is not None
    for a, b in zip(
        (ours.question, ours.question_in_pair, ours.paper),
        (theirs.question, theirs.question_in_pair, theirs.paper),
        strict=True,
    ):
        assert a.shape == b.shape == (384,)
        if question:
            assert float(a @ b) / float(np.linalg.norm(a) * np.linalg.norm(b)) > 0.9999
    assert ours.features() == pytest.approx(theirs.features(), abs=1e-4)
    if not question:
        assert ours.features() == {"joint_shift": 0.0, "joint_to_paper": 0.0}


def test_a_question_read_beside_its_own_paper_moves_towards_it(
    full_papers: list[Paper], numpy_embedder: Embedder
) -> None:
    """What the feature is for: beside the paper that answers it, a question is read closer to
    that paper than beside a paper on something else."""
    grokking = next(p for p in full_papers if p.title.startswith("Grokking"))
    other = next(p for p in full_papers if "radiance" in p.abstract.lower())
    question = "Why do small networks suddenly generalize long after they overfit?"
    own = numpy_embedder.read_together(question, passage(grokking.title, [grokking.abstract]))
    elsewhere = numpy_embedder.read_together(question, passage(other.title, [other.abstract]))
    assert own is not None and elsewhere is not None
    assert own.features()["joint_to_paper"] > elsewhere.features()["joint_to_paper"] + 0.05
