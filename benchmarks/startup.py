"""Start-up and the warm server: what a cold `rag` command costs against a running `rag serve`.

    .venv/bin/python benchmarks/startup.py --store DIR [--questions eval/sets/dev.jsonl]
        [--asks 10] [--out benchmarks/results/startup.json]

`--store` must already hold the bundled corpus (benchmarks/query_latency.py --store DIR fills
one). Measures, each in a fresh process:
  - `rag --help` (median of 5) and the heavy modules it imported (there should be none);
  - `rag info` (opens the store, loads no model);
  - a cold `rag ask --json` (embedder, store, BM25 index and model all load for one question),
    with the process's peak memory;
then starts `rag serve` on a free 127.0.0.1 port and, once it is up, asks `--asks` questions
twice over HTTP: streamed through /v1/chat/completions (time to the first streamed content, and
to the end) and then the same questions again, to show what the warm caches save. The server's
peak memory is read from /proc before it is stopped. Prints figures, writes JSON, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import DEV_QUESTIONS, load_questions, machine, percentiles, stop, wait_until_up, write_result

RAG = str(Path(sys.executable).with_name("rag"))
HEAVY = ("torch", "transformers", "sentence_transformers", "chromadb", "llama_cpp", "numpy")


def timed(command: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    return (time.perf_counter() - started) * 1000, done


def children_peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vm_hwm_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def stream_chat(client: Any, question: str) -> tuple[float, float]:
    """Milliseconds to the first streamed content and to the end of the answer."""
    body = {"model": "rag", "stream": True, "messages": [{"role": "user", "content": question}]}
    started = time.perf_counter()
    first = None
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if first is None and line.startswith("data:") and line[5:].strip() != "[DONE]":
                choices = json.loads(line[5:]).get("choices") or [{}]
                if (choices[0].get("delta") or {}).get("content"):  # the first text, not the role
                    first = time.perf_counter()
    end = time.perf_counter()
    return ((first or end) - started) * 1000, (end - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, required=True, help="a store holding the bundled corpus")
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS)
    parser.add_argument("--asks", type=int, default=10, help="questions asked of the warm server")
    parser.add_argument("--server-only", action="store_true", help="skip the cold commands")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    started = machine()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["RAG_STORE_PATH"] = str(args.store)
    env["RAG_SERVER_URL"] = "off"  # the cold figure is in-process, whatever listens at the default address
    questions = [q["question"] for q in load_questions(args.questions, answerable_only=True)][: args.asks]
    figures: dict[str, Any] = {"store": str(args.store)}

    if not args.server_only:
        help_ms = [timed([RAG, "--help"], env)[0] for _ in range(5)]
        figures["help_ms"] = {"median": round(statistics.median(help_ms), 1), "runs": [round(x, 1) for x in help_ms]}
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "from rag.cli import main; main()", "--help"],
            capture_output=True,
            text=True,
            env=env,
        )
        imported = {
            line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")
        }
        figures["help_heavy_imports"] = sorted(m for m in imported if m.split(".")[0] in HEAVY)
        figures["help_peak_rss_mib"] = children_peak_mib()

        info_ms, _ = timed([RAG, "info", "--json"], env)
        figures["info_ms"] = round(info_ms, 1)
        ask_ms, done = timed([RAG, "ask", "--json", questions[0]], env)
        answer = json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr[-500:]}
        figures["cold_ask"] = {
            "wall_ms": round(ask_ms, 1),
            "answer_timings_ms": answer.get("timings"),
            "peak_rss_mib": children_peak_mib(),
        }
        print(f"help {figures['help_ms']['median']} ms, info {figures['info_ms']} ms, cold ask {figures['cold_ask']}")

    import httpx

    port = free_port()
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"rag-bench-serve-{port}.log", "wb")  # noqa: SIM115
    server_started = time.perf_counter()
    server = subprocess.Popen([RAG, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, server, server_started, 300, log.name)
        figures["serve_ready_s"] = round(time.perf_counter() - server_started, 1)
        with httpx.Client(base_url=base, timeout=300) as client:
            for label in ("warm_server_first_time", "warm_server_repeated"):
                firsts, totals = [], []
                for q in questions:
                    first, total = stream_chat(client, q)
                    firsts.append(first)
                    totals.append(total)
                figures[label] = {"first_content_ms": percentiles(firsts), "total_ms": percentiles(totals)}
                print(f"{label}: {figures[label]}")
        figures["server_peak_rss_mib"] = vm_hwm_mib(server.pid)
    finally:
        stop(server, log, 15)
    write_result("startup", figures, args.out, started)


if __name__ == "__main__":
    main()
