"""What every benchmark shares: the machine it ran on, percentiles, peak memory, a JSON record.

Benchmarks print figures and write them to JSON (benchmarks/results/ by default, git-ignored);
they assert nothing. Each record says which machine ran it and how loaded it was, since the
machine is shared and a busy neighbour moves every figure.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

# before anything imports transformers or chromadb: never reach for a hub, never phone home
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# as rag.embedding.Embedder does, in case a benchmark imports torch before creating one
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
DEV_QUESTIONS = PROJECT_DIR / "eval" / "sets" / "dev.jsonl"
BUNDLED_CORPUS = PROJECT_DIR / "corpus" / "papers.txt"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    """The machine and how busy it is right now (1-minute load average against its cores)."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def peak_rss_mib(children: bool = False) -> float:
    """Peak resident memory of this process (or of its finished children), in MiB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # Linux reports KiB


def cpu_seconds() -> float:
    """CPU time this process has used (user + system, all threads). On a shared machine it moves
    far less than wall time: CPU seconds divided by the cores is what an idle machine would take,
    if the work used every core."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50, p95, mean, min and max of a list of milliseconds (rounded to 0.1 ms)."""
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        # nearest-rank: with 50 samples p95 is the 48th value, never an interpolation past it
        index = max(0, min(len(ordered) - 1, int(round(q * len(ordered) + 0.5)) - 1))
        return ordered[index]

    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), 1),
        "p95": round(at(0.95), 1),
        "mean": round(statistics.fmean(ordered), 1),
        "min": round(ordered[0], 1),
        "max": round(ordered[-1], 1),
    }


class Timer:
    """`with Timer() as t: ...` then `t.ms`/`t.s`."""

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.s = time.perf_counter() - self._start
        self.ms = self.s * 1000


def load_questions(path: Path = DEV_QUESTIONS, answerable_only: bool = False) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("gold_titles")] if answerable_only else rows


def write_result(
    name: str, figures: dict[str, Any], out: Path | None = None, started: dict[str, Any] | None = None
) -> Path:
    """Write `figures` with the machine description to `out` (default results/<name>.json)."""
    path = out or RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine_at_start": started or machine(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        **figures,
    }
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {path}")
    return path


def stop(process: subprocess.Popen[bytes], log: IO[bytes], timeout_s: float = 20) -> None:
    """End a server a benchmark started: SIGTERM, then SIGKILL if it has not exited in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def wait_until_up(url: str, server: subprocess.Popen[bytes], started: float, limit_s: float, log: str) -> None:
    """Return once `url`/healthz answers 200; exit if the server dies or `limit_s` passes."""
    import httpx

    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.perf_counter() - started > limit_s:
            raise SystemExit(f"rag serve did not start; see {log}")
        time.sleep(0.2)
