"""A fitted logistic regression shipped as data: the features it reads, how they are scaled, the
weights and the threshold. Decisions that are fitted on labelled pools (answerability, the
answer-bearing sentence) are scored with it; `rag/params/` holds the files and the scripts
that write them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ConfigError
from rag.params import read


@dataclass(frozen=True)
class LinearModel:
    """P(positive) = sigmoid(coef . (x - mean) / scale + intercept); positive when >= threshold."""

    features: tuple[str, ...]
    mean: np.ndarray[Any, Any]
    scale: np.ndarray[Any, Any]
    coef: np.ndarray[Any, Any]
    intercept: float
    threshold: float

    def margin(self, values: dict[str, float]) -> float:
        x = (np.array([values[f] for f in self.features]) - self.mean) / self.scale
        return float(x @ self.coef) + self.intercept

    def probability(self, values: dict[str, float]) -> float:
        return 1.0 / (1.0 + math.exp(-self.margin(values)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearModel:
        return cls(
            tuple(data["features"]),
            np.array(data["mean"], dtype=float),
            np.array(data["scale"], dtype=float),
            np.array(data["coef"], dtype=float),
            float(data["intercept"]),
            float(data.get("threshold", 0.5)),
        )

    @classmethod
    def neutral(cls, features: tuple[str, ...]) -> LinearModel:
        """A model that reads the features and decides nothing: for computing features to fit on."""
        n = len(features)
        return cls(features, np.zeros(n), np.ones(n), np.zeros(n), 0.0, 0.5)


@lru_cache(maxsize=8)
def load(path: Path) -> LinearModel:
    try:
        return LinearModel.from_dict(read(path))
    except (ValueError, KeyError) as e:
        raise ConfigError(
            f"cannot read the fitted parameters in {path}: {e}",
            fix="reinstall the package, or refit them with the script beside the file (rag/params/)",
        ) from e
