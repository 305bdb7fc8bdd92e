"""Turning text into vectors with a local sentence-transformers model (never a download)."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

_RECENT = 512  # questions whose vectors are kept (1.5 KiB each)


class Embedder:
    """A sentence-transformers model loaded from a local folder, on the CPU."""

    def __init__(self, path: Path, batch_size: int = 64, dtype: str = "bfloat16") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is on disk; never reach for a hub
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        # OpenMP threads that spin while waiting are a disaster on a busy 2-core machine (and in
        # `rag serve`, where llama.cpp's threads share the cores): measured under load, a
        # 12-word question took 1-1.5 s to embed with spinning threads, 20-50 ms with sleeping
        # ones, and batch throughput rose too. Read once, when torch loads its OpenMP runtime.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a weights-loading bar on every start is noise

        try:
            self.model: SentenceTransformer = SentenceTransformer(str(path), device="cpu")
        except Exception as e:  # the library raises many kinds; all mean the folder is unusable
            raise ConfigError(
                f"cannot load the embedder from {path}: {e}",
                fix="set RAG_EMBEDDER_PATH to a sentence-transformers folder",
            ) from e
        self.path = path
        self.batch_size = batch_size
        if dtype not in ("float32", "bfloat16"):
            raise ConfigError(f"unknown embedding dtype: {dtype}", fix="set RAG_EMBED_DTYPE to float32 or bfloat16")
        self.dtype = dtype
        self._recent: OrderedDict[str, np.ndarray[Any, np.dtype[np.float32]]] = OrderedDict()
        self._recent_lock = threading.Lock()
        self.max_seq_length: int = int(self.model.max_seq_length or 256)
        self.name = self._describe(path)

    def _describe(self, path: Path) -> str:
        """A name that changes whenever the weights do, recorded in the store."""
        weights = next((p for p in (path / "model.safetensors", path / "pytorch_model.bin") if p.exists()), None)
        digest = hashlib.sha256(weights.read_bytes()[: 1 << 20]).hexdigest()[:8] if weights else "noweights"
        base = path.name if path.name != "model" else path.parent.name
        return f"{base}@{digest}"

    @property
    def dimension(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        dim = get()
        return int(dim) if dim else 0

    def vocabulary(self) -> frozenset[str]:
        """The whole words of the model's tokenizer: the general vocabulary it was trained on."""
        vocab = self.model.tokenizer.get_vocab() if hasattr(self.model.tokenizer, "get_vocab") else {}
        return frozenset(w for w in vocab if w.isalpha() and not w.startswith("##"))

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for `text`, without the [CLS]/[SEP] markers."""
        return len(self.model.tokenizer.tokenize(text))

    def embed(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Unit-length vectors, so a dot product is the cosine similarity.

        Batches hold texts of similar length in word pieces. sentence-transformers sorts a call's
        texts by characters, which follow word pieces loosely (LaTeX, numbers and URLs cost many
        pieces per character): on the bundled corpus that padded 36 % of the work; batches cut by
        word pieces pad 4 %."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        pieces = self.model.tokenizer(list(texts), truncation=True, max_length=self.max_seq_length)["input_ids"]
        order = np.argsort([-len(p) for p in pieces], kind="stable")
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        with self._precision():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                vectors[batch] = self.model.encode(
                    [texts[i] for i in batch],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
        return vectors

    def _precision(self) -> AbstractContextManager[Any]:
        """bfloat16 autocast pays on CPUs with native bf16 (AVX512-BF16, AMX) and gives vectors
        within 0.9999 cosine of float32; where the CPU lacks it, it can be slower. Measure with
        benchmarks/embed_backends.py. Layer norms and softmax stay in float32 under autocast."""
        if self.dtype == "float32":
            return nullcontext()
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16)

    def embed_one(self, text: str) -> np.ndarray[Any, np.dtype[np.float32]]:
        """One text (a question), remembered: a warm server asked the same question again, or
        several checks of one answer, embed it once."""
        with self._recent_lock:
            vector = self._recent.get(text)
            if vector is not None:
                self._recent.move_to_end(text)
                return vector
        vector = self.embed([text])[0]
        vector.setflags(write=False)  # shared by every caller: nobody may change it in place
        with self._recent_lock:
            self._recent[text] = vector
            if len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
        return vector
