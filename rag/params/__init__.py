"""Parameters fitted on labelled data, shipped as files next to the scripts that fit them.

    answer_sentence.json    which sentence holds the answer          (fit_sentences.py)
    answerability.json      the answer-or-refuse decision            (fit_answerability.py)
    answerability_without_words.json   the same, for evidence without word vectors (same script)
    membership.json         which papers belong in a topic summary   (fit_membership.py)
    several_sources.json    which members a several-paper answer cites (fit_several.py)
    several_kind.json       whether a question asks about several papers (fit_kind.py)

Each file records its provenance: the command, the date, the commit, the sets it was fitted on
and the leave-one-set-out figures of the fit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag.errors import ConfigError


def read(path: Path) -> dict[str, Any]:
    """One fitted parameter file, as a mapping. Plain json, no numpy: the thin client reads the
    several-paper decision through rag.question too."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(
            f"cannot read the fitted parameters in {path}: {e}",
            fix="reinstall the package, or refit them with the script beside the file (rag/params/)",
        ) from e
    if not isinstance(data, dict):
        raise ConfigError(f"the fitted parameters in {path} are not an object", fix="refit them (rag/params/)")
    return data
