"""The language model behind its interface: the repetition guard, which generator the settings
ask for, and a model file that is missing, invalid or truncated failing in one line (through
the real `rag` command line)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import one_line_error
from click.testing import Result

from rag.errors import ConfigError
from rag.generation import (
    FakeGenerator,
    OpenAICompatibleGenerator,
    TokenUsage,
    guard_repetition,
    load_generator,
    metered,
    prefetch,
)
from rag.settings import Settings, bundled_model_path

GROKKING_QUESTION = "What happens to generalization long after neural networks overfit?"


def test_guard_repetition_stops_loops_and_passes_normal_text() -> None:
    normal = ["The model learns. ", "It generalizes later. ", "Then it stops."]
    assert "".join(guard_repetition(iter(normal))) == "".join(normal)

    looping_sentence = ["It works well. "] * 10
    assert "".join(guard_repetition(iter(looping_sentence))) == "It works well. "

    words = [w + " " for w in ("the loss goes down and then " * 20).split()]
    cut = "".join(guard_repetition(iter(words)))
    assert len(cut.split()) < 2 * 6 + 6  # stopped within a window of the first repeat
    assert cut.startswith("the loss goes down and then ")


def test_metered_counts_every_generation_inside_it_and_nothing_outside() -> None:
    model = FakeGenerator("Grokking is delayed generalization. [1]")
    question = [{"role": "user", "content": "What is grokking?"}]

    list(model.stream(question, max_tokens=50))  # no block: counted nowhere, and no error
    with metered() as outer:
        list(model.stream(question, max_tokens=50))
        with metered() as inner:
            list(model.stream(question, max_tokens=2))

    assert inner == TokenUsage(prompt_tokens=3, completion_tokens=2, calls=1)
    assert outer == TokenUsage(prompt_tokens=6, completion_tokens=7, calls=2), "the inner block counts too"
    assert outer.total_tokens == 13


def test_a_stream_closed_early_counts_what_it_wrote() -> None:
    model = FakeGenerator("one two three four five")
    with metered() as usage:
        stream = model.stream([{"role": "user", "content": "count"}], max_tokens=50)
        next(stream), next(stream)
        stream.close()  # as the repetition guard or a disconnected client does

    assert (usage.prompt_tokens, usage.completion_tokens) == (1, 2)


def test_the_settings_choose_the_generator() -> None:
    remote = load_generator(Settings(llm_base_url="http://127.0.0.1:9/v1", llm_model="m", n_ctx=4096))
    assert isinstance(remote, OpenAICompatibleGenerator)
    assert remote.name == "m" and remote.n_ctx == 4096


def test_the_fake_model_streams_its_reply_word_by_word_and_records_the_prompt() -> None:
    fake = FakeGenerator(lambda messages: f"You said {messages[-1]['content']}.", n_ctx=256)
    pieces = list(fake.stream([{"role": "user", "content": "hello there"}], max_tokens=3))
    assert pieces == ["You ", "said ", "hello "]
    assert fake.calls == [[{"role": "user", "content": "hello there"}]]
    assert fake.n_ctx == 256 and fake.count_tokens("two words") == 2


# ---- a bad model file fails in one line ----------------------------------------------------------


@pytest.fixture(scope="module")
def truncated_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model's first 2 MB: a valid GGUF header, then nothing."""
    path = tmp_path_factory.mktemp("models") / "truncated.gguf"
    with bundled_model_path().open("rb") as f:
        path.write_bytes(f.read(2_000_000))
    return path


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("missing", "model file not found"),
        ("text", "not a GGUF model file"),
        ("magic only", "failed to load"),
        ("truncated", "failed to load"),
    ],
)
def test_a_bad_model_file_fails_in_one_line(
    run: Callable[..., Result], fixture_store: Path, tmp_path: Path, truncated_gguf: Path, model: str, message: str
) -> None:
    files = {
        "missing": tmp_path / "none.gguf",
        "text": tmp_path / "x.gguf",
        "magic only": tmp_path / "magic.gguf",
        "truncated": truncated_gguf,
    }
    files["text"].write_text("this is a text file, not a model\n")
    files["magic only"].write_bytes(b"GGUF" + os.urandom(256))

    line = one_line_error(run("--store", fixture_store, "ask", "--model-path", files[model], GROKKING_QUESTION))
    assert message in line and str(files[model]) in line


@pytest.mark.parametrize("name", ["none.gguf", "text.gguf"])
def test_prefetch_commits_to_nothing_and_leaves_a_bad_file_to_the_load(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name == "text.gguf":
        path.write_text("this is a text file, not a model\n")
    settings = Settings(model_path=path)

    prefetch(settings)  # in a command's background thread: it must not raise, the load reports

    with pytest.raises(ConfigError):
        load_generator(settings)
