"""Copy decoding's replies and the token mask that holds a local model to them (rag.constrain).
The mask against llama.cpp's own grammar engine, on the real model: tests/e2e/test_bundled_model.py."""

from __future__ import annotations

import numpy as np

from rag.constrain import Constraint, PieceIndex, ReplyMask, constraint_for, copy_grammar, copy_replies

# a toy vocabulary: token ids are positions; 0 ends generation, 1 writes nothing
PIECES = [b"<end>", b"", b"Nets", b" learn", b" fast", b" [", b"1", b"].", b" [1].", b"N", b"ets", b"Nets learn", b"x"]
END = 0


def allowed(mask: ReplyMask, written: list[int]) -> set[int]:
    """The tokens the mask leaves open after the prompt (3 tokens) and `written`, asked as
    llama-cpp-python asks: once before each token, with every token so far."""
    ids = [7, 7, 7, *written]
    for end in range(3, len(ids) + 1):
        scores = mask(np.array(ids[:end], dtype=np.intc), np.zeros(len(PIECES), dtype=np.single))
    return {int(t) for t in np.flatnonzero(np.isfinite(scores))}


def test_copy_replies_are_every_span_of_every_sentence_then_the_marker() -> None:
    replies = copy_replies(["Nets learn fast.", "Nets learn."], 2)
    assert set(replies) == {
        "Nets [2].",
        "Nets learn [2].",
        "Nets learn fast [2].",
        "learn [2].",
        "learn fast [2].",
        "fast [2].",
    }
    assert len(replies) == len(set(replies))  # the second sentence's spans repeat the first's: once each


def test_the_copy_constraint_carries_the_grammar_and_its_replies() -> None:
    constraint = constraint_for("copy", "A title", ["Nets learn fast."], 1)
    assert constraint == Constraint(copy_grammar(["Nets learn fast."], 1), copy_replies(["Nets learn fast."], 1))
    assert constraint_for("free", "A title", ["Nets learn fast."], 1) is None
    vocabulary = constraint_for("vocabulary", "A title", ["Nets learn fast."], 1)
    assert vocabulary is not None and vocabulary.replies == ()  # not a finite list: the grammar serves


def test_the_mask_opens_only_tokens_that_continue_a_reply_and_ends_only_after_a_whole_one() -> None:
    index = PieceIndex(PIECES, [END])
    replies = copy_replies(["Nets learn fast."], 1)

    first = allowed(ReplyMask(replies, index), [])
    # a reply may start at any word, whole or cut into pieces; never with a space, never empty
    assert first == {2, 9, 11}
    assert allowed(ReplyMask(replies, index), [2]) == {3, 5, 8}  # " learn", or the marker now
    assert allowed(ReplyMask(replies, index), [9]) == {10}  # "N" must go on as "ets"
    assert allowed(ReplyMask(replies, index), [11]) == {4, 5, 8}
    assert allowed(ReplyMask(replies, index), [2, 3]) == {4, 5, 8}
    assert allowed(ReplyMask(replies, index), [2, 3, 5]) == {6}
    assert allowed(ReplyMask(replies, index), [2, 3, 5, 6, 7]) == {END}  # whole: only the end
    assert allowed(ReplyMask(replies, index), [2, 3, 4, 8]) == {END}


def test_the_mask_keeps_the_model_scores_of_the_tokens_it_leaves_open() -> None:
    mask = ReplyMask(copy_replies(["Nets learn fast."], 1), PieceIndex(PIECES, [END]))
    scores = np.arange(len(PIECES), dtype=np.single)
    masked = mask(np.array([7], dtype=np.intc), scores)
    assert masked[2] == 2.0 and masked[9] == 9.0 and masked[11] == 11.0
    assert np.isneginf(masked[[0, 1, 3, 4, 10, 12]]).all()
