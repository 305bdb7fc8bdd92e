"""Damage copies of a store one way at a time and report what each `Store` read does.

    python scripts/store_damage_sweep.py [STORE] [--json]

STORE (default ./store) is copied, never touched. Each copy gets one damage: 64 KB of zeros or
of random bytes written at an offset of chroma.sqlite3, the file truncated, or an HNSW segment
file zeroed, halved or deleted. Then the copy is opened and read the ways the service reads it
(count, papers, every chunk, a query, vectors by paper), and SQLite's quick_check runs on it. A
row per damage says where it failed first and with which error: after issue 18, every failure
is a `StoreError` (one line with the fix), never Chroma's own exception. docs/robustness.md
quotes the figures.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from rag.store import Store, database_problems  # noqa: E402

DATABASE = "chroma.sqlite3"
CHUNK = 65_536  # issue 18's 64 KB


def _write_at(database: Path, offset: int, data: bytes) -> None:
    with database.open("r+b") as f:
        f.seek(offset)
        f.write(data)


def _zeros(offset: int, store: Path) -> None:
    _write_at(store / DATABASE, offset, bytes(CHUNK))


def _random(offset: int, store: Path) -> None:
    _write_at(store / DATABASE, offset, os.urandom(CHUNK))


def _truncate(length: int, store: Path) -> None:
    os.truncate(store / DATABASE, length)


def _segment_file(store: Path, name: str) -> Path:
    return next(p for p in store.iterdir() if p.is_dir()) / name


def _zero_segment(name: str, store: Path) -> None:
    path = _segment_file(store, name)
    path.write_bytes(bytes(path.stat().st_size))


def _halve_segment(name: str, store: Path) -> None:
    path = _segment_file(store, name)
    os.truncate(path, path.stat().st_size // 2)


def _delete_segment(name: str, store: Path) -> None:
    _segment_file(store, name).unlink()


def damages(size: int) -> dict[str, Callable[[Path], None]]:
    """Name → a function that damages a copied store folder."""
    found: dict[str, Callable[[Path], None]] = {}
    for offset in [0, 4096, 65_536, *range(1_000_000, size, 1_000_000), size - CHUNK]:
        found[f"zeros@{offset}"] = functools.partial(_zeros, offset)
    for offset in (0, size // 3, size - 2 * CHUNK):
        found[f"random@{offset}"] = functools.partial(_random, offset)
    for length in (0, 100, 4096, size // 10, size // 2, size - 4096):
        found[f"truncate@{length}"] = functools.partial(_truncate, length)
    for name in ("data_level0.bin", "header.bin", "length.bin"):
        found[f"hnsw-zero:{name}"] = functools.partial(_zero_segment, name)
        found[f"hnsw-halve:{name}"] = functools.partial(_halve_segment, name)
        found[f"hnsw-delete:{name}"] = functools.partial(_delete_segment, name)
    return found


def reads(store: Store) -> dict[str, Callable[[], object]]:
    vector = np.random.default_rng(0).normal(size=384).astype(np.float32)
    return {
        "count": store.count,
        "papers": store.papers,
        "chunks": lambda: sum(1 for _ in store.iter_chunks()),
        "query": lambda: store.query(vector, 20),
        "vectors": lambda: store.chunk_vectors([f"{i:016x}" for i in range(5)]),
    }


def probe(copy: Path) -> dict[str, Any]:
    """Where the damaged copy first fails, and how; plus what quick_check says."""
    row: dict[str, Any] = {"quick_check": "ok" if not database_problems(copy) else "damaged"}
    try:
        store = Store(copy, "papers")
    except Exception as e:
        return {**row, "failed_at": "open", "error": type(e).__name__, "message": str(e)[:160]}
    steps = list(reads(store).items())
    passed: list[str] = []
    for name, read in steps:
        try:
            read()
        except Exception as e:
            return {**row, "failed_at": name, "passed": passed, "error": type(e).__name__, "message": str(e)[:160]}
        passed.append(name)
    return {**row, "failed_at": None, "passed": passed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", nargs="?", type=Path, default=Path("store"))
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    if not (args.store / DATABASE).is_file():
        sys.exit(f"no {DATABASE} in {args.store}: build a store first (rag ingest)")
    size = (args.store / DATABASE).stat().st_size
    rows = {}
    with tempfile.TemporaryDirectory(prefix="damage-sweep-") as tmp:
        for name, damage in damages(size).items():
            copy = Path(tmp) / name.replace(":", "-").replace("@", "-")
            shutil.copytree(args.store, copy, ignore=shutil.ignore_patterns("*.broken-*"))
            damage(copy)
            rows[name] = probe(copy)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for name, row in rows.items():
        where = "reads fine" if row["failed_at"] is None else f"fails at {row['failed_at']}: {row['error']}"
        print(f"{name:28} quick_check {row['quick_check']:8} {where}")
    failed = [r for r in rows.values() if r["failed_at"]]
    print(
        f"\n{len(rows)} damages: {sum(r['failed_at'] == 'open' for r in failed)} fail at open, "
        f"{sum(r['failed_at'] not in (None, 'open') for r in failed)} in a later read, "
        f"{sum(r['failed_at'] is None for r in rows.values())} read fine; errors: "
        f"{sorted({r['error'] for r in failed})}; quick_check flags "
        f"{sum(r['quick_check'] == 'damaged' for r in rows.values())}"
    )


if __name__ == "__main__":
    main()
