"""Direct access to a store's Chroma collections, for tests that break or inspect a store the
way another process would: through chromadb's own client, never through `rag.store.Store`'s
insides. Imported by name (`from chroma_helpers import ...`), like servers.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings


def _settings() -> ChromaSettings:
    """The settings rag.store opens its clients with (Chroma shares one client per folder in a
    process and refuses a second one with other settings). A new object each time: the clients
    write into the one they are given."""
    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def chroma_client(store: Path | str) -> Any:
    """The client of a store folder, or of a Chroma server given by its URL."""
    if isinstance(store, str) and store.startswith(("http://", "https://")):
        url = urlparse(store)
        return chromadb.HttpClient(host=url.hostname or "127.0.0.1", port=url.port or 8000, settings=_settings())
    return chromadb.PersistentClient(path=str(store), settings=_settings())


def collection_names(store: Path | str) -> set[str]:
    return {c if isinstance(c, str) else c.name for c in chroma_client(store).list_collections()}


def chroma_collection(store: Path | str, name: str = "papers") -> Any:
    return chroma_client(store).get_collection(name)
