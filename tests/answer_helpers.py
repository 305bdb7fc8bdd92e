"""What the answer-loop tests share (tests/unit/test_answer.py, test_lead.py): the questions
asked of the fixture store and small readers of an Answer. Imported by name, like servers.py."""

from __future__ import annotations

from collections.abc import Callable

from rag.types import Answer, AnswerSentence

TVERSKY_QUESTION = "Which paper models similarity as a function of common and distinctive features?"
MULTI_SOURCE_QUESTION = "Which papers replace standard neural network layers with learnable functions?"
OFF_TOPIC_QUESTION = "Who wrote the novel Pride and Prejudice?"

Sources = Callable[..., dict[int, tuple[str, list[str]]]]


def cite(sentence: str, *numbers: int) -> str:
    """'Claim.' -> 'Claim [1].', the way the prompt asks the model to cite."""
    return sentence.rstrip(".") + " " + "".join(f"[{n}]" for n in numbers) + "."


def generated(answer: Answer) -> list[AnswerSentence]:
    """The sentences the model wrote (an answer may also hold sentences quoted from sources)."""
    return [s for s in answer.sentences if s.kind == "generated"]


def same_text(a: str, b: str) -> bool:
    return a.split() == b.split()


def invented_number(prompt_sources: Sources, alone: bool = False) -> Callable[[list[dict[str, str]]], str]:
    """A model that writes a true sentence (another shown sentence, copied), then a copy of the
    shown sentence dated 1977 with its year changed; `alone`: only the invented one."""

    def reply(messages: list[dict[str, str]]) -> str:
        sentences = prompt_sources(messages)[1][1]
        [dated] = [s for s in sentences if "1977" in s]
        true = next(s for s in sentences if s != dated)
        invented = cite(dated.replace("1977", "1985"), 1)
        return invented if alone else f"{cite(true, 1)} {invented}"

    return reply
