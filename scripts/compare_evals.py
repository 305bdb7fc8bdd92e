"""Do two `rag eval --json` runs give the same answers? For checking that a refactor changed
no behaviour: every figure, and per question the answer text, refusal and citations, must match
(timings are ignored).

    python scripts/compare_evals.py BEFORE.json AFTER.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

_TIMING = ("latency", "ms", "first_token")
_PER_QUESTION = ("answer", "refused", "cited", "retrieved", "facts_found", "opening_facts_found")


def _figures(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if not isinstance(v, (dict, list)) and not any(t in k for t in _TIMING)}


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    out = []
    for key, value in _figures(before).items():
        if _figures(after).get(key) != value:
            out.append(f"{key}: {value} -> {_figures(after).get(key)}")
    rows_after = {r["qid"]: r for r in after["per_question"]}
    for row in before["per_question"]:
        other = rows_after.get(row["qid"], {})
        for key in _PER_QUESTION:
            if row.get(key) != other.get(key):
                out.append(f"{row['qid']} {key} differs")
    return out


def main() -> int:
    before, after = (json.loads(Path(p).read_text()) for p in sys.argv[1:3])
    found = differences(before, after)
    print("\n".join(found) if found else "same figures and answers")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
