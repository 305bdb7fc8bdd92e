"""Reading a collection of papers: the shipped `papers.txt` format and JSONL.

Parsing never raises on a bad record: it keeps what is valid and reports what it skipped, with
line numbers, so nothing is lost silently (a duplicate names the line it repeats). It raises
`CorpusError` only when a file cannot be read at all, is not UTF-8 text, or holds no paper.
"""

from __future__ import annotations

import codecs
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
# A file is not text when its start holds NUL bytes, or when more than this share of its start
# is bytes that are not UTF-8 or control characters (a few stray Latin-1 bytes stay well below).
_SNIFF_BYTES = 8192
_MAX_BAD_SHARE = 0.3

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
    """What a parse kept and what it skipped, by line number."""

    path: Path
    papers: list[Paper] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)  # duplicates included
    repaired: list[Skipped] = field(default_factory=list)  # kept, but with bad bytes removed
    duplicates: int = 0
    _first_line: dict[str, int] = field(default_factory=dict, repr=False)

    def keep(self, paper: Paper, line: int) -> None:
        """Add a parsed paper, or report it as a duplicate of the one kept earlier."""
        first = self._first_line.setdefault(paper.paper_id, line)
        if first != line:
            self.duplicates += 1
            self.skip(line, f"duplicate of the paper at line {first}")
            return
        self.papers.append(paper)

    def skip(self, line: int, reason: str) -> None:
        self.skipped.append(Skipped(line, reason))


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
    # splitlines: \n, \r\n and a lone \r (old Mac files) all end a line, as in an editor
    lines = raw.removeprefix(b"\xef\xbb\xbf").splitlines()
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
            report.skip(number, f"line of {len(line):,} characters is too long to be a paper")
            if pending is not None:
                report.skip(pending[0], f"title whose abstract (line {number}) was skipped")
                pending = None
            continue
        if pending is not None and _looks_like_abstract(line) and not _looks_like_title(line):
            report.keep(make_paper(pending[1], line), pending[0])
            pending = None
            continue
        if pending is not None:
            report.skip(pending[0], "title with no abstract")
            pending = None
        if _looks_like_title(line):
            pending = (number, GLUED_PREFIX.sub("", line))
        else:
            report.skip(number, "abstract with no title")
    if pending is not None:
        report.skip(pending[0], "title with no abstract")


def parse_jsonl(lines: list[str], report: ParseReport) -> None:
    """One JSON object per line: title, abstract, and optional url, year, authors."""
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if len(line) > 2 * MAX_RECORD_CHARS:  # before parsing: JSON escapes may double the length
            report.skip(number, f"line of {len(line):,} characters is too long to be a paper")
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            report.skip(number, f"not valid JSON ({e.msg})")
            continue
        except RecursionError:
            report.skip(number, "JSON nested too deeply")
            continue
        if not isinstance(record, dict):
            report.skip(number, "not a JSON object")
            continue
        title, abstract = record.get("title"), record.get("abstract")
        if not isinstance(title, str) or not title.strip():
            report.skip(number, "missing a title")
            continue
        if not isinstance(abstract, str) or not abstract.strip():
            report.skip(number, "missing an abstract")
            continue
        if len(title) + len(abstract) > MAX_RECORD_CHARS:
            report.skip(number, "record is too long to be a paper")
            continue
        year = record.get("year")
        authors = record.get("authors") or ()
        paper = make_paper(
            title,
            abstract,
            url=record["url"] if isinstance(record.get("url"), str) else None,
            year=year if isinstance(year, int) and not isinstance(year, bool) else None,
            authors=tuple(str(a) for a in authors) if isinstance(authors, list) else (),
        )
        if not paper.title or not paper.abstract:  # nothing left once control characters went
            report.skip(number, "missing a title" if not paper.title else "missing an abstract")
            continue
        report.keep(paper, number)


def _check_is_text(path: Path, raw: bytes) -> None:
    """Raise CorpusError for a file that is not UTF-8 text, saying what it seems to be instead."""
    start = raw[:_SNIFF_BYTES]
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CorpusError(
            f"{path} is UTF-16 text, not UTF-8", fix=f"convert it first, e.g. iconv -f UTF-16 -t UTF-8 {path}"
        )
    # incremental, so a character cut at the sample's end is not counted as bad
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(start, final=len(start) == len(raw))
    bad = sum(1 for ch in text if ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f"))
    if b"\x00" in start or bad > _MAX_BAD_SHARE * max(len(text), 1):
        raise CorpusError(
            f"{path} is not a text file (or not UTF-8 text)",
            fix="pass a papers.txt or JSONL file in UTF-8 (iconv -t UTF-8 converts other encodings)",
        )


def _is_jsonl(path: Path, lines: list[str]) -> bool:
    """By extension, or by content: a file whose first line is a JSON object, whatever its name."""
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        return True
    first = next((line.strip() for line in lines if line.strip()), "")
    if not first.startswith("{") or len(first) > 2 * MAX_RECORD_CHARS:
        return False
    try:
        return isinstance(json.loads(first), dict)
    except (json.JSONDecodeError, RecursionError):
        return False


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
    _check_is_text(path, raw)
    report = ParseReport(path=path)
    lines = _decode(raw, report)
    if _is_jsonl(path, lines):
        parse_jsonl(lines, report)
    else:
        parse_papers_txt(lines, report)
    report.skipped.sort(key=lambda s: s.line)
    if not report.papers:
        if not raw.strip():
            why = ": the file is empty"
        elif report.skipped:
            why = ": every record was skipped (" + "; ".join(f"line {s.line}: {s.reason}" for s in report.skipped[:3])
            why += "; ...)" if len(report.skipped) > 3 else ")"
        else:
            why = ""
        raise CorpusError(
            f"no papers found in {path}{why}",
            fix="expected a title line followed by an abstract line, or JSONL with title and abstract",
        )
    return report
