"""Settings in groups by stage (rag.settings): flat names routed to their group, RAG_* variables
read into theirs, and unknown or invalid values rejected."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.settings import GROUPS, RetrievalSettings, Settings


def test_flat_names_are_routed_to_their_groups(tmp_path: Path) -> None:
    settings = Settings(top_k=3, store_path=tmp_path, mode="extractive", api_key="k", summary_max_papers=4)
    assert settings.retrieval.top_k == 3
    assert settings.store.store_path == tmp_path
    assert settings.answer.mode == "extractive"
    assert settings.server.api_key == "k"
    assert settings.summary.summary_max_papers == 4
    assert Settings().retrieval.top_k == 5  # the default, untouched by the other instance


def test_a_group_can_be_given_whole() -> None:
    assert Settings(retrieval={"top_k": 4}).retrieval.top_k == 4
    assert Settings(retrieval=RetrievalSettings(top_k=6)).retrieval.top_k == 6


def test_an_environment_variable_is_read_into_its_group(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAG_TOP_K", "7")
    monkeypatch.setenv("RAG_MODE", "extractive")
    monkeypatch.setenv("RAG_STORE_PATH", str(tmp_path))
    settings = Settings()
    assert settings.retrieval.top_k == 7
    assert settings.answer.mode == "extractive"
    assert settings.store.store_path == tmp_path
    assert Settings(top_k=2).retrieval.top_k == 2  # a value given beats the variable


def test_an_unknown_setting_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown setting 'top_kk'"):
        Settings(top_kk=3)


def test_an_invalid_value_is_rejected_at_construction_and_assignment() -> None:
    with pytest.raises(ValidationError, match="top_k"):
        Settings(top_k=0)
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.retrieval.top_k = 0


def test_field_names_are_unique_across_groups() -> None:
    """What lets `Settings(top_k=3)` and `RAG_TOP_K` name a field without its group."""
    names = [name for cls in GROUPS.values() for name in cls.model_fields]
    assert len(names) == len(set(names))
    assert set(GROUPS) == set(Settings.model_fields)


def test_paths_expand_the_home_folder() -> None:
    assert Settings(store_path="~/rag-store").store.store_path == Path.home() / "rag-store"  # type: ignore[arg-type]


def test_the_configuration_page_is_generated_from_these_settings() -> None:
    """docs/configuration.md is written by scripts/settings_doc.py; a setting added or changed
    without regenerating it fails here, with the command that fixes it."""
    import subprocess
    import sys

    project = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(project / "scripts" / "settings_doc.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
