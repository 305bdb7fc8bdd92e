"""Prompt templates, kept as files in `prompts/` and loaded by name.

A template is `NAME.system.txt` plus `NAME.user.txt`, with `$variables`. Rendering checks that
the caller supplies exactly the variables the template uses: a missing or an unexpected one is
an error, never a silently empty slot. Each rendered prompt carries an id (name and a hash of its
text) that the answer records.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rag.errors import ConfigError

# The one phrase for "the sources do not answer this": the prompt tells the model to use it,
# and the answer loop treats it as a refusal.
CANNOT_ANSWER = "The collection does not cover this question."


@dataclass(frozen=True)
class Template:
    name: str
    system: string.Template
    user: string.Template
    version: str

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"

    def variables(self) -> set[str]:
        found: set[str] = set()
        for part in (self.system, self.user):
            for match in part.pattern.finditer(part.template):
                name = match.group("named") or match.group("braced")
                if name:
                    found.add(name)
        return found

    def render(self, **values: str) -> list[dict[str, str]]:
        """Chat messages (system, then user) with every variable filled."""
        expected, given = self.variables(), set(values)
        if expected != given:
            missing, extra = sorted(expected - given), sorted(given - expected)
            raise ConfigError(
                f"prompt '{self.name}' expects variables {sorted(expected)}; missing {missing}, unexpected {extra}",
                fix="fix the template in the prompts folder or the code that renders it",
            )
        return [
            {"role": "system", "content": self.system.substitute(values).strip()},
            {"role": "user", "content": self.user.substitute(values).strip()},
        ]


@lru_cache(maxsize=32)
def load_template(prompts_dir: Path, name: str) -> Template:
    parts = {}
    for role in ("system", "user"):
        path = prompts_dir / f"{name}.{role}.txt"
        try:
            parts[role] = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(
                f"prompt template missing: {path}", fix="set RAG_PROMPTS_DIR to the project's prompts folder"
            ) from e
    version = hashlib.sha256((parts["system"] + "\0" + parts["user"]).encode()).hexdigest()[:8]
    return Template(name, string.Template(parts["system"]), string.Template(parts["user"]), version)
