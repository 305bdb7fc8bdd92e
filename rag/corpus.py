"""Reading a collection of papers: the shipped `papers.txt` format and JSONL.

Parsing never raises on a bad record: it keeps what is valid and reports what it skipped, with
line numbers, so nothing is lost silently. It raises `CorpusError` only when a file cannot be read
at all or holds no paper.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import CorpusError

# Lines the scraped listing page adds around the papers. A rule per kind of chrome, not per line.
CHROME_LINE = re.compile(r"^(get trending papers in your email inbox\b.*|subscribe|sign in|log in)$", re.I)
# Page buttons glued to the first title when the page was flattened ("SubscribeUDC: ...").
GLUED_PREFIX = re.compile(r"^(Subscribe|Sign in|Log in)(?=[A-Z0-9])")

MAX_TITLE_CHARS = 300
MIN_ABSTRACT_WORDS = 20
MAX_RECORD_CHARS = 100_000

_LATEX_ACCENTS = {'\\"o': "ö", '\\"u': "ü", '\\"a': "ä", "\\'e": "é", "\\'a": "á", "\\`e": "è", "\\'i": "í"}
_LATEX_WRAPPER = re.compile(r"\\(?:emph|texttt|textbf|textit|mathrm|mathbf)\{([^{}]*)\}")


@dataclass(frozen=True)
class Paper:
    """One record of the collection."""

    paper_id: str
    title: str
    abstract: str
    url: str | None = None
    year: int | None = None
    authors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    line: int
    reason: str


@dataclass
class ParseReport:
    """What a parse kept and what it skipped."""

    path: Path
    papers: list[Paper] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    repaired: list[Skipped] = field(default_factory=list)  # kept, but with bad bytes removed
    duplicates: int = 0


def clean_text(text: str) -> str:
    """Undo the LaTeX leftovers of the scrape and normalise white space and Unicode."""
    text = unicodedata.normalize("NFC", text)
    text = _LATEX_WRAPPER.sub(r"\1", text)
    for latex, char in _LATEX_ACCENTS.items():
        text = text.replace("{" + latex + "}", char).replace(latex, char)
    text = text.replace("\\%", "%").replace("\\&", "&").replace("\\_", "_")
    text = "".join(ch for ch in text if ch in "\t\n" or unicodedata.category(ch)[0] != "C")
    return re.sub(r"\s+", " ", text).strip()


def paper_id_for(title: str, abstract: str) -> str:
    """A stable id from the content: the same paper always gets the same id."""
    key = (title.casefold().strip() + "\n" + abstract.casefold().strip()).encode("utf-8")
    return hashlib.sha256(key).hexdigest()[:16]


def make_paper(title: str, abstract: str, **extra: object) -> Paper:
    title, abstract = clean_text(title), clean_text(abstract)
    return Paper(paper_id=paper_id_for(title, abstract), title=title, abstract=abstract, **extra)  # type: ignore[arg-type]


def _decode(raw: bytes, report: ParseReport) -> list[str]:
    lines = raw.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    out: list[str] = []
    for number, line in enumerate(lines, start=1):
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            report.repaired.append(Skipped(number, "bytes that are not UTF-8 were removed"))
            out.append(line.decode("utf-8", errors="replace").replace("\ufffd", ""))
    return out


def _looks_like_title(line: str) -> bool:
    return len(line) <= MAX_TITLE_CHARS and len(line.split()) <= 40


def _looks_like_abstract(line: str) -> bool:
    return len(line.split()) >= MIN_ABSTRACT_WORDS


def parse_papers_txt(lines: list[str], report: ParseReport) -> None:
    """Title line, then abstract line; chrome lines and blank lines in between are ignored."""
    pending: tuple[int, str] | None = None  # a title waiting for its abstract
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or CHROME_LINE.match(line):
            continue
        if len(line) > MAX_RECORD_CHARS:
            report.skipped.append(Skipped(number, f"line of {len(line):,} characters is too long to be a paper"))
            pending = None
            continue
        if pending is not None and _looks_like_abstract(line) and not _looks_like_title(line):
            report.papers.append(make_paper(pending[1], line))
            pending = None
            continue
        if pending is not None:
            report.skipped.append(Skipped(pending[0], "title with no abstract"))
            pending = None
        if _looks_like_title(line):
            pending = (number, GLUED_PREFIX.sub("", line))
        else:
            report.skipped.append(Skipped(number, "abstract with no title"))
    if pending is not None:
        report.skipped.append(Skipped(pending[0], "title with no abstract"))


def parse_jsonl(lines: list[str], report: ParseReport) -> None:
    """One JSON object per line: title, abstract, and optional url, year, authors."""
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            report.skipped.append(Skipped(number, f"not valid JSON ({e.msg})"))
            continue
        if not isinstance(record, dict):
            report.skipped.append(Skipped(number, "not a JSON object"))
            continue
        title, abstract = record.get("title"), record.get("abstract")
        if not isinstance(title, str) or not title.strip():
            report.skipped.append(Skipped(number, "missing a title"))
            continue
        if not isinstance(abstract, str) or not abstract.strip():
            report.skipped.append(Skipped(number, "missing an abstract"))
            continue
        if len(title) + len(abstract) > MAX_RECORD_CHARS:
            report.skipped.append(Skipped(number, "record is too long to be a paper"))
            continue
        year = record.get("year")
        authors = record.get("authors") or ()
        report.papers.append(
            make_paper(
                title,
                abstract,
                url=record["url"] if isinstance(record.get("url"), str) else None,
                year=year if isinstance(year, int) and not isinstance(year, bool) else None,
                authors=tuple(str(a) for a in authors) if isinstance(authors, list) else (),
            )
        )


def _dedupe(report: ParseReport) -> None:
    seen: set[str] = set()
    unique: list[Paper] = []
    for paper in report.papers:
        if paper.paper_id in seen:
            report.duplicates += 1
            continue
        seen.add(paper.paper_id)
        unique.append(paper)
    report.papers = unique


def load_corpus(path: Path) -> ParseReport:
    """Parse a corpus file; the format follows the extension (`.jsonl` is JSONL, else papers.txt)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise CorpusError(f"corpus file not found: {path}", fix="check the path") from e
    except IsADirectoryError as e:
        raise CorpusError(f"corpus path is a folder: {path}", fix="pass a .txt or .jsonl file") from e
    except OSError as e:
        raise CorpusError(f"cannot read corpus file {path}: {e.strerror}", fix="check its permissions") from e
    if b"\x00" in raw[:8192]:
        raise CorpusError(f"{path} is not a text file", fix="pass a papers.txt or JSONL file")
    report = ParseReport(path=path)
    lines = _decode(raw, report)
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        parse_jsonl(lines, report)
    else:
        parse_papers_txt(lines, report)
    _dedupe(report)
    if not report.papers:
        raise CorpusError(
            f"no papers found in {path}",
            fix="expected a title line followed by an abstract line, or JSONL with title and abstract",
        )
    return report
