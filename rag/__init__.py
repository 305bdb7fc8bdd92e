"""Question answering over paper abstracts, with cited titles and honest refusals.

A question travels: `cli` or `api` → `service` → `retrieval` (over `store`, built by `ingest`
from `corpus` through `chunking` and `embedding`) → `refusal` → `answer` (with `prompts` and
`generation`) → `citations`.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Answer", "Citation", "RagError", "RagService", "Settings"]

_WHERE = {
    "Answer": "rag.answer",
    "Citation": "rag.answer",
    "RagError": "rag.errors",
    "RagService": "rag.service",
    "Settings": "rag.settings",
}


def __getattr__(name: str) -> Any:
    # lazy, so that `rag --help` does not pay for numpy, chromadb or torch
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(name)
