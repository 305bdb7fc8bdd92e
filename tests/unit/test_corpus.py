"""Parsing the corpus: papers.txt and JSONL, with every skipped or repaired line reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.corpus import MAX_TITLE_CHARS, MIN_ABSTRACT_WORDS, load_corpus, make_paper, paper_id_for
from rag.errors import CorpusError

ABSTRACT_A = (
    "We study how small neural networks learn arithmetic tables and find that the validation "
    "accuracy rises long after the training accuracy has saturated, a delay we measure carefully. "
    "We vary the size of the training set, the weight decay and the optimiser, and report how "
    "each of them moves the point at which the network finally generalizes."
)
ABSTRACT_B = (
    "A retrieval system answers questions from a fixed collection of documents and cites the "
    "passages it used, so that every claim in the answer can be checked by its reader later. "
    "We describe the parsing, chunking, embedding and ranking stages and measure how often the "
    "cited passage really supports the sentence that cites it."
)
ABSTRACT_C = (
    "Graph neural networks pass messages between neighbouring nodes and aggregate them into node "
    "representations that serve classification, regression and link prediction on large graphs. "
    "We compare several aggregation functions on citation networks and molecules and show that "
    "attention over neighbours helps most when node degrees vary widely."
)


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# ---- the fixture and the bundled corpus ---------------------------------------------------------


def test_fixture_drops_chrome_lines_and_keeps_six_papers(fixture_corpus: Path) -> None:
    report = load_corpus(fixture_corpus)
    assert len(report.papers) == 6
    assert report.skipped == []  # chrome lines are dropped silently, not reported as bad records
    for paper in report.papers:
        assert "trending papers" not in paper.title.casefold()
        assert "trending papers" not in paper.abstract.casefold()


def test_fixture_glued_subscribe_prefix_is_removed(fixture_corpus: Path) -> None:
    titles = [p.title for p in load_corpus(fixture_corpus).papers]
    assert titles[0] == (
        "Tversky Neural Networks: Psychologically Plausible Deep Learning with Differentiable Tversky Similarity"
    )
    assert not any(t.startswith("Subscribe") for t in titles)


def test_chrome_lines_of_every_kind_are_dropped(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "Get trending papers in your email inbox once a day!",
            "Subscribe",
            "Sign in",
            "Paper one about delayed generalization",
            ABSTRACT_A,
            "Log in",
            "",
            "Get trending papers in your email inbox!",
            "Paper two about retrieval",
            ABSTRACT_B,
        ]
    )
    report = load_corpus(write(tmp_path / "p.txt", text))
    assert [p.title for p in report.papers] == [
        "Paper one about delayed generalization",
        "Paper two about retrieval",
    ]
    assert report.skipped == []


@pytest.mark.parametrize(
    ("line", "title"),
    [
        ("SubscribeUDC: A Unified Framework", "UDC: A Unified Framework"),
        ("Sign inGraph Transformers at Scale", "Graph Transformers at Scale"),
        ("Log in3D Gaussian Splatting", "3D Gaussian Splatting"),
        # the rule needs a capital or digit after the button text: real words are left alone
        (
            "Subscriber Churn Prediction with Gradient Boosting",
            "Subscriber Churn Prediction with Gradient Boosting",
        ),
        (
            "Sign Language Recognition with Pose Graphs",
            "Sign Language Recognition with Pose Graphs",
        ),
    ],
)
def test_glued_prefix_is_removed_by_rule_not_by_line(tmp_path: Path, line: str, title: str) -> None:
    report = load_corpus(write(tmp_path / "p.txt", f"{line}\n{ABSTRACT_A}\n"))
    assert [p.title for p in report.papers] == [title]


def test_full_corpus_parses_all_261_papers_with_unique_stable_ids(full_corpus: Path) -> None:
    first = load_corpus(full_corpus)
    second = load_corpus(full_corpus)
    assert len(first.papers) == 261
    assert first.skipped == [] and first.duplicates == 0
    ids = [p.paper_id for p in first.papers]
    assert len(set(ids)) == 261
    assert ids == [p.paper_id for p in second.papers]
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert not any(p.title.startswith(("Subscribe", "Get trending")) for p in first.papers)
    assert all(p.abstract and p.title for p in first.papers)


def test_ids_derive_from_content_not_position(tmp_path: Path) -> None:
    forward = load_corpus(write(tmp_path / "f.txt", f"Title A\n{ABSTRACT_A}\nTitle B\n{ABSTRACT_B}\n"))
    backward = load_corpus(write(tmp_path / "b.txt", f"Title B\n{ABSTRACT_B}\n\n\nTitle A\n{ABSTRACT_A}\n"))
    assert {p.title: p.paper_id for p in forward.papers} == {p.title: p.paper_id for p in backward.papers}
    assert make_paper("Title A", ABSTRACT_A).paper_id == forward.papers[0].paper_id
    assert paper_id_for("Title A", ABSTRACT_A) != paper_id_for("Title A", ABSTRACT_B)
    assert paper_id_for("Title A", ABSTRACT_A) != paper_id_for("Title B", ABSTRACT_A)


def test_a_byte_order_mark_does_not_hide_chrome_or_the_glued_prefix(tmp_path: Path, fixture_corpus: Path) -> None:
    raw = fixture_corpus.read_bytes()
    with_chrome = load_corpus(write(tmp_path / "a.txt", b"\xef\xbb\xbf" + raw))
    assert with_chrome.skipped == []  # the chrome line 1 is not reported as a lost title
    glued_first = b"\n".join(raw.split(b"\n")[2:])  # starts with "SubscribeTversky ..."
    titles = [p.title for p in load_corpus(write(tmp_path / "b.txt", b"\xef\xbb\xbf" + glued_first)).papers]
    assert titles[0].startswith("Tversky")


# ---- bad records are skipped and reported ------------------------------------------------------


def test_jsonl_keeps_good_records_and_reports_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "title": "Good one",
                "abstract": ABSTRACT_A,
                "url": "https://example.org/1",
                "year": 2021,
                "authors": ["Ada Lovelace", "Alan Turing"],
            }
        ),
        '{"title": "Broken", "abstract": "no closing brace"',
        json.dumps({"title": "No abstract here"}),
        "",
        json.dumps({"title": "Good two", "abstract": ABSTRACT_B}),
    ]
    report = load_corpus(write(tmp_path / "c.jsonl", "\n".join(lines) + "\n"))
    assert [p.title for p in report.papers] == ["Good one", "Good two"]
    assert [s.line for s in report.skipped] == [2, 3]
    assert "JSON" in report.skipped[0].reason
    assert "abstract" in report.skipped[1].reason
    good = report.papers[0]
    assert (good.url, good.year, good.authors) == (
        "https://example.org/1",
        2021,
        ("Ada Lovelace", "Alan Turing"),
    )


def test_title_without_abstract_is_skipped_with_its_line_number(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "Paper A",  # 1
            ABSTRACT_A,  # 2
            "Paper B lost its abstract",  # 3
            "Paper C",  # 4
            ABSTRACT_C,  # 5
            "A dangling title at the end",  # 6
        ]
    )
    report = load_corpus(write(tmp_path / "p.txt", text))
    assert [p.title for p in report.papers] == ["Paper A", "Paper C"]
    assert [(s.line, s.reason) for s in report.skipped] == [
        (3, "title with no abstract"),
        (6, "title with no abstract"),
    ]


def test_duplicates_are_counted_and_kept_once(tmp_path: Path) -> None:
    a, b = f"Paper A\n{ABSTRACT_A}\n", f"Paper B\n{ABSTRACT_B}\n"
    text = a + b + a + a
    report = load_corpus(write(tmp_path / "p.txt", text))
    assert [p.title for p in report.papers] == ["Paper A", "Paper B"]
    assert report.duplicates == 2


def test_non_utf8_bytes_are_repaired_and_reported(tmp_path: Path) -> None:
    broken = ABSTRACT_B.encode().replace(b"questions", b"ques\xff\xfetions")
    raw = b"Paper A\n" + ABSTRACT_A.encode() + b"\nPaper B\n" + broken + b"\n"
    report = load_corpus(write(tmp_path / "p.txt", raw))
    assert [p.title for p in report.papers] == ["Paper A", "Paper B"]
    assert [s.line for s in report.repaired] == [4]
    assert "questions" in report.papers[1].abstract
    assert "\ufffd" not in report.papers[1].abstract
    assert report.skipped == []


# ---- unreadable files ----------------------------------------------------------------------------


@pytest.mark.parametrize("content", ["", "\n\n   \n", "Get trending papers in your email inbox!\nSubscribe\n"])
def test_file_without_papers_raises_corpus_error(tmp_path: Path, content: str) -> None:
    with pytest.raises(CorpusError, match="no papers"):
        load_corpus(write(tmp_path / "empty.txt", content))


def test_empty_jsonl_raises_corpus_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError):
        load_corpus(write(tmp_path / "empty.jsonl", ""))


def test_binary_file_raises_corpus_error(tmp_path: Path) -> None:
    raw = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    with pytest.raises(CorpusError, match="not a text file"):
        load_corpus(write(tmp_path / "image.txt", raw))


def test_missing_file_and_folder_raise_corpus_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "nope.txt")
    with pytest.raises(CorpusError, match="folder"):
        load_corpus(tmp_path)


# ---- one set of limits for both formats ---------------------------------------------------------


def test_both_formats_meet_one_set_of_limits_and_report_every_change(tmp_path: Path) -> None:
    """Issue 18: JSONL took a 99,000-character title, a two-word abstract and a `javascript:` link,
    and dropped `year: 1e30` without a word."""
    long_title = "A title that goes on " + "and on " * 14_000
    records = [
        {"title": long_title, "abstract": ABSTRACT_A, "url": "javascript:alert(1)", "year": 1e30},  # 1
        {"title": "Two words", "abstract": "Too short."},  # 2
        {"title": "Good", "abstract": ABSTRACT_B, "url": "https://arxiv.org/abs/1", "year": 2021.0},  # 3
        {"title": "Odd fields", "abstract": ABSTRACT_C, "url": "data:text/html,x", "year": "n.d.", "authors": "A"},
    ]
    jsonl = load_corpus(write(tmp_path / "c.jsonl", "\n".join(json.dumps(r) for r in records) + "\n"))

    assert [p.title for p in jsonl.papers][1:] == ["Good", "Odd fields"]
    cut = jsonl.papers[0].title
    assert len(cut) <= MAX_TITLE_CHARS and cut.startswith("A title that goes on") and cut.endswith("…")
    assert (jsonl.papers[0].url, jsonl.papers[0].year) == (None, None)
    assert (jsonl.papers[1].url, jsonl.papers[1].year) == ("https://arxiv.org/abs/1", 2021)
    assert (jsonl.papers[2].url, jsonl.papers[2].year, jsonl.papers[2].authors) == (None, None, ())
    assert [(s.line, s.reason) for s in jsonl.skipped] == [
        (2, f"abstract of 2 words is too short (at least {MIN_ABSTRACT_WORDS})")
    ]
    changes = [(s.line, s.reason.split(":")[0]) for s in jsonl.repaired]
    assert changes == [
        (1, f"title of {len(long_title.strip()):,} characters cut to {MAX_TITLE_CHARS}"),
        (1, "url dropped"),
        (1, "year dropped"),
        (4, "url dropped"),
        (4, "year dropped"),
        (4, "authors dropped"),
    ]
    assert "javascript" in jsonl.repaired[1].reason and "1e+30" in jsonl.repaired[2].reason

    # the same records as papers.txt: the same abstract limit, and no title over the cap
    text = "\n".join(f"{r['title']}\n{r['abstract']}" for r in records)
    txt = load_corpus(write(tmp_path / "c.txt", text))
    assert [p.title for p in txt.papers] == ["Good", "Odd fields"]
    assert all(len(p.title) <= MAX_TITLE_CHARS for p in txt.papers)
    assert {s.line for s in txt.skipped} >= {1, 2, 3, 4}  # the long title's record and the short one


@pytest.mark.parametrize(
    ("year", "kept"),
    [(2021, 2021), ("2021", 2021), (2021.0, 2021), (2021.5, None), (True, None), (-5, None), (10**50, None)],
)
def test_a_year_is_kept_only_as_a_whole_number_in_range(tmp_path: Path, year: object, kept: int | None) -> None:
    line = json.dumps({"title": "T", "abstract": ABSTRACT_A, "year": year})
    report = load_corpus(write(tmp_path / "y.jsonl", line + "\n"))
    assert report.papers[0].year == kept
    assert [s.line for s in report.repaired] == ([] if kept else [1])  # a dropped year is reported
