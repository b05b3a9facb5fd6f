// The playground: one prompt to up to three models at once, each streamed into its own column as it arrives
// (POST /console/api/responses, the API's own create route, as the signed-in key). Everything a model
// writes is put on the page as text (textContent), never as HTML.
"use strict";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function* sse(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (data && data !== "[DONE]") yield JSON.parse(data);
    }
  }
}

async function run(column, body) {
  const answer = column.querySelector(".answer");
  const stats = column.querySelector(".stats");
  answer.textContent = "";
  stats.textContent = "sending…";
  const started = performance.now();
  let first = null;
  const response = await fetch("/console/api/responses", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...body, stream: true }),
  });
  if (!response.ok) {
    const failure = await response.json().catch(() => ({ error: { message: response.statusText } }));
    stats.textContent = `error ${response.status}: ${failure.error && failure.error.message}`;
    stats.className = "stats error";
    return null;
  }
  let final = null;
  for await (const event of sse(response)) {
    if (event.type === "response.output_text.delta") {
      if (first === null) first = performance.now();
      answer.append(document.createTextNode(event.delta));
    } else if (event.type === "error") {
      stats.textContent = `error: ${event.message || (event.error && event.error.message)}`;
      stats.className = "stats error";
    } else if (event.type === "response.completed" || event.type === "response.incomplete" || event.type === "response.failed") {
      final = event.response;
    }
  }
  if (final) {
    const ended = performance.now();
    const tokens = final.usage ? final.usage.output_tokens : 0;
    const ttft = first === null ? null : (first - started) / 1000;
    const rate = first !== null && ended > first ? tokens / ((ended - first) / 1000) : null;
    stats.className = "stats muted";
    stats.textContent = `${final.status} · first token ${ttft === null ? "–" : ttft.toFixed(2) + " s"} · ` +
      `${rate === null ? "–" : rate.toFixed(1)} tokens/s · ${tokens} tokens`;
    const link = column.querySelector(".link");
    link.textContent = final.id;
    link.href = `/console/responses/${encodeURIComponent(final.id)}`;
  }
  return final;
}

function base(form) {
  const body = {};
  const instructions = form.instructions.value.trim();
  if (instructions) body.instructions = instructions;
  if (form.effort.value) body.reasoning = { effort: form.effort.value };
  if (form.max_output_tokens.value) body.max_output_tokens = Number(form.max_output_tokens.value);
  const tools = form.tools.value.trim();
  if (tools) body.tools = JSON.parse(tools);
  return body;
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("playground");
  const results = document.getElementById("results");
  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    results.textContent = "";
    let extra;
    try {
      extra = base(form);
    } catch (problem) {
      results.append(el("p", "error", `Tools must be a JSON array: ${problem.message}`));
      return;
    }
    const models = [...form.querySelectorAll('input[name="model"]')].map((i) => i.value.trim()).filter(Boolean);
    await Promise.all(models.map(async (model) => {
      const column = el("section", "column");
      column.setAttribute("aria-label", model);
      column.append(el("h2", "", model), el("pre", "answer text"), el("p", "stats muted"));
      const link = el("a", "link");
      column.append(link);
      const more = el("form", "inline");
      const next = el("input");
      next.placeholder = "continue the chain…";
      next.setAttribute("aria-label", `Continue with ${model}`);
      more.append(next, el("button", "", "Continue"));
      column.append(more);
      results.append(column);
      let last = await run(column, { ...extra, model, input: form.prompt.value });
      more.addEventListener("submit", async (again) => {
        again.preventDefault();
        if (!last || !next.value.trim()) return;
        const followed = await run(column, { ...extra, model, input: next.value, previous_response_id: last.id });
        if (followed) last = followed;
        next.value = "";
      });
    }));
  });
});
