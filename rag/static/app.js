// The chat page: streams answers from /v1/chat/completions and keeps the conversation so that
// follow-up questions work. Everything from the corpus or the model is inserted as text
// (textContent, createTextNode), never as HTML.
"use strict";

const MAX_HISTORY = 20; // messages sent with each question; older turns do not help condensing

const state = { history: [], turns: 0, controller: null, pending: null };
const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function addTurn(role, text) {
  const id = ++state.turns;
  const item = el("li", `turn ${role}`);
  item.id = `t${id}`;
  item.append(el("div", "who", role === "user" ? "You" : "Answer"));
  const body = el("div", "text", text);
  item.append(body);
  $("log").append(item);
  item.scrollIntoView({ block: "end" });
  return { id, item, body };
}

// The answer with each [n] marker turned into a link to source n of this turn.
function renderAnswer(turn, text) {
  const parts = text.split(/\[(\d{1,3})\]/);
  const nodes = parts.map((part, i) => {
    if (i % 2 === 0) return document.createTextNode(part);
    const link = el("a", "cite", `[${part}]`);
    link.href = `#t${turn.id}-s${part}`;
    return link;
  });
  turn.body.replaceChildren(...nodes);
}

function renderSources(turn, citations) {
  if (!citations || citations.length === 0) return;
  const list = el("ol", "sources");
  for (const c of citations) {
    const item = el("li", "source", String(c.title));
    item.id = `t${turn.id}-s${Number(c.n)}`;
    item.value = Number(c.n);
    if (c.snippet) item.title = String(c.snippet);
    list.append(item);
  }
  turn.item.append(el("div", "who", "Sources"), list);
}

// Every sentence behind the answer, collapsed: the answer shows at most two quotes.
function renderEvidence(turn, evidence) {
  if (!evidence || evidence.length === 0) return;
  const block = el("details", "evidence");
  block.append(el("summary", null, "Evidence"));
  for (const source of evidence) {
    block.append(el("div", "evidence-title", `[${Number(source.n)}] ${String(source.title)}`));
    const list = el("ul");
    for (const sentence of source.sentences || []) list.append(el("li", null, String(sentence)));
    block.append(list);
  }
  turn.item.append(block);
}

function showError(turn, message) {
  turn.body.replaceChildren(el("span", "error", message));
}

function headers() {
  const h = { "Content-Type": "application/json", Accept: "text/event-stream" };
  const key = sessionStorage.getItem("rag-api-key");
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return String(body.error.message);
  } catch (_) { /* not JSON */ }
  return `${response.status} ${response.statusText}`;
}

// Server-sent events: yields the parsed JSON of each `data:` line until [DONE].
async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
    }
  }
}

async function ask(question) {
  state.history.push({ role: "user", content: question });
  addTurn("user", question);
  const turn = addTurn("assistant", "");
  turn.item.classList.add("streaming");
  $("send").disabled = true;
  $("status").textContent = "Answering…";
  state.controller = new AbortController();
  let text = "";
  let finished = false;
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: headers(),
      // the page lists the cited titles from `citations`, so the text-only "Sources:" footer is off
      body: JSON.stringify({
        model: "rag",
        stream: true,
        sources_footer: false,
        messages: state.history.slice(-MAX_HISTORY),
      }),
      signal: state.controller.signal,
    });
    if (!response.ok) {
      const message = await errorMessage(response);
      if (response.status === 401) {
        $("key-form").hidden = false;
        state.pending = question;
        showError(turn, "This server needs an API key: enter it above.");
      } else if (response.status === 503) {
        const wait = response.headers.get("Retry-After");
        showError(turn, `The model is busy${wait ? `; try again in ${wait} s` : ""}. (${message})`);
      } else {
        showError(turn, message);
      }
      state.history.pop();
      return;
    }
    for await (const chunk of events(response)) {
      if (chunk.error) {
        showError(turn, String(chunk.error.message || "the answer failed"));
        state.history.pop();
        return;
      }
      const choice = (chunk.choices || [])[0] || {};
      const delta = choice.delta || {};
      if (typeof delta.content === "string" && delta.content) {
        text += delta.content;
        renderAnswer(turn, text);
      }
      if (choice.finish_reason) {
        finished = true;
        renderAnswer(turn, text.trim());
        renderSources(turn, delta.citations);
        renderEvidence(turn, delta.evidence);
        if (delta.refused) {
          // a refusal that cites quotes the source contradicting the question's premise
          const cited = (delta.citations || []).length > 0;
          turn.item.classList.add("refused");
          turn.item.querySelector(".who").append(el("span", "badge", cited ? "premise contradicted" : "not covered"));
        }
        state.history.push({
          role: "assistant",
          content: text.trim(),
          citations: (delta.citations || []).map((c) => ({ n: c.n, title: c.title, paper_id: c.paper_id })),
        });
      }
    }
    if (!finished) {
      showError(turn, "The answer stopped early.");
      state.history.pop();
    }
  } catch (err) {
    if (err.name !== "AbortError") showError(turn, `Request failed: ${err.message}`);
    if (!finished) state.history.pop();
  } finally {
    turn.item.classList.remove("streaming");
    turn.item.classList.add(finished ? "done" : "failed");
    $("send").disabled = false;
    $("status").textContent = "";
    state.controller = null;
  }
}

function init() {
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (!question || state.controller) return;
    $("question").value = "";
    ask(question);
  });
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("ask-form").requestSubmit();
    }
  });
  $("new").addEventListener("click", () => {
    if (state.controller) state.controller.abort();
    state.history = [];
    $("log").replaceChildren();
    $("question").focus();
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("rag-api-key", $("key").value.trim());
    $("key").value = "";
    $("key-form").hidden = true;
    const retry = state.pending;
    state.pending = null;
    if (retry) {
      // drop the failed attempt's two turns before asking again
      const log = $("log");
      log.lastElementChild?.remove();
      log.lastElementChild?.remove();
      ask(retry);
    }
  });
}

init();
