"""The embedder batches texts by word pieces: the vectors must still come back in input order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.embedding import Embedder, native_bf16
from rag.errors import ConfigError
from rag.settings import bundled_embedder_path


def test_vectors_come_back_in_input_order_whatever_the_batching(embedder: Embedder) -> None:
    texts = [
        "Short.",
        r"A sentence with LaTeX $\mathcal{O}(n^2)$, 10\times speed-ups and https://example.org/a/b?c=1 in it.",
        "A longer plain sentence about graph neural networks and message passing over molecules.",
        "",
        "Tversky similarity.",
    ] * 3
    batch_size = embedder.batch_size
    try:
        embedder.batch_size = 2  # several batches, each cut by word pieces
        together = embedder.embed(texts)
    finally:
        embedder.batch_size = batch_size
    alone = np.stack([embedder.embed([t])[0] for t in texts])
    assert together.shape == (len(texts), embedder.dimension)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-3)
    assert np.min(np.sum(together * alone, axis=1)) > 0.999


def test_auto_precision_takes_bfloat16_only_where_the_cpu_has_it(tmp_path: Path) -> None:
    # bfloat16 autocast without native support ran the bundled ingest 5.4x slower than float32
    avx2 = tmp_path / "avx2"
    avx2.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma f16c\n\nprocessor\t: 1\nflags\t\t: fpu avx2\n")
    bf16 = tmp_path / "bf16"
    bf16.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    amx = tmp_path / "amx"
    amx.write_text("flags\t\t: fpu avx2 amx_tile amx_bf16 amx_int8\n")
    assert native_bf16(avx2) is False
    assert native_bf16(bf16) is True
    assert native_bf16(amx) is True
    assert native_bf16(tmp_path / "absent") is False


def test_the_embedder_reports_the_precision_it_runs_in(embedder: Embedder) -> None:
    assert embedder.dtype == ("bfloat16" if native_bf16() else "float32")


def test_an_unknown_precision_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        Embedder(bundled_embedder_path(), dtype="float8")
    assert "RAG_EMBED_DTYPE" in str(caught.value.fix)


def test_word_vectors_are_remembered_and_the_same_the_second_time(embedder: Embedder) -> None:
    """A paper met again (a follow-up question) is not read again, and gives the very same
    vectors, so the answerability decision cannot change with what was asked before."""
    texts = ["We train a triplet network on 3 datasets.", "What is a triplet network?"]
    first = embedder.word_vectors(texts)
    again = embedder.word_vectors([texts[1], "A new sentence about pruning.", texts[0]])
    assert first is not None and again is not None
    assert again[0][0] == first[1][0] and np.array_equal(again[0][1], first[1][1])
    assert again[2][0] == first[0][0] and np.array_equal(again[2][1], first[0][1])
    assert again[1][0] == ["A", "new", "sentence", "about", "pruning", "."]
    assert not again[0][1].flags.writeable  # shared: nobody may change it in place
