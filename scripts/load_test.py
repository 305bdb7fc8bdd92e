"""A bounded load test of `rag serve` on 127.0.0.1.

Starts the real server in a child process on a free loopback port, waits for /healthz, then
fires a fixed number of requests at a fixed concurrency, half at retrieval (GET /v1/papers?q=)
and half at answering (POST /v1/ask), in one or more rounds against the same server. Reports
the success rate, p50/p95 latency (overall and per route), the 503 count, and the server's RSS
before and after each round, so that repeated rounds show whether memory keeps growing. Prints
the figures and writes them as JSON; stops the server and itself when done.

    .venv/bin/python scripts/load_test.py                        # 200 requests, 8 at a time, 2 rounds
    .venv/bin/python scripts/load_test.py --mode extractive      # answers by quotes, no model
    .venv/bin/python scripts/load_test.py --store ./store --requests 100 --rounds 3

Traffic goes to 127.0.0.1 only. Every request has a timeout and the whole run a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

PROJECT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "Which paper proposes a differentiable Tversky similarity?",
    "What is grokking?",
    "How do Kolmogorov-Arnold networks differ from multilayer perceptrons?",
    "Which papers study memorization and generalization on corrupted labels?",
    "How does nnU-Net configure itself for a new segmentation dataset?",
    "What is a triplet network used for?",
    "How are physics-informed neural networks trained?",
    "Which paper uses diffusion models for image generation?",
    "What does retrieval-augmented generation add to a language model?",
    "Who wrote the novel Pride and Prejudice?",  # off topic: refused without the model
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for process {pid}")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1], 1)


def start_server(port: int, store: Path, mode: str, log_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RAG_STORE_PATH": str(store),
        "RAG_MODE": mode,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-c", "from rag.cli import main; main()", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=PROJECT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_until_up(base: str, server: subprocess.Popen[bytes], timeout_s: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited ({server.returncode}); its log:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server did not answer /healthz within {timeout_s:.0f} s; log: {log_path}")


async def one_round(base: str, requests: int, concurrency: int, timeout_s: float) -> list[dict[str, Any]]:
    """`requests` requests, at most `concurrency` at a time; alternately retrieval and ask."""
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base, timeout=timeout_s, limits=limits) as client:

        async def send(i: int) -> dict[str, Any]:
            question = QUESTIONS[i % len(QUESTIONS)]
            route = "papers" if i % 2 == 0 else "ask"
            async with gate:
                started = time.perf_counter()
                try:
                    if route == "papers":
                        response = await client.get("/v1/papers", params={"q": question, "limit": 5})
                    else:
                        response = await client.post("/v1/ask", json={"question": question})
                    status: int | str = response.status_code
                except httpx.HTTPError as e:
                    status = f"error: {type(e).__name__}"
                return {"route": route, "status": status, "ms": (time.perf_counter() - started) * 1000}

        return await asyncio.gather(*(send(i) for i in range(requests)))


def summarize(results: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    ok = [r for r in results if isinstance(r["status"], int) and 200 <= r["status"] < 300]
    summary: dict[str, Any] = {
        "requests": len(results),
        "succeeded": len(ok),
        "success_rate": round(len(ok) / len(results), 4) if results else None,
        "status_503": sum(1 for r in results if r["status"] == 503),
        "statuses": dict(Counter(str(r["status"]) for r in results)),
        "p50_ms": percentile([r["ms"] for r in ok], 50),
        "p95_ms": percentile([r["ms"] for r in ok], 95),
        "seconds": round(seconds, 1),
        "requests_per_s": round(len(results) / seconds, 2) if seconds else None,
        "routes": {},
    }
    for route in ("papers", "ask"):
        mine = [r for r in results if r["route"] == route]
        mine_ok = [r["ms"] for r in mine if r in ok]
        summary["routes"][route] = {
            "requests": len(mine),
            "succeeded": len(mine_ok),
            "status_503": sum(1 for r in mine if r["status"] == 503),
            "p50_ms": percentile(mine_ok, 50),
            "p95_ms": percentile(mine_ok, 95),
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per round [200]")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at once [8]")
    parser.add_argument("--rounds", type=int, default=2, help="rounds against the same server [2]")
    parser.add_argument(
        "--mode",
        choices=["generative", "extractive"],
        default="generative",
        help="generative: the bundled model writes each answer; extractive: quotes only [generative]",
    )
    parser.add_argument("--store", type=Path, help="store folder [default: a new temporary one, filled at start]")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-request timeout, seconds [120]")
    parser.add_argument("--deadline", type=float, default=1800.0, help="the whole run's limit, seconds [1800]")
    parser.add_argument("--out", type=Path, default=PROJECT / "benchmarks" / "results" / "load.json")
    args = parser.parse_args()
    if not (1 <= args.requests <= 10_000 and 1 <= args.concurrency <= 64 and 1 <= args.rounds <= 10):
        parser.error("keep it bounded: 1-10000 requests, 1-64 concurrent, 1-10 rounds")

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rag-load-") as tmp:
        store = args.store or Path(tmp) / "store"
        log_path = Path(tmp) / "server.log"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(port, store, args.mode, log_path)
        try:
            wait_until_up(base, server, timeout_s=600, log_path=log_path)
            report: dict[str, Any] = {
                "mode": args.mode,
                "requests_per_round": args.requests,
                "concurrency": args.concurrency,
                "cpus": os.cpu_count(),
                "load_average_at_start": [round(x, 2) for x in os.getloadavg()],  # others' work skews latency
                "startup_s": round(time.monotonic() - started, 1),
                "rss_mb_at_start": rss_mb(server.pid),
                "rounds": [],
            }
            print(
                f"server up on {base} ({args.mode}) after {report['startup_s']} s, RSS {report['rss_mb_at_start']} MB"
            )
            for n in range(1, args.rounds + 1):
                remaining = args.deadline - (time.monotonic() - started)
                if remaining <= 0:
                    print("deadline reached: stopping early")
                    break
                before = rss_mb(server.pid)
                t0 = time.perf_counter()
                results = asyncio.run(
                    asyncio.wait_for(one_round(base, args.requests, args.concurrency, args.timeout), remaining)
                )
                summary = summarize(results, time.perf_counter() - t0)
                summary.update(round=n, rss_mb_before=before, rss_mb_after=rss_mb(server.pid))
                summary["server_up"] = httpx.get(f"{base}/healthz", timeout=10).status_code == 200
                summary["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
                report["rounds"].append(summary)
                print(
                    f"round {n}: {summary['succeeded']}/{summary['requests']} ok "
                    f"({summary['success_rate']:.1%}), 503: {summary['status_503']}, "
                    f"p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, "
                    f"RSS {before} -> {summary['rss_mb_after']} MB, {summary['seconds']} s, "
                    f"server up: {summary['server_up']}"
                )
                for route, figures in summary["routes"].items():
                    print(
                        f"    {route:>6}: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
                        f"503: {figures['status_503']}"
                    )
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
