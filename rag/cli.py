"""The `rag` command line. Heavy libraries load inside commands, so `rag --help` is instant."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rag.errors import RagError

if TYPE_CHECKING:
    from rag.client import Server
    from rag.service import RagService
    from rag.settings import Settings


def without_surrogates(text: str) -> str:
    """`text` without lone surrogates: Python reads the bytes of an argument that are not UTF-8
    as "\udcff" and the like, which no tokenizer, JSON encoder or terminal accepts."""
    return "".join(ch for ch in text if not "\ud800" <= ch <= "\udfff")


class _TextCommand(click.Command):
    """Repairs text arguments and options holding bytes that are not UTF-8 (`rag ask $'\xff'`):
    the bytes are removed, as the corpus reader removes them, and a note says so. Paths are
    left as given: a file name may be in another encoding and still open."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        repaired = []
        for name, value in ctx.params.items():
            texts = value if isinstance(value, tuple) else (value,)
            if not all(isinstance(t, str) for t in texts):
                continue
            clean = tuple(without_surrogates(t) for t in texts)
            if clean != texts:
                ctx.params[name] = clean if isinstance(value, tuple) else clean[0]
                repaired.append(name)
        if repaired:
            click.echo(f"note: removed bytes that are not UTF-8 from {', '.join(repaired)}", err=True)
        return rest


class _Group(click.Group):
    """Turns every `RagError` into one line on stderr and exit status 1: no tracebacks. Its
    commands repair text that is not UTF-8 (`_TextCommand`)."""

    command_class = _TextCommand

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RagError as e:
            raise click.ClickException(str(e)) from e
        except KeyboardInterrupt:
            click.echo(
                "\nInterrupted; the store keeps every finished batch (run the command again to resume).", err=True
            )
            sys.exit(130)


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    from pydantic import ValidationError

    from rag.settings import Settings

    values = {k: v for k, v in {**ctx.obj, **overrides}.items() if v is not None}
    try:
        return Settings(**values)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise click.ClickException(f"invalid setting: {problems}") from e


def _service(settings: Settings) -> RagService:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from rag.service import RagService

    return RagService(settings)


def _bar_disabled(settings: Settings) -> bool | None:
    """tqdm's `disable`: None shows a bar on a terminal only (RAG_PROGRESS unset)."""
    shown = settings.interface.progress
    return None if shown is None else not shown


def _progress(label: str, settings: Settings) -> Callable[..., Callable[[int], None]]:
    """A tqdm bar (rate and ETA) on stderr for each stage of the ingest."""

    def start(total: int, done: int, stage: str = "", unit: str = "chunk") -> Callable[[int], None]:
        from tqdm import tqdm

        bar = tqdm(
            total=total,
            initial=done,
            unit=unit,
            desc=f"{label}: {stage}" if stage else label,
            file=sys.stderr,
            dynamic_ncols=True,
            disable=_bar_disabled(settings),
        )

        def advance(n: int) -> None:
            bar.update(n)
            if bar.n >= bar.total:
                bar.close()

        if done >= total:
            bar.close()
        return advance

    return start


_MAX_REPORTED_LINES = 50  # past this, --json has the full list


def _print_report(report: Any, as_json: bool, check: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    verb = "would ingest" if check else ("rebuilt the store with" if report.rebuilt else "ingested")
    summary = f"{report.path}: {verb} {report.papers} papers in {report.chunks} chunks"
    if not check:
        summary += f" ({report.added_chunks} new) in {report.seconds:.1f}s"
    if report.skipped or report.repaired:
        summary += f"; skipped {len(report.skipped)} line(s)"
        summary += f" ({report.duplicates} duplicate)" if report.duplicates else ""
        summary += f", repaired {len(report.repaired)}" if report.repaired else ""
    click.echo(summary)
    lines = [f"  skipped line {i.line}: {i.reason}" for i in report.skipped]
    lines += [f"  repaired line {i.line}: {i.reason}" for i in report.repaired]
    for line in lines[:_MAX_REPORTED_LINES]:
        click.echo(line)
    if len(lines) > _MAX_REPORTED_LINES:
        click.echo(f"  ... and {len(lines) - _MAX_REPORTED_LINES} more (--json lists every one)")
    for note in report.notes:
        click.echo(f"note: {note}", err=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--store", "store_path", type=click.Path(path_type=Path), help="Store folder [env RAG_STORE_PATH; default ./store]."
)
@click.option("-v", "--verbose", is_flag=True, help="Log what each stage does.")
@click.version_option(package_name="rag")
@click.pass_context
def cli(ctx: click.Context, store_path: Path | None, verbose: bool) -> None:
    """Ask questions of a collection of paper abstracts; every claim cites its paper.

    \b
    Quick start:
      rag ask "Which paper proposes a differentiable Tversky similarity?"
      rag ask --json "What is grokking?"        # machine-readable answer
      rag ingest my_papers.jsonl                # add your own collection
      rag info                                  # what the store holds

    The bundled corpus is ingested automatically on first use. Settings come from RAG_*
    environment variables (e.g. RAG_MODEL_PATH, RAG_STORE_PATH, RAG_TOP_K); options win.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("chromadb", "httpx", "sentence_transformers", "transformers", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.ERROR)
    ctx.obj = {"store_path": store_path}


@cli.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--check", is_flag=True, help="Dry run: parse and report what would be ingested or skipped; write nothing."
)
@click.option(
    "--rebuild",
    is_flag=True,
    help="Build the store afresh from PATH alone (after changing embedder or chunking, or when the store is "
    "damaged); the old store keeps answering until the new one is complete. A damaged store is rebuilt in a "
    "new folder and kept beside it as store.broken-<time>.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def ingest(ctx: click.Context, path: Path | None, check: bool, rebuild: bool, as_json: bool) -> None:
    """Add the papers of PATH to the store (default: the bundled corpus).

    PATH is a papers.txt file (a title line, then an abstract line) or JSONL with one
    {"title", "abstract", "url"?, "year"?, "authors"?} object per line. Bad records (blank or
    over-long lines, a title with no abstract, an abstract under 20 words, a duplicate, bad
    JSON) are skipped and reported with their line numbers; bytes that are not UTF-8 are removed,
    a title over 300 characters is cut, and a link that is not http(s) or a year out of range is
    dropped, each reported too. A file that cannot be used leaves the store untouched. Ingesting
    the same papers again adds nothing; an interrupted ingest resumes where it stopped.

    \b
    Examples:
      rag ingest --check my_papers.jsonl      # report what would be kept and skipped
      rag ingest my_papers.jsonl              # add them
      rag ingest --rebuild my_papers.jsonl    # replace the whole store with them
    """
    settings = _settings(ctx)
    service = _service(settings)
    rebuild = rebuild and not check
    try:
        report = service.ingest(
            path, progress=None if as_json else _progress("Embedding", settings), dry_run=check, rebuild=rebuild
        )
    except KeyboardInterrupt:
        if not rebuild:
            raise  # the group's message: finished batches are kept, a re-run resumes
        click.echo("\nInterrupted; the store is unchanged (run `rag ingest --rebuild` again to start over).", err=True)
        sys.exit(130)
    _print_report(report, as_json, check)


_LOCAL_HELP = "Answer in this process even when a `rag serve` answers at RAG_SERVER_URL."


def _remote(settings: Settings, mode: str, local: bool) -> tuple[Server | None, str | None]:
    """The running server to ask, or None and why not (None when there is nothing to say)."""
    if local:
        return None, "--local"
    from rag.client import connect

    probe = connect(settings, mode)
    return probe.server, probe.why_not


def _say_where(server: Server | None, why_not: str | None) -> None:
    """The one line on stderr, after the answer, that says which path answered."""
    if server is not None:
        click.echo(f"(answered by rag serve at {server.url})", err=True)
    else:
        click.echo(f"(answered in-process{f': {why_not}' if why_not else ''})", err=True)


def _with_where(result: dict[str, Any], server: Server | None) -> str:
    """--json's output: the result and `answered_by`, the server's URL or "in-process"."""
    where = server.url if server is not None else "in-process"
    return json.dumps({**result, "answered_by": where}, indent=2, ensure_ascii=False)


def _print_answer_footer(answer: dict[str, Any], evidence: bool) -> None:
    """What follows the answer's text: its sources, every chosen sentence, notes on stderr."""
    if answer["citations"] and answer.get("kind", "answer") == "answer":  # a summary lists its sources itself
        click.echo("\nSources:")
        for c in answer["citations"]:
            click.echo(f"  [{c['n']}] {c['title']}")
    if evidence and answer.get("evidence"):
        click.echo("\nEvidence:")
        for source in answer["evidence"]:
            click.echo(f"  [{source['n']}] {source['title']}")
            for sentence in source["sentences"]:
                click.echo(f"      - {sentence}")
    sys.stdout.flush()
    for note in answer.get("notes", []):
        click.echo(f"(note: {note})", err=True)


@cli.command()
@click.argument("question")
@click.option("-k", "--top-k", type=click.IntRange(1, 50), help="Papers to retrieve [env RAG_TOP_K; default 5].")
@click.option(
    "--mode",
    type=click.Choice(["generative", "extractive"]),
    help="generative: the model writes; extractive: quote the abstracts, no model.",
)
@click.option(
    "--model-path",
    type=click.Path(path_type=Path),
    help="GGUF model file [env RAG_MODEL_PATH; default: bundled SmolLM2-135M].",
)
@click.option(
    "--evidence", is_flag=True, help="Also print every sentence chosen from every source, not just the quotes."
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object: answer, refused, citations, evidence, timings, answered_by, ...",
)
@click.option("--local", is_flag=True, help=_LOCAL_HELP)
@click.pass_context
def ask(
    ctx: click.Context,
    question: str,
    top_k: int | None,
    mode: str | None,
    model_path: Path | None,
    evidence: bool,
    as_json: bool,
    local: bool,
) -> None:
    """Answer QUESTION from the collection, citing the papers used.

    The answer opens with one sentence that answers, then at most two supporting quotes, then
    the cited titles; --evidence adds every sentence chosen from every source. When the
    collection does not cover the question, it says so and names the nearest papers instead of
    guessing. A request for a summary ("Summarize the work on X", "Give me an overview of X")
    is answered as `rag summarize` would.

    When a `rag serve` answers at RAG_SERVER_URL (default http://127.0.0.1:8000) and serves the
    same store, it answers, in about the time of the answer alone; else the question is answered
    in this process. A line on stderr says which (--json: "answered_by"); --local never asks a
    server. The answer is the same either way.

    \b
    Examples:
      rag ask "Which paper proposes a differentiable Tversky similarity?"
      rag ask --evidence "How does UDC train its dividing policy?"
      rag ask --mode extractive "What is grokking?"      # quotes only, no model
    """
    from rag.question import validate

    settings = _settings(ctx, model_path=model_path)
    validate(question, settings.answer.max_question_chars)
    mode = mode or settings.answer.mode
    k = top_k or settings.retrieval.top_k
    server, why_not = _remote(settings, mode, local)
    if server is not None:
        try:
            answer = server.ask(question, k, mode)
        finally:
            server.close()
        if not as_json:
            click.echo(answer["answer"])
    else:
        answer = _ask_in_process(settings, question, k, mode, as_json)
    if as_json:
        click.echo(_with_where(answer, server))
    else:
        _print_answer_footer(answer, evidence)
    _say_where(server, why_not)


def _ask_in_process(settings: Settings, question: str, k: int, mode: str, as_json: bool) -> dict[str, Any]:
    """Answer in this process; the text streams to stdout as it is written unless `as_json`."""
    service = _service(settings)
    service.ensure_ingested(
        progress=None if as_json else _progress("First run: embedding the bundled corpus", settings)
    )
    if mode == "generative":
        service.prepare_generator()  # llama.cpp imports and the GGUF is read while the question is retrieved
    if as_json:
        return service.respond(question, k=k, mode=mode).to_dict()

    def show(text: str) -> None:
        click.echo(text, nl=False)
        sys.stdout.flush()

    answer = service.respond(question, k=k, mode=mode, on_text=show)
    click.echo()
    return answer.to_dict()


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def info(ctx: click.Context, as_json: bool) -> None:
    """Show the store location, its papers and chunks, the embedder and the model."""
    details = _service(_settings(ctx)).info()
    if as_json:
        click.echo(json.dumps(details, indent=2))
        return
    for key, value in details.items():
        if value is not None:
            click.echo(f"{key:>13}: {value}")


@cli.command()
@click.argument("topic", required=False)
@click.option(
    "--paper",
    "papers",
    multiple=True,
    metavar="TITLE_OR_ID",
    help="Summarize this paper (repeatable) instead of a topic.",
)
@click.option(
    "--mode",
    type=click.Choice(["generative", "extractive"]),
    help="generative: the model writes key points; extractive: quotes only.",
)
@click.option("--model-path", type=click.Path(path_type=Path), help="GGUF model file [env RAG_MODEL_PATH].")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print sentences, citations, the matched set, coverage and answered_by as JSON.",
)
@click.option("--local", is_flag=True, help=_LOCAL_HELP)
@click.pass_context
def summarize(
    ctx: click.Context,
    topic: str | None,
    papers: tuple[str, ...],
    mode: str | None,
    model_path: Path | None,
    as_json: bool,
    local: bool,
) -> None:
    """Summarize what the collection says about TOPIC, or the papers given with --paper.

    \b
    Examples:
      rag summarize "self-supervised learning"
      rag summarize --paper "KAN: Kolmogorov-Arnold Networks" --paper 3f2a9c0d41b7e6a1

    A topic summary draws on every paper that matches the topic (it says how many matched and
    how many were used), gives one key point per paper, groups papers by what they share, and
    cites a paper in every sentence. Output is Markdown; --json for machines. As with `rag ask`,
    a `rag serve` at RAG_SERVER_URL that serves the same store writes it, unless --local.
    """
    if not topic and not papers:
        raise click.UsageError("give a TOPIC or at least one --paper")
    settings = _settings(ctx, model_path=model_path)
    mode = mode or settings.answer.mode
    server, why_not = _remote(settings, mode, local)
    if server is not None:
        try:
            result = server.summarize(topic, list(papers), mode)
        finally:
            server.close()
    else:
        result = _summarize_in_process(settings, topic, papers, mode, as_json)
    click.echo(_with_where(result, server) if as_json else result["markdown"])
    for note in result.get("notes", []):
        click.echo(f"(note: {note})", err=True)
    _say_where(server, why_not)


def _summarize_in_process(
    settings: Settings, topic: str | None, papers: tuple[str, ...], mode: str, as_json: bool
) -> dict[str, Any]:
    service = _service(settings)
    service.ensure_ingested(
        progress=None if as_json else _progress("First run: embedding the bundled corpus", settings)
    )
    if mode == "generative":
        service.prepare_generator()
    bar: Any = None

    def progress(done: int, total: int, title: str) -> None:
        nonlocal bar
        if as_json:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, desc="Key points", unit="paper", file=sys.stderr, disable=_bar_disabled(settings))
        bar.set_postfix_str(title[:40])
        bar.update(1)
        if done >= total:
            bar.close()

    summary: dict[str, Any] = service.summarize(topic, papers, mode=mode, progress=progress).to_dict()
    return summary


@cli.command()
@click.argument("query", required=False)
@click.option("-n", "--limit", type=click.IntRange(1, 10_000), default=20, show_default=True, help="Papers to list.")
@click.option("--json", "as_json", is_flag=True, help="Print the papers as JSON.")
@click.pass_context
def papers(ctx: click.Context, query: str | None, limit: int, as_json: bool) -> None:
    """List the collection's papers with their ids, or the ones closest to QUERY.

    \b
    Examples:
      rag papers                        # the first 20 papers, by title
      rag papers "graph neural networks" -n 5
      rag summarize --paper ID          # use an id from the list
    """
    settings = _settings(ctx)
    service = _service(settings)
    service.ensure_ingested(progress=_progress("First run: embedding the bundled corpus", settings))
    if query:
        rows = [
            {"paper_id": h["paper_id"], "title": h["title"], "score": h["score"]} for h in service.search(query, limit)
        ]
    else:
        rows = [{"paper_id": p.paper_id, "title": p.title} for p in sorted(service.papers(), key=lambda p: p.title)]
        rows = rows[:limit]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['paper_id']}  {row['title']}")


@cli.command(name="eval")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--mode", type=click.Choice(["generative", "extractive"]), help="Answer mode to evaluate [default: generative]."
)
@click.option("--limit", type=click.IntRange(1), help="Evaluate only the first N questions.")
@click.option("-k", "--top-k", type=click.IntRange(1, 50), help="Papers to retrieve per question.")
@click.option("--json", "as_json", is_flag=True, help="Print every figure and per-question result as one JSON object.")
@click.pass_context
def evaluate(
    ctx: click.Context, questions: Path, mode: str | None, limit: int | None, top_k: int | None, as_json: bool
) -> None:
    """Measure retrieval, citations, answers and refusals on QUESTIONS (JSONL).

    Each line: {"qid", "kind", "question", "gold_titles", "also_relevant", "answer_facts"}.
    Prints a table per question kind and overall: recall@5, MRR, citation precision and
    recall, answer-fact accuracy, refusal accuracy, false refusals, invented citations,
    unsupported sentences, summary coverage and latency. Questions of kind "summary" go to
    `rag summarize` (their recall@5 is over the summary's matched set). Decoding is greedy with a
    fixed seed, so two runs give the same figures.
    """
    from rag import evaluation

    settings = _settings(ctx)
    service = _service(settings)
    service.ensure_ingested(progress=_progress("First run: embedding the bundled corpus", settings))
    items = evaluation.load_questions(questions)[:limit]

    def run(q: evaluation.LabelledQuestion) -> evaluation.Outcome:
        if q.kind == "summary":
            return evaluation.outcome_from_summary(q, service.summarize(q.question, mode=mode))
        return evaluation.outcome_from_answer(q, service.ask(q.question, k=top_k, mode=mode))

    def progress(qs: Any) -> Any:
        from tqdm import tqdm

        return tqdm(qs, desc="Evaluating", unit="question", file=sys.stderr, disable=_bar_disabled(settings))

    result = evaluation.evaluate(items, run, service.titles(), progress)
    result["mode"] = mode or settings.answer.mode
    result["model"] = service.model_name if result["mode"] == "generative" else None
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        click.echo(f"mode: {result['mode']}   questions: {questions}")
        click.echo(evaluation.format_table(result))


@cli.command()
@click.option("--host", help="Address to bind [env RAG_HOST; default 127.0.0.1, this machine only].")
@click.option("--port", type=click.IntRange(1, 65535), help="Port to bind [env RAG_PORT; default 8000].")
@click.option(
    "--model-path",
    type=click.Path(path_type=Path),
    help="GGUF model file [env RAG_MODEL_PATH; default: bundled SmolLM2-135M].",
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, model_path: Path | None) -> None:
    """Serve the HTTP API and a web chat page until Ctrl-C.

    \b
    Open http://127.0.0.1:8000/ for the chat page, or point any OpenAI client at it:
      OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")
    Routes: POST /v1/chat/completions (OpenAI-compatible, streaming), POST /v1/ask,
    GET /v1/papers?q=, GET /v1/papers/{id}, GET /v1/models, GET /healthz.

    The embedder, store and model load once at start; the bundled corpus is ingested on first
    run. Set RAG_API_KEY to require `Authorization: Bearer <key>` on every API route.
    """
    import uvicorn

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from rag.api import build_service, create_app, load

    settings = _settings(ctx, host=host, port=port, model_path=model_path)
    settings.resolved_embedder_path()  # fail here, in one line, rather than in the server's startup
    if not settings.generation.llm_base_url and settings.answer.mode == "generative":
        settings.resolved_model_path()
    server = settings.server
    if server.host not in ("127.0.0.1", "localhost", "::1") and not server.api_key:
        click.echo(
            f"warning: serving on {server.host} without RAG_API_KEY: anyone who can reach it can use it", err=True
        )
    click.echo(f"rag: loading, then serving http://{server.host}:{server.port}/ (Ctrl-C stops)", err=True)
    service = build_service(settings)
    load(service)  # here, so a broken store or model fails in one line instead of a server traceback
    uvicorn.run(
        create_app(settings, service),
        host=server.host,
        port=server.port,
        log_level="info",
        timeout_graceful_shutdown=5,
    )


def main() -> None:
    cli(prog_name="rag")
