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
    from rag.service import RagService
    from rag.settings import Settings


class _Group(click.Group):
    """Turns every `RagError` into one line on stderr and exit status 1: no tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RagError as e:
            raise click.ClickException(str(e)) from e
        except KeyboardInterrupt:
            click.echo("\nInterrupted; the store keeps every finished batch (run the command again to resume).", err=True)
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


def _progress(label: str) -> Callable[[int, int], Callable[[int], None]]:
    """A tqdm bar (rate and ETA) on stderr for the ingest."""

    def start(total: int, done: int) -> Callable[[int], None]:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=done, unit="chunk", desc=label, file=sys.stderr, dynamic_ncols=True,
                   disable=None if not os.environ.get("RAG_PROGRESS") else False)

        def advance(n: int) -> None:
            bar.update(n)
            if bar.n >= bar.total:
                bar.close()

        if done >= total:
            bar.close()
        return advance

    return start


def _print_report(report: Any, as_json: bool, check: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    verb = "would ingest" if check else "ingested"
    click.echo(f"{report.path}: {verb} {report.papers} papers in {report.chunks} chunks"
               + ("" if check else f" ({report.added_chunks} new) in {report.seconds:.1f}s"))
    if report.duplicates:
        click.echo(f"  {report.duplicates} duplicate paper(s) skipped")
    for item in report.skipped:
        click.echo(f"  skipped line {item.line}: {item.reason}")
    for item in report.repaired:
        click.echo(f"  line {item.line}: {item.reason}")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--store", "store_path", type=click.Path(path_type=Path), help="Store folder [env RAG_STORE_PATH; default ./store].")
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
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("chromadb", "httpx", "sentence_transformers", "transformers", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.ERROR)
    ctx.obj = {"store_path": store_path}


@cli.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--check", is_flag=True, help="Dry run: parse and report what would be ingested or skipped; write nothing.")
@click.option("--rebuild", is_flag=True, help="Drop the collection and embed everything again (after changing embedder or chunking).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def ingest(ctx: click.Context, path: Path | None, check: bool, rebuild: bool, as_json: bool) -> None:
    """Add the papers of PATH to the store (default: the bundled corpus).

    PATH is a papers.txt file (a title line, then an abstract line) or JSONL with one
    {"title", "abstract", "url"?, "year"?, "authors"?} object per line. Bad records are
    skipped and reported with their line numbers. Ingesting the same papers again adds
    nothing; an interrupted ingest resumes where it stopped.
    """
    service = _service(_settings(ctx))
    if rebuild and not check:
        service.store.drop()
    report = service.ingest(path, progress=None if as_json else _progress("Embedding"), dry_run=check)
    _print_report(report, as_json, check)


@cli.command()
@click.argument("question")
@click.option("-k", "--top-k", type=click.IntRange(1, 50), help="Papers to retrieve [env RAG_TOP_K; default 5].")
@click.option("--mode", type=click.Choice(["generative", "extractive"]), help="generative: the model writes; extractive: quote the abstracts, no model.")
@click.option("--model-path", type=click.Path(path_type=Path), help="GGUF model file [env RAG_MODEL_PATH; default: bundled SmolLM2-135M].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: answer, refused, citations, retrieved, timings, ...")
@click.pass_context
def ask(ctx: click.Context, question: str, top_k: int | None, mode: str | None, model_path: Path | None, as_json: bool) -> None:
    """Answer QUESTION from the collection, citing the papers used.

    The answer streams as each sentence passes the support check, then a list of the cited
    titles follows. When the collection does not cover the question, it says so and names the
    nearest papers instead of guessing.
    """
    service = _service(_settings(ctx, model_path=model_path))
    service.answerer.validate(question)
    service.ensure_ingested(progress=None if as_json else _progress("First run: embedding the bundled corpus"))
    if as_json:
        answer = service.ask(question, k=top_k, mode=mode)
        click.echo(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return

    def show(text: str) -> None:
        click.echo(text, nl=False)
        sys.stdout.flush()

    answer = service.ask(question, k=top_k, mode=mode, on_text=show)
    click.echo()
    if answer.citations:
        click.echo("\nSources:")
        for c in answer.citations:
            click.echo(f"  [{c.n}] {c.title}")
    for note in answer.notes:
        click.echo(f"(note: {note})", err=True)


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


def main() -> None:
    cli(prog_name="rag")
