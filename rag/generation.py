"""Language models behind one small interface: the only module that imports llama_cpp.

`Generator.stream(messages, max_tokens)` yields text pieces. Three implementations:
`LlamaCppGenerator` (a local GGUF, the default), `OpenAICompatibleGenerator` (any server that
speaks the OpenAI chat API: llama.cpp's server, vLLM, Ollama) and `FakeGenerator` (scripted
replies, for tests). Every stream goes through `guard_repetition`, since the tiny default model
loops.

Each stream reports the tokens the model read and wrote to the `metered()` block around it on
the same thread, so an answer that calls the model several times (or not at all) can say how
many tokens it cost: the API's `usage` object.
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import numpy as np

from rag.constrain import Constraint, PieceIndex, ReplyMask
from rag.errors import ConfigError, ModelError

if TYPE_CHECKING:
    from rag.settings import Settings

log = logging.getLogger(__name__)

Message = dict[str, str]


@dataclass
class TokenUsage:
    """Tokens the model read (`prompt_tokens`) and wrote (`completion_tokens`), summed over calls."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


_meter = threading.local()  # the TokenUsage of the `metered()` block running on this thread


@contextmanager
def metered() -> Iterator[TokenUsage]:
    """Count every generation on this thread inside the block. The model runs on the thread that
    asks it (the API's model thread, the CLI's main thread), so a thread-local is enough."""
    outer: TokenUsage | None = getattr(_meter, "usage", None)
    usage = TokenUsage()
    _meter.usage = usage
    try:
        yield usage
    finally:
        _meter.usage = outer
        if outer is not None:  # a nested block also counts towards the one around it
            outer.prompt_tokens += usage.prompt_tokens
            outer.completion_tokens += usage.completion_tokens
            outer.calls += usage.calls


def report_usage(prompt_tokens: int, completion_tokens: int) -> None:
    """Add one generation's tokens to the `metered()` block around it, if any."""
    usage: TokenUsage | None = getattr(_meter, "usage", None)
    if usage is not None:
        usage.prompt_tokens += max(0, prompt_tokens)
        usage.completion_tokens += max(0, completion_tokens)
        usage.calls += 1


class Generator(Protocol):
    name: str
    n_ctx: int

    def stream(
        self, messages: Sequence[Message], max_tokens: int, constraint: Constraint | None = None
    ) -> Iterator[str]:
        """Text pieces of the reply; `constraint` (rag.constrain) limits what it may say."""
        ...

    def count_tokens(self, text: str) -> int: ...


def _repeat_start(text: str, window: int) -> int | None:
    """Where the text starts repeating itself, or None: the start of a finished sentence seen
    before, or of a run of `window` words seen before."""
    seen: set[str] = set()
    for match in re.finditer(r"[^.!?]*[.!?]+(?=\s)", text):
        sentence = match.group().strip().casefold()
        if sentence in seen:
            return match.start() + (len(match.group()) - len(match.group().lstrip()))
        if sentence:
            seen.add(sentence)
    starts = [m.start() for m in re.finditer(r"\S+", text)]
    words = text.split()
    if len(words) >= 2 * window and " ".join(words[-window:]) in " ".join(words[:-window]):
        return starts[-window]
    return None


def guard_repetition(pieces: Iterator[str], window: int = 6) -> Iterator[str]:
    """Stop a stream once it starts repeating itself: a repeated sentence, or a repeated run
    of `window` words. Small models loop until the token budget otherwise.

    The last `window` words are held back until the stream moves past them, so the opening
    words of a repeat are never passed on before the repeat is recognised.
    """
    text, sent = "", 0
    for piece in pieces:
        text += piece
        cut = _repeat_start(text, window)
        if cut is not None:
            log.info("generation stopped: the model started repeating itself")
            if cut > sent:
                yield text[sent:cut]
            return
        starts = [m.start() for m in re.finditer(r"\S+", text)]
        safe = starts[-window] if len(starts) >= window else 0
        if safe > sent:
            yield text[sent:safe]
            sent = safe
    if sent < len(text):
        yield text[sent:]


# tokens guessed at once by `_copy_by_draft`: first, fewest after a wrong guess, most after right ones
_GUESS_FIRST, _GUESS_LEAST, _GUESS_MOST = 8, 2, 64


class LlamaCppGenerator:
    """A GGUF model in this process through llama-cpp-python. One generation at a time."""

    def __init__(
        self, model_path: Path, n_ctx: int, n_threads: int, temperature: float, seed: int, repeat_penalty: float
    ) -> None:
        if not model_path.is_file():
            raise ConfigError(
                f"model file not found: {model_path}", fix="pass --model-path or set RAG_MODEL_PATH to a GGUF file"
            )
        with model_path.open("rb") as f:
            if f.read(4) != b"GGUF":
                raise ConfigError(
                    f"not a GGUF model file: {model_path}", fix="pass --model-path or set RAG_MODEL_PATH to a GGUF file"
                )
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise ModelError("llama-cpp-python is not installed", fix="run scripts/setup.sh") from e
        try:
            self._llama = Llama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                seed=seed,
                verbose=False,
            )
        except Exception as e:  # llama.cpp reports load failures as ValueError or RuntimeError
            raise ModelError(
                f"the model at {model_path} failed to load: {e}", fix="check that the file is a complete GGUF model"
            ) from e
        self.name = model_path.name
        self.n_ctx = n_ctx
        self.temperature = temperature
        self.seed = seed
        self.repeat_penalty = repeat_penalty
        self.lock = threading.Lock()
        self._pieces: PieceIndex | None = None
        self._chat_format: Any = None  # the model's chat template, made on first use
        # copy decoding checks a guess of the rest of the reply in one batch (`_copy_by_draft`);
        # False decodes one token at a time through llama-cpp-python (benchmarks/copy_mask.py --ways mask,draft)
        self.draft_copies = True

    def _piece_index(self) -> PieceIndex:
        """The vocabulary by the bytes each token writes, as llama.cpp's grammar reads them
        (special tokens spelled out), made on first use: only constrained decoding needs it."""
        if self._pieces is None:
            import ctypes

            import llama_cpp

            vocab = self._llama._model.vocab
            buffer = ctypes.create_string_buffer(256)
            pieces = []
            for token in range(self._llama.n_vocab()):
                size = llama_cpp.llama_token_to_piece(vocab, token, buffer, len(buffer), 0, True)
                pieces.append(buffer.raw[: max(size, 0)])
            # end-of-generation tokens are the model's end, end-of-turn and special tokens such as
            # <|im_end|>, all spelled <...>: asking only those saves 49,000 calls (0.05 s)
            named = {llama_cpp.llama_vocab_eos(vocab), llama_cpp.llama_vocab_eot(vocab)}
            maybe = named | {t for t, piece in enumerate(pieces) if piece.startswith(b"<")}
            ends = sorted(t for t in maybe if 0 <= t < len(pieces) and llama_cpp.llama_vocab_is_eog(vocab, t))
            self._pieces = PieceIndex(pieces, ends)
        return self._pieces

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _prompt_tokens(self, messages: Sequence[Message]) -> list[int] | None:
        """The prompt's tokens as `create_chat_completion` makes them from the model's own chat
        template (as Llama.__init__ builds its formatter), or None when the model has none."""
        if self._chat_format is None:
            from llama_cpp import llama_chat_format

            template = self._llama.metadata.get("tokenizer.chat_template")
            if self._llama.chat_format != "chat_template.default" or not template or self._llama.chat_handler:
                self._chat_format = False
            else:
                eos, bos = self._llama.token_eos(), self._llama.token_bos()
                self._chat_format = llama_chat_format.Jinja2ChatFormatter(
                    template=template,
                    eos_token=self._llama.detokenize([eos], special=True).decode() if eos != -1 else "",
                    bos_token=self._llama.detokenize([bos], special=True).decode() if bos != -1 else "",
                    stop_token_ids=[eos],
                )
        if self._chat_format is False:
            return None
        prompt = self._chat_format(messages=list(messages)).prompt
        return self._llama.tokenize(prompt.encode("utf-8"), special=True)

    def _copy_by_draft(self, prompt: list[int], max_tokens: int, mask: ReplyMask) -> Iterator[str]:
        """Greedy copy decoding that checks a guess in one batch. Once the model has chosen where
        its span starts, the rest of the reply is known except where it stops; so the rest of the
        longest open reply is evaluated with the token just chosen, in one batch with the model's
        scores at every position, and accepted as far as the model's own choice at each position
        agrees. A token evaluated in a batch costs about a third of one evaluated alone here (4-5
        against 11-12 ms), so an answer took 0.76 of the time (benchmarks/copy_mask.py).
        The choice is llama-cpp-python's sampler chain for greedy decoding, redone: the mask, the
        repeat penalty over the last 64 written tokens, the first best score."""
        import llama_cpp

        llama, index = self._llama, self._piece_index()
        ends = set(index.ends)
        n_vocab, capacity = llama.n_vocab(), llama.n_batch
        # keep what this prompt shares with the context's tokens (the system prompt), as
        # Llama.generate does; the last token is evaluated again at least, for its scores
        held = llama.input_ids[: llama.n_tokens]
        keep = 0
        while keep < min(len(held), len(prompt) - 1) and held[keep] == prompt[keep]:
            keep += 1
        llama.n_tokens = keep
        llama.eval(prompt[keep:])
        memory = llama_cpp.llama_get_memory(llama.ctx)
        penalty = np.float32(self.repeat_penalty)
        written: list[int] = []
        text = codecs.getincrementaldecoder("utf-8")(errors="ignore")
        finish = "length"
        size = _GUESS_FIRST

        def choose(i: int) -> int:
            """The greedy choice from the scores at batch position `i` (-1: the last)."""
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llama.ctx, i), shape=(n_vocab,))
            allowed = np.asarray(mask.allowed(), dtype=np.intc)
            scores = logits[allowed].copy()
            if penalty != 1:
                seen = np.isin(allowed, written[-64:])
                scores[seen] = np.where(scores[seen] <= 0, scores[seen] * penalty, scores[seen] / penalty)
            return int(allowed[int(np.argmax(scores))])

        def write(token: int) -> str:
            mask.advance(token)
            written.append(token)
            return text.decode(index.pieces[token])

        batch = llama_cpp.llama_batch_init(capacity, 0, 1)
        try:
            token = choose(-1)
            while True:
                if token in ends:
                    finish = "stop"
                    break
                if piece := write(token):
                    yield piece
                room = min(max_tokens - len(written), capacity - 1, llama.n_ctx() - llama.n_tokens - 1, size)
                if room <= 0:
                    break
                rest = mask.rest().decode("utf-8", errors="ignore")
                guess = llama.tokenize(rest.encode("utf-8"), add_bos=False, special=False)[:room] if rest else []
                run = [token, *guess]
                start = llama.n_tokens
                batch.n_tokens = len(run)
                for i, t in enumerate(run):
                    batch.token[i], batch.pos[i], batch.n_seq_id[i] = t, start + i, 1
                    batch.seq_id[i][0], batch.logits[i] = 0, True
                if llama_cpp.llama_decode(llama.ctx, batch) != 0:
                    raise RuntimeError("llama_decode failed")
                llama.input_ids[start : start + len(run)] = run
                llama.n_tokens = start + len(run)
                for i, guessed in enumerate(guess):
                    token = choose(i)
                    if token != guessed:  # the guess is wrong from here: forget what it evaluated
                        llama.n_tokens = start + 1 + i
                        llama_cpp.llama_memory_seq_rm(memory, 0, llama.n_tokens, -1)
                        size = max(_GUESS_LEAST, 2 * i)
                        break
                    if piece := write(token):
                        yield piece
                else:
                    if len(written) >= max_tokens:
                        break
                    token = choose(len(guess))
                    size = min(2 * size, _GUESS_MOST)
        finally:
            llama_cpp.llama_batch_free(batch)
            # an end token is chosen and never evaluated; at the budget every written one was
            report_usage(len(prompt), len(written))
            log.debug("copy by draft: %d tokens written, finish %s", len(written), finish)

    def stream(
        self, messages: Sequence[Message], max_tokens: int, constraint: Constraint | None = None
    ) -> Iterator[str]:
        with self.lock:
            # a finite list of replies is enforced by a token mask: the same greedy text as the
            # grammar, 0.36 s less per answer at the median (benchmarks/copy_mask.py, 30 Nov);
            # greedy, it is also drafted (`_copy_by_draft`)
            mask = ReplyMask(constraint.replies, self._piece_index()) if constraint and constraint.replies else None
            drafted = mask is not None and self.draft_copies and self.temperature == 0
            prompt = self._prompt_tokens(messages) if drafted else None
            if mask is not None and prompt is not None:
                pieces = self._copy_by_draft(prompt, max_tokens, mask)
            else:
                pieces = self._by_llama_cpp(messages, max_tokens, constraint, mask)
            try:
                yield from pieces
            except (RuntimeError, ValueError) as e:
                raise ModelError(f"generation failed: {e}", fix="try a shorter question or another model") from e

    def _by_llama_cpp(
        self, messages: Sequence[Message], max_tokens: int, constraint: Constraint | None, mask: ReplyMask | None
    ) -> Iterator[str]:
        """llama-cpp-python's own loop, held to `mask` (a logits processor) or else to the
        constraint's grammar."""
        from llama_cpp import LlamaGrammar, LogitsProcessorList

        # llama.cpp streams no usage, so it is read off the context: when the first piece
        # arrives the prompt has been evaluated and nothing else (n_tokens = prompt tokens,
        # after the chat template); every sampled token is then evaluated before the next
        # one is sampled, except the last (see Llama.generate).
        prompt_tokens: int | None = None
        finish: str | None = None
        try:
            grammar = LlamaGrammar.from_string(constraint.gbnf, verbose=False) if constraint and not mask else None
            chunks = self._llama.create_chat_completion(
                grammar=grammar,
                logits_processor=LogitsProcessorList([mask]) if mask else None,
                messages=list(messages),  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=self.temperature,
                top_k=1 if self.temperature == 0 else 40,
                seed=self.seed,
                repeat_penalty=self.repeat_penalty,
                stream=True,
            )
            for chunk in chunks:
                if prompt_tokens is None:
                    prompt_tokens = self._llama.n_tokens
                choice: Any = chunk["choices"][0]  # type: ignore[index]
                finish = choice.get("finish_reason") or finish
                delta: Any = choice["delta"]
                content = delta.get("content") if isinstance(delta, dict) else None
                if content:
                    yield str(content)
        finally:
            if prompt_tokens is not None:
                # an end-of-text token ("stop") is sampled and never evaluated, and it is
                # not part of the text; any other ending leaves one sampled token unevaluated
                unevaluated = 0 if finish == "stop" else 1
                report_usage(prompt_tokens, self._llama.n_tokens - prompt_tokens + unevaluated)


class OpenAICompatibleGenerator:
    """Any server with an OpenAI chat-completions API (llama.cpp's or llama-cpp-python's server,
    vLLM, Ollama, a hosted API), streamed over server-sent events. One HTTP connection is kept
    open and reused, so a warm server answers without a new handshake per question."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None,
        n_ctx: int,
        temperature: float,
        seed: int,
        timeout: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = model
        self.n_ctx = n_ctx
        self.temperature = temperature
        self.seed = seed
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # the read timeout is per streamed piece, not for the whole answer
        self._client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=httpx.Timeout(timeout, connect=10.0)
        )

    def count_tokens(self, text: str) -> int:
        """An over-estimate (3 characters a token): the server's tokenizer is unknown here, and
        an under-estimate would overflow its context window instead of trimming the sources."""
        return max(1, len(text) // 3)

    def _refused(self, response: httpx.Response) -> ModelError:
        response.read()
        try:
            body = response.json()
            detail = body.get("error") or body
            message = detail.get("message", detail) if isinstance(detail, dict) else detail
        except (ValueError, AttributeError):
            message = response.text
        fix = (
            "set RAG_LLM_API_KEY to the server's key"
            if response.status_code in (401, 403)
            else f"check RAG_LLM_BASE_URL ({self.base_url}) and RAG_LLM_MODEL ({self.name})"
        )
        return ModelError(f"the model server answered {response.status_code}: {str(message)[:300]}", fix=fix)

    def stream(
        self, messages: Sequence[Message], max_tokens: int, constraint: Constraint | None = None
    ) -> Iterator[str]:
        body: dict[str, Any] = {
            "model": self.name,
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "stream": True,
            # the server's own token counts arrive in a last chunk; servers that predate the
            # option ignore it, and then the counts are this class's estimate
            "stream_options": {"include_usage": True},
        }
        if constraint:  # llama.cpp's server reads it; other servers ignore it, and the support check remains
            body["grammar"] = constraint.gbnf
        usage: dict[str, Any] | None = None
        written: list[str] = []
        answered = False
        try:
            with self._client.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code != 200:
                    raise self._refused(response)
                answered = True
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue  # SSE comments, keep-alives, event names
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        event = json.loads(data)
                    except ValueError as e:
                        raise ModelError(
                            f"the model server sent something that is not JSON: {data[:200]}",
                            fix=f"check that {self.base_url} is an OpenAI-compatible API",
                        ) from e
                    if event.get("error"):  # a failure after the stream started
                        error = event["error"]
                        message = error.get("message", error) if isinstance(error, dict) else error
                        raise ModelError(f"the model server failed mid-answer: {message}", fix="try again")
                    if isinstance(event.get("usage"), dict):
                        usage = event["usage"]
                    choices = event.get("choices") or [{}]
                    delta = (choices[0].get("delta") or {}).get("content")
                    if delta:
                        written.append(delta)
                        yield delta
        except httpx.HTTPError as e:
            raise ModelError(
                f"cannot reach the model server at {self.base_url}: {e}", fix="start it, or unset RAG_LLM_BASE_URL"
            ) from e
        finally:
            if usage is not None:
                report_usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
            elif answered:
                prompt = "".join(m.get("content", "") for m in messages)
                report_usage(self.count_tokens(prompt), self.count_tokens("".join(written)))


class FakeGenerator:
    """Scripted replies for tests: `reply` is a string or a function of the messages."""

    def __init__(self, reply: str | Callable[[Sequence[Message]], str], name: str = "fake", n_ctx: int = 2048) -> None:
        self.reply = reply
        self.name = name
        self.n_ctx = n_ctx
        self.calls: list[list[Message]] = []
        self.constraints: list[Constraint | None] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(
        self, messages: Sequence[Message], max_tokens: int, constraint: Constraint | None = None
    ) -> Iterator[str]:
        self.calls.append(list(messages))
        self.constraints.append(constraint)
        text = self.reply(messages) if callable(self.reply) else self.reply
        written = 0
        try:
            for piece in re.findall(r"\S+\s*", text)[:max_tokens]:
                written += 1
                yield piece
        finally:  # a word is a token here, as in count_tokens
            report_usage(sum(self.count_tokens(m.get("content", "")) for m in messages), written)


def prefetch(settings: Settings) -> None:
    """Do the slow parts of loading the local model that commit to nothing: import llama.cpp and
    ask the kernel to read the GGUF file into the page cache. A cold command calls it in a
    background thread while retrieval runs, so an answer that needs the model finds both done,
    and a refused question or an extractive answer never loads the model itself (no weights
    mapped, no context allocated). Failures are left for `load_generator` to report."""
    if settings.generation.llm_base_url:
        return  # a remote model: nothing of it lives in this process
    try:
        path = settings.resolved_model_path()
        with path.open("rb") as f:
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_WILLNEED)  # asynchronous readahead
        import llama_cpp  # noqa: F401 - the import is the work: libllama and its bindings load
    except (ConfigError, ImportError, OSError) as e:
        log.info("model prefetch skipped: %s", e)


def load_generator(settings: Settings) -> Generator:
    """The generator the settings ask for: a remote server if `llm_base_url` is set, else a GGUF."""
    g = settings.generation
    if g.llm_base_url:
        return OpenAICompatibleGenerator(g.llm_base_url, g.llm_model, g.llm_api_key, g.n_ctx, g.temperature, g.seed)
    return LlamaCppGenerator(
        settings.resolved_model_path(), g.n_ctx, g.n_threads, g.temperature, g.seed, g.repeat_penalty
    )
