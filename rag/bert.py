"""A BERT sentence encoder in numpy: the bundled all-MiniLM-L6-v2 without torch.

Why: a cold `rag ask` spent 11 of its 15 CPU seconds importing torch and sentence-transformers
(which pulls in transformers, scikit-learn and SciPy) to embed one question
(benchmarks/cold_phases.py, docs/performance.md). This module reads the same folder
(`config.json`, `model.safetensors`, `tokenizer.json`, `1_Pooling/config.json`) with
`tokenizers` and `safetensors`, and runs the forward pass in numpy: embeddings, six encoder
layers (self-attention, exact GELU, layer norms), mean pooling over the real tokens and unit
length, as sentence-transformers' Transformer, Pooling and Normalize modules do. Its vectors
agree with sentence-transformers' to a cosine of 0.99999 or closer (tests/unit/test_bert.py).

Only that shape of model is read here: a BERT with absolute positions and GELU, mean pooling,
normalised. `supports()` says whether a folder is one; any other folder goes to
sentence-transformers (rag.embedding).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

Array = np.ndarray[Any, np.dtype[np.float32]]
# a text's words and a unit vector each, one row per word (BertEncoder.word_vectors)
WordVectors = tuple[list[str], Array]

# sentence-transformers' module types of a mean-pooled, normalised encoder (modules.json)
_MODULES = (
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
)
# at most this many tokens' attention scores are held at once (batch x heads x length^2 floats):
# 64 texts of 256 pieces would need 200 MB; sub-batches of this many pieces keep it near 50 MB
_ATTENTION_PIECES = 4096


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def supports(path: Path) -> bool:
    """Whether `path` is a sentence-transformers folder this encoder computes exactly."""
    try:
        modules = json.loads((path / "modules.json").read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(modules, list) or tuple(m.get("type") for m in modules if isinstance(m, dict)) != _MODULES:
        return False
    config = _json(path / "config.json")
    pooling_dir = next((m.get("path", "") for m in modules if m.get("type", "").endswith("Pooling")), "1_Pooling")
    pooling = _json(path / pooling_dir / "config.json")
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
    return (
        config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and modes == {"pooling_mode_mean_tokens"}
        and (path / "model.safetensors").exists()
        and (path / "tokenizer.json").exists()
    )


def _gelu(x: Array) -> Array:
    """BERT's "gelu": the exact x * Phi(x), not the tanh approximation.

    numpy has no erf (SciPy's would cost the import this module exists to avoid), so
    erf(z) = 1 - y for z >= 0, with y = t (a1 + a2 t + ... + a5 t^4) exp(-z^2), t = 1 / (1 + p z):
    Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7. Then x Phi(x) is x (2 - y) / 2 for
    x >= 0 and x y / 2 below, since erf is odd. In place, in float32: this is a third of the
    encoder's time."""
    z = np.abs(x) * np.float32(0.7071067811865476)
    t = z * np.float32(0.3275911)
    t += 1.0
    np.reciprocal(t, out=t)
    y = t * np.float32(1.061405429)
    for a in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        y += np.float32(a)
        y *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    y *= z
    y *= 0.5 * x
    return np.where(x >= 0, x - y, y).astype(np.float32, copy=False)


def _layer_norm(x: Array, weight: Array, bias: Array, eps: float) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return (centred / np.sqrt(var + np.float32(eps)) * weight + bias).astype(np.float32)


class BertEncoder:
    """Unit-length sentence vectors from a mean-pooled BERT folder, in float32 numpy."""

    def __init__(self, path: Path, max_seq_length: int) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = _json(path / "config.json")
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.hidden = int(config["hidden_size"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_seq_length = min(max_seq_length, int(config.get("max_position_embeddings", 512)))
        weights = load_file(str(path / "model.safetensors"))
        # some exports prefix every name with "bert."
        self.w = {k.removeprefix("bert."): v.astype(np.float32, copy=False) for k, v in weights.items()}
        # the linear layers' weights are stored (out, in); transposed once so a forward is x @ W
        for name in [k for k in self.w if k.endswith(".weight") and self.w[k].ndim == 2 and "embeddings" not in k]:
            self.w[name] = np.ascontiguousarray(self.w[name].T)
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_seq_length)
        # a pair is cut from the longer text first: a question beside a paper keeps all its words
        self._pair_tokenizer = Tokenizer.from_str(self.tokenizer.to_str())
        self._pair_tokenizer.enable_truncation(self.max_seq_length, strategy="longest_first")

    @property
    def dimension(self) -> int:
        return self.hidden

    def counting_tokenizer(self) -> Any:
        """A copy of the tokenizer that neither truncates nor pads: for counting word pieces."""
        from tokenizers import Tokenizer

        counting = Tokenizer.from_str(self.tokenizer.to_str())
        counting.no_truncation()
        counting.no_padding()
        return counting

    def encode(self, texts: Sequence[str]) -> Array:
        """One padded batch: the caller groups texts of like length (rag.embedding does)."""
        if not texts:
            return np.zeros((0, self.hidden), dtype=np.float32)
        _, states, mask = self._run(texts)
        return _pooled(states, mask)

    def encode_with_words(self, texts: Sequence[str]) -> tuple[Array, list[WordVectors]]:
        """`encode` and `word_vectors` from one pass (ingest keeps both of every sentence)."""
        if not texts:
            return np.zeros((0, self.hidden), dtype=np.float32), []
        encodings, states, mask = self._run(texts)
        words = [
            by_word(text, enc.word_ids, enc.offsets, states[row, : len(enc.ids)])
            for row, (text, enc) in enumerate(zip(texts, encodings, strict=True))
        ]
        return _pooled(states, mask), words

    def word_vectors(self, texts: Sequence[str]) -> list[WordVectors]:
        """Each text's words (as the tokenizer splits them: "GPUs", "1", ".", "1B") with a
        unit-length vector each: the mean of the word's pieces in the last layer, in context."""
        if not texts:
            return []
        encodings, states, _ = self._run(texts)
        return [
            by_word(text, enc.word_ids, enc.offsets, states[row, : len(enc.ids)])
            for row, (text, enc) in enumerate(zip(texts, encodings, strict=True))
        ]

    def read_together(self, first: str, second: str) -> tuple[Array, Array, Array]:
        """The mean of `first`'s pieces read alone, the same read as the first of a pair with
        `second` (BERT's two segments, `second` cut to fit), and the mean of `second`'s pieces
        read alone, [CLS] and [SEP] left out: how far reading a paper moves a question
        (rag.joint)."""
        pair = self._pair_tokenizer.encode(first, second)
        alone = self.tokenizer.encode_batch([first, second])
        # the pair and the paper (both near the longest) in one batch, the short question apart
        means = []
        for group in ([alone[0]], [pair, alone[1]]):
            states = self._states(*_padded(group))
            for row, enc in enumerate(group):
                # the first segment's own pieces; a text read alone is a first segment too
                keep = [
                    k
                    for k, (t, special) in enumerate(zip(enc.type_ids, enc.special_tokens_mask, strict=True))
                    if t == 0 and not special
                ]
                means.append(states[row, keep].mean(axis=0) if keep else np.zeros(self.hidden, dtype=np.float32))
        return means[0], means[1], means[2]

    def _run(self, texts: Sequence[str]) -> tuple[list[Any], Array, Array]:
        """The texts' encodings, padded into one batch and run in slices of at most
        `_ATTENTION_PIECES` pieces: the last layer (texts, length, hidden) and the padding mask."""
        encodings = self.tokenizer.encode_batch(list(texts))
        ids, types, mask = _padded(encodings)
        step = max(1, _ATTENTION_PIECES // ids.shape[1])
        states = np.concatenate(
            [
                self._states(ids[i : i + step], types[i : i + step], mask[i : i + step])
                for i in range(0, len(texts), step)
            ]
        )
        return encodings, states, mask

    def _states(self, ids: np.ndarray[Any, Any], types: np.ndarray[Any, Any], mask: Array) -> Array:
        """The last layer's vector of every piece: (batch, length, hidden). `types`: each
        piece's segment (0, or 1 for the second text of a pair)."""
        w = self.w
        batch, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        # rows of 2-D arrays from here on: numpy hands a 2-D product to BLAS in one call
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps).reshape(
            batch * length, self.hidden
        )
        head = self.hidden // self.heads
        scale = np.float32(1.0 / np.sqrt(head))
        # padded positions get a large negative score, as transformers' extended attention mask
        bias = ((1.0 - mask) * np.float32(np.finfo(np.float32).min))[:, None, None, :]
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def split(t: Array) -> Array:
                # contiguous, or numpy's stacked product leaves BLAS for a slow loop
                return np.ascontiguousarray(t.reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3))

            q = split(x @ w[p + "attention.self.query.weight"] + w[p + "attention.self.query.bias"])
            k = split(x @ w[p + "attention.self.key.weight"] + w[p + "attention.self.key.bias"])
            v = split(x @ w[p + "attention.self.value.weight"] + w[p + "attention.self.value.bias"])
            scores = (q @ np.ascontiguousarray(k.transpose(0, 1, 3, 2))) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, self.hidden)
            attended = context @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
            x = _layer_norm(
                attended + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            inner = _gelu(x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"])
            out = inner @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"]
            x = _layer_norm(out + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        return x.reshape(batch, length, self.hidden)


def _padded(encodings: Sequence[Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], Array]:
    """Encodings as one batch: piece ids, segment ids and the mask of real pieces, zero-padded."""
    length = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), length), dtype=np.int64)
    types = np.zeros((len(encodings), length), dtype=np.int64)
    mask = np.zeros((len(encodings), length), dtype=np.float32)
    for row, enc in enumerate(encodings):
        ids[row, : len(enc.ids)] = enc.ids
        types[row, : len(enc.ids)] = enc.type_ids
        mask[row, : len(enc.ids)] = 1.0
    return ids, types, mask


def _pooled(states: Array, mask: Array) -> Array:
    """The mean over the real tokens (sentence-transformers' Pooling, mean mode), unit length."""
    pooled = (states * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def by_word(
    text: str, word_ids: Sequence[int | None], offsets: Sequence[tuple[int, int]], states: Array
) -> WordVectors:
    """Pieces grouped into words: each word's text and the unit mean of its pieces' vectors.
    [CLS] and [SEP] belong to no word and are left out."""
    pieces: dict[int, list[int]] = {}
    for k, w in enumerate(word_ids):
        if w is not None:
            pieces.setdefault(w, []).append(k)
    words, vectors = [], []
    for ks in pieces.values():
        words.append(text[offsets[ks[0]][0] : offsets[ks[-1]][1]])
        v = states[ks].mean(axis=0)
        vectors.append(v / max(float(np.linalg.norm(v)), 1e-12))
    matrix = np.array(vectors, dtype=np.float32) if vectors else np.zeros((0, states.shape[-1]), dtype=np.float32)
    return words, matrix
