"""Question answering over paper abstracts, with cited titles and honest refusals.

A question travels: `cli` or `api` → `service` → `retrieval` (over `store`, built by `ingest`
from `corpus` through `chunking` and `embedding`) → `refusal` → `answer` (with `prompts` and
`generation`) → `citations`.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# numpy's OpenBLAS spins its threads while it waits for work. A question's vector (rag.bert, a
# few small products per layer) gains nothing from a second thread, and on a busy 2-core
# machine the spinning made it 954 ms instead of 41 ms (30 Nov, load 3; /tmp check of 30
# questions). Read when OpenBLAS loads, so it is set here, before anything imports numpy; a
# value the user set wins. Bulk embedding runs in torch, whose threads this does not touch.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

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
