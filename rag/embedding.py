"""Turning text into vectors: a local sentence-transformers folder (never a download), run in
numpy (rag.bert) or torch, or an OpenAI-compatible /v1/embeddings server, so that a large ingest
can use other machines."""

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

from rag import bert
from rag.bert import BertEncoder, WordVectors, by_word
from rag.errors import ConfigError
from rag.joint import JointRead
from rag.words import KeptWords

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

_RECENT = 512  # questions whose vectors are kept (1.5 KiB each)
# texts whose word vectors are kept (a 25-word sentence: 38 KiB; float32, so that a paper met
# again gives the very same features): about the best papers of the last fifty questions, whose
# follow-ups then cost nothing (a paper's sentences took 100-250 ms, benchmarks/alignment_cost.py)
_RECENT_WORDS = 512


def native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU computes in bfloat16 natively (AVX512-BF16 or AMX). Without it torch's CPU
    autocast emulates bfloat16 and is slower than float32: on an AVX2-only AMD EPYC the bundled
    ingest took 272 s in bfloat16 against 50 s in float32 (30 Nov), where a CPU with AVX512-BF16
    had run it 1.6-2.8x faster than float32. Where the flags cannot be read, float32 is safe."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return "avx512_bf16" in flags or "amx_bf16" in flags


def precision(dtype: str) -> str:
    """The precision `dtype` means on this machine: "auto" is bfloat16 only with native support."""
    return ("bfloat16" if native_bf16() else "float32") if dtype == "auto" else dtype


def numpy_reads(path: Path, backend: str) -> bool:
    """Whether questions go to the numpy encoder: unless torch is forced, when rag.bert can read
    the folder."""
    return backend != "torch" and bert.supports(path)


# A call with more word pieces than this (64 full chunks; ingest batches hold about 100,000, a
# summary's candidate titles a few thousand) goes to torch (sentence-transformers) when it can: on
# the bundled ingest torch took 46.5 s, numpy 78.8 s (`RAG_EMBED_BACKEND=torch|numpy rag ingest`,
# 30 Nov, load 1.4-1.8), while a question (10-60 pieces) never pays torch's import (11 CPU s).
_BULK_PIECES = 16_384


class Embedder:
    """A local sentence-transformers folder, on the CPU, never a download.

    Two encoders compute the same vectors (cosine 0.99999 or closer, tests/unit/test_bert.py):
    - numpy (rag.bert) for a mean-pooled BERT such as the bundled MiniLM: it loads in a tenth of a
      second, so a question is embedded without importing torch;
    - sentence-transformers (torch), loaded on first need: for any other folder, and for bulk
      work (an ingest batch, `_BULK_PIECES`), where it is the faster one.
    `backend` forces one: "numpy" (only for a folder rag.bert supports) or "torch"."""

    def __init__(self, path: Path, batch_size: int = 64, dtype: str = "auto", backend: str = "auto") -> None:
        if dtype not in ("auto", "float32", "bfloat16"):
            raise ConfigError(
                f"unknown embedding dtype: {dtype}", fix="set RAG_EMBED_DTYPE to auto, float32 or bfloat16"
            )
        if backend not in ("auto", "numpy", "torch"):
            raise ConfigError(
                f"unknown embedding backend: {backend}", fix="set RAG_EMBED_BACKEND to auto, numpy or torch"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is on disk; never reach for a hub
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.path = path
        self.batch_size = batch_size
        self.dtype = precision(dtype)
        self._recent: OrderedDict[str, np.ndarray[Any, np.dtype[np.float32]]] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._recent_words: OrderedDict[str, WordVectors] = OrderedDict()
        self._kept: KeptWords | None = None
        self._torch_lock = threading.Lock()
        self._torch: SentenceTransformer | None = None
        self._numpy: BertEncoder | None = None
        if not path.is_dir():
            raise ConfigError(
                f"cannot load the embedder from {path}: no such folder",
                fix="set RAG_EMBEDDER_PATH to a sentence-transformers folder",
            )
        if numpy_reads(path, backend):
            self._numpy = BertEncoder(path, _max_seq_length(path))
            self.tokenizer: Any = self._numpy.counting_tokenizer()
            self.max_seq_length = self._numpy.max_seq_length
            self._dimension = self._numpy.dimension
        elif backend == "numpy":
            raise ConfigError(
                f"the numpy encoder cannot read {path}: it reads a BERT with mean pooling only",
                fix="set RAG_EMBED_BACKEND=auto (or torch) for this embedder",
            )
        else:
            model = self._sentence_transformer()
            self.tokenizer = model.tokenizer
            self.max_seq_length = int(model.max_seq_length or 256)
            get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            self._dimension = int(get() or 0)
        self._bulk_to_torch = backend != "numpy"
        self.name = self._describe(path)

    def _sentence_transformer(self) -> SentenceTransformer:
        with self._torch_lock:
            if self._torch is None:
                # OpenMP threads that spin while waiting are a disaster on a busy 2-core machine
                # (and in `rag serve`, where llama.cpp's threads share the cores): measured under
                # load, a 12-word question took 1-1.5 s to embed with spinning threads, 20-50 ms
                # with sleeping ones. Read once, when torch loads its OpenMP runtime.
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # a weights-loading bar on every start is noise
                try:
                    self._torch = SentenceTransformer(str(self.path), device="cpu")
                except Exception as e:  # the library raises many kinds; all mean the folder is unusable
                    raise ConfigError(
                        f"cannot load the embedder from {self.path}: {e}",
                        fix="set RAG_EMBEDDER_PATH to a sentence-transformers folder",
                    ) from e
            return self._torch

    def _describe(self, path: Path) -> str:
        """A name that changes whenever the weights do, recorded in the store."""
        weights = next((p for p in (path / "model.safetensors", path / "pytorch_model.bin") if p.exists()), None)
        digest = hashlib.sha256(weights.read_bytes()[: 1 << 20]).hexdigest()[:8] if weights else "noweights"
        base = path.name if path.name != "model" else path.parent.name
        return f"{base}@{digest}"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def backend(self) -> str:
        """The encoder a question goes to: "numpy" or "torch"."""
        return "numpy" if self._numpy is not None else "torch"

    def vocabulary(self) -> frozenset[str]:
        """The whole words of the model's tokenizer: the general vocabulary it was trained on."""
        vocab = self.tokenizer.get_vocab() if hasattr(self.tokenizer, "get_vocab") else {}
        return frozenset(w for w in vocab if w.isalpha() and not w.startswith("##"))

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for `text`, without the [CLS]/[SEP] markers."""
        if self._numpy is not None:
            return len(self.tokenizer.encode(text, add_special_tokens=False).ids)
        return len(self.tokenizer.tokenize(text))

    def _pieces(self, texts: list[str]) -> list[int]:
        """Word pieces of each text as the model reads it: markers included, truncated."""
        if self._numpy is not None:
            return [
                min(len(e.ids) + 2, self.max_seq_length)
                for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)
            ]
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_seq_length)["input_ids"]
        return [len(i) for i in ids]

    def embed(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Unit-length vectors, so a dot product is the cosine similarity.

        Batches hold texts of similar length in word pieces. sentence-transformers sorts a call's
        texts by characters, which follow word pieces loosely (LaTeX, numbers and URLs cost many
        pieces per character): on the bundled corpus that padded 36 % of the work; batches cut by
        word pieces pad 4 %."""
        return self._encode(texts, False)[0]

    def embed_with_words(
        self, texts: Sequence[str]
    ) -> tuple[np.ndarray[Any, np.dtype[np.float32]], list[WordVectors] | None]:
        """`embed` and `word_vectors` from one pass of the model, for ingest, which keeps both of
        every sentence: a second pass for the word vectors made the bundled ingest take about
        twice as long (docs/performance.md). The word vectors are None where the embedder cannot
        give them (a tokenizer without word offsets)."""
        return self._encode(texts, True)

    def _encode(
        self, texts: Sequence[str], words: bool
    ) -> tuple[np.ndarray[Any, np.dtype[np.float32]], list[WordVectors] | None]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), [] if words else None
        pieces = self._pieces(list(texts))
        order = np.argsort([-n for n in pieces], kind="stable")
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        found: list[WordVectors | None] = [None] * len(texts)
        bulk = self._bulk_to_torch and sum(pieces) > _BULK_PIECES
        encoder = None if bulk else self._numpy  # None: sentence-transformers
        if words and encoder is None and not getattr(self._sentence_transformer().tokenizer, "is_fast", False):
            words = False  # words come from a fast tokenizer's word ids and offsets
        with nullcontext() if encoder is not None else self._precision():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                chosen = [texts[i] for i in batch]
                if words:
                    pair = encoder.encode_with_words(chosen) if encoder is not None else self._torch_with_words(chosen)
                    vectors[batch] = pair[0]
                    for i, w in zip(batch, pair[1], strict=True):
                        found[i] = w
                elif encoder is not None:
                    vectors[batch] = encoder.encode(chosen)
                else:
                    vectors[batch] = self._sentence_transformer().encode(
                        chosen,
                        batch_size=self.batch_size,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
        if not words:
            return vectors, None
        return vectors, [w for w in found if w is not None]

    def _torch_with_words(self, texts: list[str]) -> tuple[np.ndarray[Any, Any], list[WordVectors]]:
        model = self._sentence_transformer()
        outputs: Any = model.encode(texts, output_value=None, batch_size=self.batch_size, show_progress_bar=False)
        vectors = np.stack([o["sentence_embedding"].float().numpy() for o in outputs])
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        words = [
            self._torch_by_word(text, out["token_embeddings"][: int(out["attention_mask"].sum())])
            for text, out in zip(texts, outputs, strict=True)
        ]
        return vectors.astype(np.float32), words

    def _torch_by_word(self, text: str, states: Any) -> WordVectors:
        """A text's words from sentence-transformers' token states (padding cut off)."""
        tokenizer = self._sentence_transformer().tokenizer
        enc = tokenizer(text, truncation=True, max_length=self.max_seq_length, return_offsets_mapping=True)
        return by_word(text, enc.word_ids(), enc["offset_mapping"], states.float().numpy())

    def _precision(self) -> AbstractContextManager[Any]:
        """bfloat16 autocast pays on CPUs with native bf16 (AVX512-BF16, AMX) and gives vectors
        within 0.9999 cosine of float32; where the CPU lacks it, it is slower (`native_bf16`).
        Layer norms and softmax stay in float32 under autocast."""
        if self.dtype == "float32":
            return nullcontext()
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16)

    def keep_words(self, kept: KeptWords | None) -> None:
        """Read word vectors from `kept` (computed at ingest, rag.words) before computing any."""
        self._kept = kept

    @property
    def keeps_words(self) -> bool:
        """Whether the collection's word vectors were kept at ingest, so that many papers' words
        cost no more than a lookup."""
        return self._kept is not None and len(self._kept) > 0

    def word_vectors(self, texts: Sequence[str]) -> list[WordVectors] | None:
        """Each text's words with a unit vector each, read in context (the last layer, the mean
        of a word's pieces), for matching a question word by word (rag.alignment). None where
        the embedder cannot give them. The collection's own texts come from the kept vectors
        (`keep_words`) when there are any; the rest are computed, and the last 512 remembered."""
        known = self._kept.get(texts) if self._kept is not None else {}
        with self._recent_lock:
            for t in texts:
                if t not in known and t in self._recent_words:
                    known[t] = self._recent_words[t]
                    self._recent_words.move_to_end(t)
        new = list(dict.fromkeys(t for t in texts if t not in known))
        computed = self._word_vectors(new) if new else []
        if computed is None:
            return None
        with self._recent_lock:
            for t, (words, vectors) in zip(new, computed, strict=True):
                vectors.setflags(write=False)  # shared by every caller: nobody may change it in place
                self._recent_words[t] = (words, vectors)
                if len(self._recent_words) > _RECENT_WORDS:
                    self._recent_words.popitem(last=False)
        found = {**known, **dict(zip(new, computed, strict=True))}
        return [found[t] for t in texts]

    def _word_vectors(self, texts: list[str]) -> list[WordVectors] | None:
        # bulk work (ingest keeping the collection's, rag.words) goes to torch as `embed` does:
        # 2,281 bundled texts in 600-text samples, torch 6.4 s against numpy 17.2 s (same vectors,
        # cosine 1.0000; /tmp trial, 30 Nov, load 1.1)
        bulk = self._bulk_to_torch and sum(self._pieces(texts)) > _BULK_PIECES
        if self._numpy is not None and not bulk:
            return self._numpy.word_vectors(texts)
        model = self._sentence_transformer()
        if not getattr(model.tokenizer, "is_fast", False):
            return None  # words come from a fast tokenizer's word ids and offsets
        states = model.encode(
            texts, output_value="token_embeddings", show_progress_bar=False, batch_size=self.batch_size
        )
        return [self._torch_by_word(text, state) for text, state in zip(texts, states, strict=True)]

    def read_together(self, first: str, second: str) -> JointRead | None:
        """`first` (a question) read alone and as the first of a pair with `second` (a paper),
        and `second` alone: the mean of each one's own pieces in the last layer (rag.joint).
        None where the embedder cannot read a pair (a tokenizer without segments)."""
        if self._numpy is not None:
            return JointRead(*self._numpy.read_together(first, second))
        return self._torch_read_together(first, second)

    def _torch_read_together(self, first: str, second: str) -> JointRead | None:
        import torch

        model = self._sentence_transformer()
        tokenizer = model.tokenizer
        bert: Any = model[0].auto_model  # transformers' model, untyped here
        means = []
        with torch.inference_mode():
            for a, b in ((first, None), (first, second), (second, None)):
                enc = tokenizer(
                    a,
                    b,
                    truncation="longest_first",
                    max_length=self.max_seq_length,
                    return_tensors="pt",
                    return_special_tokens_mask=True,
                )
                special = enc.pop("special_tokens_mask")[0].bool()
                if b is not None and "token_type_ids" not in enc:
                    return None  # a model without segments cannot read a pair as BERT does
                states = bert(**enc).last_hidden_state[0].float()
                types = (
                    enc["token_type_ids"][0] if "token_type_ids" in enc else torch.zeros_like(special, dtype=torch.long)
                )
                keep = (types == 0) & ~special
                means.append(states[keep].mean(dim=0).numpy() if bool(keep.any()) else np.zeros(self.dimension))
        return JointRead(*means)

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


def engine(path: Path, backend: str = "auto", dtype: str = "auto") -> str:
    """What `Embedder(path, backend=..., dtype=...)` would run on this machine, without loading
    anything: for `rag info`, since the precision decides ingest speed (native_bf16)."""
    torch = f"torch {precision(dtype)}"
    if numpy_reads(path, backend):
        return f"questions in numpy, bulk in {'numpy' if backend == 'numpy' else torch}"
    return torch


def _max_seq_length(path: Path) -> int:
    """sentence-transformers' limit for the folder (sentence_bert_config.json), 256 by default."""
    config = path / "sentence_bert_config.json"
    return int(_read_json(config).get("max_seq_length", 256)) if config.exists() else 256


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
        self.max_seq_length = _max_seq_length(tokenizer_path)
        self._recent = OrderedDict()
        self._recent_lock = threading.Lock()
        self._kept = None  # a server gives no word vectors, so none are kept either
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

    def word_vectors(self, texts: Sequence[str]) -> list[WordVectors] | None:
        """A server gives one vector a text, not a vector a word."""
        return None

    def read_together(self, first: str, second: str) -> JointRead | None:
        """A server gives one vector a text: it cannot read two together."""
        return None

    def embed_with_words(
        self, texts: Sequence[str]
    ) -> tuple[np.ndarray[Any, np.dtype[np.float32]], list[WordVectors] | None]:
        return self.embed(texts), None

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
