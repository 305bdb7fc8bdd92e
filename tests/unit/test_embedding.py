"""The embedder batches texts by word pieces: the vectors must still come back in input order."""

from __future__ import annotations

import numpy as np

from rag.embedding import Embedder


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
