"""Turning text into vectors: a local sentence-transformers model (never a download), or an
OpenAI-compatible /v1/embeddings server, so that a large ingest can use other machines."""

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


class RemoteEmbedder(Embedder):
    """Vectors from an OpenAI-compatible `/v1/embeddings` server (text-embeddings-inference, vLLM,
    Infinity, llama.cpp's server), batched, made unit-length here.

    A subclass of `Embedder` because every stage takes one; it loads no model. Chunking still
    needs word-piece counts, and the chunk ids follow from the chunks, so texts are counted
    with the tokenizer of the local embedder folder (`tokenizer.json` only, no weights): point
    RAG_EMBEDDER_PATH at the remote model's tokenizer when it is another model. The store
    records the model's name as the server reports it, so it never mixes these vectors with
    another model's."""

    def __init__(
        self,
        base_url: str,
        tokenizer_path: Path,
        model: str | None = None,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout: float = 120.0,
    ) -> None:
        import httpx
        from tokenizers import Tokenizer

        self.base_url = base_url.rstrip("/")
        self.batch_size = batch_size
        self.path = tokenizer_path
        try:
            self.tokenizer = Tokenizer.from_file(str(tokenizer_path / "tokenizer.json"))
        except Exception as e:  # tokenizers raises its own Exception type for a missing or bad file
            raise ConfigError(
                f"cannot read the tokenizer {tokenizer_path / 'tokenizer.json'}: {e}",
                fix="set RAG_EMBEDDER_PATH to a folder with the remote model's tokenizer.json",
            ) from e
        self.tokenizer.no_truncation()  # count every piece, as the local tokenizer does
        self.tokenizer.no_padding()
        config = tokenizer_path / "sentence_bert_config.json"
        self.max_seq_length = int(_read_json(config).get("max_seq_length", 256)) if config.exists() else 256
        self._recent = OrderedDict()
        self._recent_lock = threading.Lock()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=httpx.Timeout(timeout, connect=10.0)
        )
        self.model_name = model or self._first_model()
        # one small request now: a server that is down, or a wrong model, fails at start-up with
        # its fix, and the answer names the model and gives the dimension the store records
        probe, reported = self._request(["dimension probe"])
        self._dimension = int(probe.shape[1])
        self.name = reported or self.model_name

    def _first_model(self) -> str:
        import httpx

        try:
            response = self._client.get("/models")
            response.raise_for_status()
            return str(response.json()["data"][0]["id"])
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as e:
            raise ConfigError(
                f"cannot read the model list of the embeddings server at {self.base_url}: {e}",
                fix="start the server, or set RAG_EMBED_MODEL (or unset RAG_EMBED_BASE_URL)",
            ) from e

    def _request(self, texts: list[str]) -> tuple[np.ndarray[Any, np.dtype[np.float32]], str | None]:
        import httpx

        try:
            response = self._client.post("/embeddings", json={"model": self.model_name, "input": texts})
        except httpx.HTTPError as e:
            raise ConfigError(
                f"cannot reach the embeddings server at {self.base_url}: {e}",
                fix="start it, or unset RAG_EMBED_BASE_URL",
            ) from e
        if response.status_code != 200:
            fix = (
                "set RAG_EMBED_API_KEY to the server's key"
                if response.status_code in (401, 403)
                else f"check RAG_EMBED_BASE_URL ({self.base_url}) and RAG_EMBED_MODEL ({self.model_name})"
            )
            raise ConfigError(f"the embeddings server answered {response.status_code}: {response.text[:300]}", fix=fix)
        try:
            body = response.json()
            rows = sorted(body["data"], key=lambda d: int(d.get("index", 0)))
            vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(
                f"the embeddings server sent an answer that is not an OpenAI embeddings list: {e}",
                fix=f"check that {self.base_url} is an OpenAI-compatible API",
            ) from e
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise ConfigError(
                f"the embeddings server returned {len(vectors)} vectors for {len(texts)} texts",
                fix=f"check that {self.base_url} is an OpenAI-compatible API",
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        reported = body.get("model") if isinstance(body, dict) else None
        return vectors / np.maximum(norms, 1e-12), str(reported) if reported else None

    @property
    def dimension(self) -> int:
        return self._dimension

    def vocabulary(self) -> frozenset[str]:
        return frozenset(w for w in self.tokenizer.get_vocab() if w.isalpha() and not w.startswith("##"))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Unit-length vectors, `batch_size` texts per request."""
        vectors = np.empty((len(texts), self._dimension), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch, _ = self._request(list(texts[start : start + self.batch_size]))
            if batch.shape[1] != self._dimension:
                raise ConfigError(
                    f"the embeddings server changed its dimension from {self._dimension} to {batch.shape[1]}",
                    fix="one ingest needs one model: check what serves RAG_EMBED_BASE_URL",
                )
            vectors[start : start + len(batch)] = batch
        return vectors


def _read_json(path: Path) -> dict[str, Any]:
    import json

    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else {}
