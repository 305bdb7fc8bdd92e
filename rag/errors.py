"""The project's errors: one root, a few branches, each carrying the fix.

    RagError                     every error the project raises on purpose
    ├── ConfigError              a setting that cannot work (bad path, missing model file)
    ├── CorpusError              a corpus file that cannot be read or holds no papers
    ├── StoreError               the store cannot be opened, written or is corrupted
    │   ├── StoreDamagedError    its files are damaged: Chroma fails to open or read them
    │   └── StoreMismatchError   the store was built by another embedder or chunking
    ├── ModelError               the language model failed to load or to generate
    ├── QuestionError            the question itself is unusable (empty, too long)
    ├── NotFoundError            a paper id or title that the collection does not hold
    └── BusyError                the model is serving someone else for longer than we wait

The CLI prints `str(error)` as one line; the API maps each branch to a status code.
"""

from __future__ import annotations


class RagError(Exception):
    """Root of every error raised on purpose. `fix` tells the user what to do."""

    fix: str = ""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if fix is not None:
            self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} ({self.fix})" if self.fix else self.message


class ConfigError(RagError):
    """A setting that cannot work."""


class CorpusError(RagError):
    """A corpus file that cannot be read or holds no papers."""


class StoreError(RagError):
    """The store cannot be opened, written, or is corrupted."""


class StoreDamagedError(StoreError):
    """The store's files are damaged (Chroma fails to open or read them); a rebuild can replace it."""


class StoreMismatchError(StoreError):
    """The store was built by another embedder or chunking than the current settings."""


class ModelError(RagError):
    """The language model failed to load or to generate."""


class QuestionError(RagError):
    """The question is unusable as given."""


class NotFoundError(RagError):
    """A paper that the collection does not hold."""


class BusyError(RagError):
    """The model stayed busy for longer than the configured wait."""
