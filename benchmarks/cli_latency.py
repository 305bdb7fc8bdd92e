"""`rag ask` from the shell, old against new in one run: cold in-process, and through a warm server.

    .venv/bin/python benchmarks/cli_latency.py --store DIR [--old-commit 76003e5] [--runs 3]
        [--asks 5] [--questions eval/sets/dev.jsonl] [--out benchmarks/results/cli_latency.json]

`--store` must already hold the bundled corpus (benchmarks/query_latency.py --store DIR fills
one; so does `rag --store DIR ingest`). The old code is the project at `--old-commit`, unpacked
with `git archive` into a temporary folder (the repository is only read); the new code is this
checkout. Each figure is a fresh `rag ask --json` process, measured wall clock:

  - cold in-process: a typical answered question (generative, the bundled model), a refused
    question and the typical question in extractive mode; old and new runs alternate, `--runs`
    of each, so a busy neighbour slows both alike; the new ones pass --local;
  - warm server: `rag serve` is started and, once ready, `--asks` answerable questions are
    each asked by a new `rag ask` process that finds it at RAG_SERVER_URL: the whole command,
    from the shell's point of view. The new code's server, then (with `--warm-old`, when the old
    code has a server and a client that finds it) the old code's, then the new code's again.

Also each process's CPU seconds (all threads; contention moves them far less than wall time),
the answer's own `total_ms` (what the question costs once everything is loaded), and the
1-minute load average before and after. Prints figures and ratios, writes JSON, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import DEV_QUESTIONS, PROJECT_DIR, load_questions, machine, percentiles, stop, wait_until_up, write_result

REFUSED_QUESTION = "Who wrote the novel Pride and Prejudice?"  # tests/unit/test_cli.py's off-topic question
CLI = "from rag.cli import main; main()"
SERVE_START_LIMIT_S = 600


def unpack(commit: str, into: Path) -> Path:
    """The project at `commit`, as files, without touching the repository's work tree."""
    archive = subprocess.run(["git", "-C", str(PROJECT_DIR), "archive", commit], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def environment(code: Path, store: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(PYTHONPATH=str(code), RAG_STORE_PATH=str(store), HF_HUB_OFFLINE="1", **extra)
    return env


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ask(env: dict[str, str], question: str, *options: str) -> tuple[float, float, dict[str, Any]]:
    """Wall milliseconds and CPU seconds (all its threads) of one `rag ask --json` process, and
    its answer. On a loaded machine the CPU seconds move far less than the wall clock."""
    cpu_before = children_cpu_s()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CLI, "ask", "--json", *options, question],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        # `python -c` puts the working folder first on sys.path, before PYTHONPATH: run from the
        # code's own folder, or the old runs import this checkout (they did until 30 Nov)
        cwd=env["PYTHONPATH"],
    )
    wall = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise SystemExit(f"rag ask failed: {done.stderr[-1500:]}")
    return wall, children_cpu_s() - cpu_before, json.loads(done.stdout)


def median_s(values: list[float]) -> float:
    return round(statistics.median(values) / 1000, 2)


def cold(old_env: dict[str, str], new_env: dict[str, str], question: str, runs: int) -> dict[str, Any]:
    """Old and new cold `rag ask`, alternating, for the three kinds of answer."""
    cases = {
        "answered (generative)": (question, ()),
        "refused": (REFUSED_QUESTION, ()),
        "extractive": (question, ("--mode", "extractive")),
    }
    figures: dict[str, Any] = {}
    for label, (text, options) in cases.items():
        old_ms, new_ms, old_cpu, new_cpu, answers = [], [], [], [], []
        for _ in range(runs):
            wall, cpu, old_answer = ask(old_env, text, *options)
            old_ms.append(wall)
            old_cpu.append(cpu)
            wall, cpu, new_answer = ask(new_env, text, "--local", *options)
            new_ms.append(wall)
            new_cpu.append(cpu)
            answers.append((old_answer, new_answer))
        same = all(same_answer(a, b) for a, b in answers)
        figures[label] = {
            "old_s": median_s(old_ms),
            "new_s": median_s(new_ms),
            "new_over_old": round(statistics.median(new_ms) / statistics.median(old_ms), 2),
            "old_runs_s": [round(x / 1000, 2) for x in old_ms],
            "new_runs_s": [round(x / 1000, 2) for x in new_ms],
            "old_cpu_s": round(statistics.median(old_cpu), 2),
            "new_cpu_s": round(statistics.median(new_cpu), 2),
            "answer_total_ms_new": answers[-1][1]["timings"].get("total_ms"),
            "refused": answers[-1][1]["refused"],
            "model": answers[-1][1]["model"],
            "same_answer_old_and_new": same,
        }
        f = figures[label]
        print(
            f"cold {label:>22}: wall old {f['old_s']:6.2f} s  new {f['new_s']:6.2f} s  new/old {f['new_over_old']};"
            f"  CPU old {f['old_cpu_s']:5.2f} s  new {f['new_cpu_s']:5.2f} s"
        )
    return figures


def same_answer(old: dict[str, Any], new: dict[str, Any]) -> bool:
    keep = ("answer", "refused", "citations", "sentences", "model", "prompt", "mode")
    return all(old.get(k) == new.get(k) for k in keep)


def warm_server(code: Path, store: Path, questions: list[str], label: str = "new") -> dict[str, Any]:
    """`rag serve` of `code` started; then one `rag ask` process per question through it."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = (Path(tmp) / "serve.log").open("wb")
        started = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, "-c", CLI, "serve", "--port", str(port)],
            env=environment(code, store),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=code,
        )
        try:
            wait_until_up(url, server, started, SERVE_START_LIMIT_S, log.name)
            ready_s = round(time.perf_counter() - started, 1)
            print(f"rag serve ready in {ready_s} s")
            env = environment(code, store, RAG_SERVER_URL=url)
            walls, cpus, totals = [], [], []
            for q in questions:
                wall, cpu, answer = ask(env, q)
                if answer.get("answered_by") != url:
                    raise SystemExit(f"the question was not answered by the server: {answer.get('answered_by')}")
                walls.append(wall)
                cpus.append(cpu * 1000)
                totals.append(answer["timings"]["total_ms"])
        finally:
            stop(server, log)
    figures: dict[str, Any] = {
        "serve_ready_s": ready_s,
        "ask_wall_ms": percentiles(walls),
        "ask_process_cpu_ms": percentiles(cpus),
        "answer_total_ms": percentiles(totals),
    }
    print(
        f"warm server ({label}): rag ask wall p50 {figures['ask_wall_ms']['p50']} ms, process CPU p50 "
        f"{figures['ask_process_cpu_ms']['p50']} ms, answer p50 {figures['answer_total_ms']['p50']} ms "
        f"over {len(walls)} questions"
    )
    return figures


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, required=True, help="a store holding the bundled corpus")
    parser.add_argument("--old-commit", default="76003e5", help="the code to compare against (default: before #19)")
    parser.add_argument("--runs", type=int, default=3, help="cold runs of each kind, old and new each")
    parser.add_argument("--asks", type=int, default=5, help="questions asked through the warm server")
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS)
    parser.add_argument("--skip-cold", action="store_true", help="only the warm server")
    parser.add_argument("--warm-old", action="store_true", help="the old code's warm server too, between two new runs")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    started = machine()
    print(f"load average at start: {started['load_average']} on {started['cores']} cores")
    questions = [q["question"] for q in load_questions(args.questions, answerable_only=True)][: args.asks]
    figures: dict[str, Any] = {"store": str(args.store), "old_commit": args.old_commit}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_cold or args.warm_old:  # the old code is unpacked only for what runs it
            old_code = unpack(args.old_commit, Path(tmp))
            if not args.skip_cold:
                figures["cold_in_process"] = cold(
                    environment(old_code, args.store), environment(PROJECT_DIR, args.store), questions[0], args.runs
                )
        figures["warm_server"] = warm_server(PROJECT_DIR, args.store, questions)
        if args.warm_old:
            figures["warm_server_old"] = warm_server(old_code, args.store, questions, "old")
            figures["warm_server_new_again"] = warm_server(PROJECT_DIR, args.store, questions, "new, again")
    print(f"load average at end: {[round(x, 2) for x in os.getloadavg()]}")
    write_result("cli_latency", figures, args.out, started)


if __name__ == "__main__":
    main()
