"""Reading a collection of papers: the shipped `papers.txt` format and JSONL.

Parsing never raises on a bad record: it keeps what is valid and reports what it skipped, with
line numbers, so nothing is lost silently (a duplicate names the line it repeats). It raises
`CorpusError` only when a file cannot be read at all, is not UTF-8 text, or holds no paper.

Both formats pass every record through one set of limits (`apply_limits`): a title is cut to
`MAX_TITLE_CHARS`, an abstract needs `MIN_ABSTRACT_WORDS`, a link must be http(s), a year must lie
in `YEAR_RANGE`. A record that breaks one is skipped or kept with the field cut or dropped, and
either way reported with its line number.
"""

from __future__ import annotations

import codecs
import datetime
import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rag.errors import CorpusError

# Lines the scraped listing page adds around the papers. A rule per kind of chrome, not per line.
CHROME_LINE = re.compile(r"^(get trending papers in your email inbox\b.*|subscribe|sign in|log in)$", re.I)
# Page buttons glued to the first title when the page was flattened ("SubscribeUDC: ...").
GLUED_PREFIX = re.compile(r"^(Subscribe|Sign in|Log in)(?=[A-Z0-9])")

# The limits every record meets, whatever its format. The bundled corpus (261 papers) has titles
# of at most 135 characters and abstracts of at least 69 words; the limits leave room for other
# collections and still tell a title from an abstract in papers.txt, where lengths are the
# only structure there is.
MAX_TITLE_CHARS = 300
MIN_ABSTRACT_WORDS = 20
MAX_RECORD_CHARS = 100_000
URL_SCHEMES = ("http", "https")  # a link the web page shows must not run script (javascript:, data:)
MAX_URL_CHARS = 2048  # the longest link the sitemaps protocol and older browsers accept
# Philosophical Transactions, the first scientific journal, began in 1665; a preprint may carry
# next year's date.
YEAR_RANGE = (1665, datetime.date.today().year + 1)
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
    # kept, but changed: bytes that are not UTF-8 removed, a field cut to a limit or dropped
    repaired: list[Skipped] = field(default_factory=list)
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

    def repair(self, line: int, reason: str) -> None:
        self.repaired.append(Skipped(line, reason))


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


def cut_title(title: str) -> str:
    """A title cut to `MAX_TITLE_CHARS` at a word boundary, marked with an ellipsis."""
    if len(title) <= MAX_TITLE_CHARS:
        return title
    head = title[: MAX_TITLE_CHARS - 1]
    if " " in head[MAX_TITLE_CHARS // 2 :]:  # a word boundary near the end, else cut mid-word
        head = head.rsplit(" ", 1)[0]
    return head.rstrip() + "…"


def _url_within_limits(url: object) -> tuple[str | None, str | None]:
    """(the url to keep, why it was dropped)."""
    if not isinstance(url, str):
        return None, f"url dropped: a {type(url).__name__}, not a string"
    url = url.strip()
    if not url:
        return None, None
    if len(url) > MAX_URL_CHARS:
        return None, f"url dropped: {len(url):,} characters, over {MAX_URL_CHARS:,}"
    try:
        parts = urlsplit(url)
    except ValueError:
        return None, "url dropped: not a valid link"
    if parts.scheme.lower() not in URL_SCHEMES:
        scheme = f"scheme {parts.scheme.lower()!r}" if parts.scheme else "no scheme"
        return None, f"url dropped: {scheme}, only {' and '.join(URL_SCHEMES)} links are kept"
    if not parts.netloc or any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in url):
        return None, "url dropped: not a valid link"
    return url, None


def _year_within_limits(year: object) -> tuple[int | None, str | None]:
    """(the year to keep, why it was dropped). A whole number, also written 2021.0 or "2021"."""
    value: int | None = None
    if isinstance(year, bool):
        pass
    elif isinstance(year, int):
        value = year
    elif isinstance(year, float) and math.isfinite(year) and year.is_integer():
        value = int(year)
    elif isinstance(year, str) and re.fullmatch(r"\d{1,4}", year.strip(), re.ASCII):
        value = int(year.strip())
    shown = repr(year)[:40] if not isinstance(year, int) or abs(year) < 10**40 else "a number of over 40 digits"
    if value is None:
        return None, f"year dropped: {shown} is not a whole number"
    low, high = YEAR_RANGE
    if not low <= value <= high:
        return None, f"year dropped: {shown} is not between {low} and {high}"
    return value, None


def _authors_within_limits(authors: object) -> tuple[tuple[str, ...], str | None]:
    """(the names to keep, why some or all were dropped)."""
    if not isinstance(authors, list):
        return (), f"authors dropped: a {type(authors).__name__}, not a list of names"
    names = tuple(clean_text(a) for a in authors if isinstance(a, str) and clean_text(a))
    dropped = len(authors) - len(names)
    if not dropped:
        return names, None
    return names, f"authors: dropped {dropped} of {len(authors)} entries, which are not names"


def apply_limits(title: str, abstract: str, line: int, report: ParseReport, **extra: Any) -> Paper | None:
    """The one set of limits both formats meet: the paper to keep (its title cut and bad optional
    fields dropped, each change reported), or None when the record is skipped (reported too).
    `extra` holds the optional fields as found: url, year, authors (absent or None: not given)."""
    title, abstract = clean_text(title), clean_text(abstract)
    if not title:
        report.skip(line, "missing a title")
        return None
    if not abstract:
        report.skip(line, "missing an abstract")
        return None
    words = len(abstract.split())
    if words < MIN_ABSTRACT_WORDS:
        report.skip(line, f"abstract of {words} word{'s' * (words != 1)} is too short (at least {MIN_ABSTRACT_WORDS})")
        return None
    if len(title) > MAX_TITLE_CHARS:
        report.repair(line, f"title of {len(title):,} characters cut to {MAX_TITLE_CHARS}")
        title = cut_title(title)
    fields: dict[str, Any] = {}
    checks = {"url": _url_within_limits, "year": _year_within_limits, "authors": _authors_within_limits}
    for name, check in checks.items():
        if extra.get(name) is None:
            continue
        fields[name], problem = check(extra[name])
        if problem:
            report.repair(line, problem)
    return Paper(paper_id=paper_id_for(title, abstract), title=title, abstract=abstract, **fields)


def _decode(raw: bytes, report: ParseReport) -> list[str]:
    # splitlines: \n, \r\n and a lone \r (old Mac files) all end a line, as in an editor
    lines = raw.removeprefix(b"\xef\xbb\xbf").splitlines()
    out: list[str] = []
    for number, line in enumerate(lines, start=1):
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            report.repair(number, "bytes that are not UTF-8 were removed")
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
            paper = apply_limits(pending[1], line, pending[0], report)
            if paper is not None:
                report.keep(paper, pending[0])
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
        except ValueError as e:  # e.g. an integer of over 4,300 digits (Python's limit)
            report.skip(number, f"not valid JSON ({str(e).split(':')[0]})")
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
        optional = {name: record.get(name) for name in ("url", "year", "authors")}
        paper = apply_limits(title, abstract, number, report, **optional)
        if paper is not None:
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
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
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
    report.repaired.sort(key=lambda s: s.line)  # stable: a line's changes keep their order
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
