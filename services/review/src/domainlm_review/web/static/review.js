// The review page: the queue on the left, the item and its source side by side, keyboard first.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { items: [], index: -1, offset: 0, total: 0, limit: 50, current: null, me: null };

function cookie(name) {
  const hit = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
}

async function api(path, options = {}) {
  const headers = { "X-CSRF-Token": cookie("domainlm_csrf"), ...(options.headers || {}) };
  if (options.body && typeof options.body !== "string") {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(options.body);
  }
  const response = await fetch(path, { ...options, headers, credentials: "same-origin" });
  if (response.status === 401) { location.href = "/login"; throw new Error("signed out"); }
  const data = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  return { status: response.status, ok: response.ok, data };
}

function say(text, error = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

function filters() {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData($("filters"))) if (v !== "") params.set(k, v);
  return params;
}

async function loadCounts() {
  const { data } = await api("/api/counts");
  const decided = data.total - data.pending;
  $("progress").max = Math.max(1, data.total);
  $("progress").value = decided;
  $("progress-text").textContent = `${decided} of ${data.total} decided · ${data.pending} pending`;
  $("reviewers").textContent = Object.entries(data.reviewers).map(([who, n]) => `${who}: ${n}`).join(" · ");
}

async function loadQueue(keepIndex = false) {
  const params = filters();
  params.set("offset", state.offset);
  params.set("limit", state.limit);
  const { ok, data } = await api("/api/items?" + params);
  if (!ok) { say(`Filters: ${JSON.stringify(data.detail)}`, true); return; }
  state.items = data.items;
  state.total = data.total;
  $("page-info").textContent = data.total ? `${state.offset + 1}–${state.offset + data.items.length} of ${data.total}` : "";
  const queue = $("queue");
  queue.replaceChildren(...data.items.map((item, i) => {
    const s = item.sample;
    const score = s.scores.answer_support ?? null;
    const button = el("button", { type: "button", class: "queue-item" },
      el("span", { class: `state ${s.review}`, text: s.review }),
      el("span", { class: "q", text: s.instruction.slice(0, 80) }),
      el("span", { class: "score", text: score === null ? "" : score.toFixed(2) }));
    button.addEventListener("click", () => openItem(i));
    return el("li", {}, button);
  }));
  $("empty").hidden = data.items.length > 0;
  const index = keepIndex ? Math.min(state.index, data.items.length - 1) : 0;
  if (data.items.length) await openItem(Math.max(0, index)); else showItem(null);
}

function showItem(item) {
  $("item").hidden = $("source").hidden = item === null;
  state.current = item;
}

function highlight(text, evidence) {
  const box = $("chunk");
  box.replaceChildren();
  if (!text) { box.append(el("p", { class: "muted", text: "The chunk text is not available here." })); return; }
  const at = evidence ? text.indexOf(evidence) : -1;
  if (at < 0) {
    box.append(text);
    if (evidence) box.append(el("p", { class: "muted", text: `Evidence (not found verbatim): ${evidence}` }));
    return;
  }
  box.append(text.slice(0, at), el("mark", { text: evidence }), text.slice(at + evidence.length));
}

function showPage(sample, page) {
  const img = $("page");
  img.src = `/api/items/${encodeURIComponent(sample.id)}/page/${page}.png`;
  $("page-label").textContent = `page ${page}`;
}

async function openItem(i) {
  if (i < 0 || i >= state.items.length) return;
  state.index = i;
  document.querySelectorAll(".queue-item").forEach((b, k) => b.classList.toggle("selected", k === i));
  const id = state.items[i].sample.id;
  const { ok, data } = await api(`/api/items/${encodeURIComponent(id)}`);
  if (!ok) { say(data.detail, true); return; }
  render(data);
}

function render(data) {
  const s = data.sample;
  showItem(data);
  $("banner").hidden = true;
  const p = s.provenance;
  const chips = [["document", p.source.split("/").pop()], ["pages", p.pages.join(", ")], ["section", p.section],
    ["teacher", p.teacher_model], ["prompt", p.prompt_version], ["kind", s.kind], ["state", s.review],
    ["route", data.route], ["version", String(data.version)],
    ...Object.entries(s.scores).map(([k, v]) => [k, Number(v).toFixed(2)])];
  $("chips").replaceChildren(...chips.filter(([, v]) => v).map(([k, v]) => el("span", { class: "chip", title: k }, el("b", { text: k }), " ", v)));
  $("instruction").value = s.instruction;
  $("output").value = s.output;
  $("instruction").dataset.original = s.instruction;
  $("output").dataset.original = s.output;
  $("diff").hidden = true;
  const choices = $("choices");
  choices.hidden = !s.choices;
  choices.replaceChildren(...(s.choices || []).map((c, k) =>
    el("li", { class: k === s.answer_index ? "correct" : "" }, k === s.answer_index ? "✓ " : "", c)));
  $("checks").replaceChildren(...s.checks.map((c) => el("li", { class: c.ok ? "ok" : "doubt" },
    el("b", { text: `${c.ok ? "✓" : "✗"} ${c.name}` }), c.detail ? ` — ${c.detail}` : "")));
  $("checks-box").open = s.checks.some((c) => !c.ok);
  $("history").replaceChildren(...(data.history || []).map((h) => el("li", {
    text: `${new Date(h.decided_at * 1000).toLocaleString()} · ${h.reviewer} · ${h.action}${h.note ? " · " + h.note : ""}` })));
  highlight(data.chunk, s.evidence);
  $("page-buttons").replaceChildren(...p.pages.map((n) => {
    const b = el("button", { type: "button", text: String(n) });
    b.addEventListener("click", () => showPage(s, n));
    return b;
  }));
  const img = $("page");
  img.hidden = !data.pdf;
  if (!data.pdf) $("page-label").textContent = "The source PDF is not available to this server.";
  else if (p.pages.length) showPage(s, data.evidence_page || p.pages[0]);
}

// A word-level diff (longest common subsequence) of the generated text against the edit.
function diff(before, after) {
  const a = before.split(/(\s+)/), b = after.split(/(\s+)/);
  const n = a.length, m = b.length, L = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--)
    L[i][j] = a[i] === b[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { out.push(a[i]); i++; j++; }
    else if (L[i + 1][j] >= L[i][j + 1]) out.push(el("del", { text: a[i++] }));
    else out.push(el("ins", { text: b[j++] }));
  }
  while (i < n) out.push(el("del", { text: a[i++] }));
  while (j < m) out.push(el("ins", { text: b[j++] }));
  return out;
}

function showDiff() {
  const parts = [];
  for (const field of ["instruction", "output"]) {
    const before = $(field).dataset.original || "", after = $(field).value;
    if (before !== after) parts.push(el("p", {}, el("b", { text: field === "output" ? "Answer: " : "Question: " }), ...diff(before, after)));
  }
  $("diff").replaceChildren(...parts);
  $("diff").hidden = parts.length === 0;
}

async function decide(action) {
  const item = state.current;
  if (!item) return;
  const body = { action, version: item.version };
  if (action === "edit") {
    body.instruction = $("instruction").value;
    body.output = $("output").value;
  }
  if (action === "reject") body.reason = $("reason").value;
  const { status, data } = await api(`/api/items/${encodeURIComponent(item.sample.id)}/decision`, { method: "POST", body });
  if (status === 412) {
    const last = data.last ? `${data.last.reviewer} ${data.last.action}d it` : "someone changed it";
    const banner = $("banner");
    banner.textContent = `Not saved: ${last} after you opened it. Their version is shown now; decide again if you still disagree.`;
    banner.hidden = false;
    render(data.current);
    banner.hidden = false;
    return;
  }
  if (!data || status >= 400) { say(data ? data.detail : `error ${status}`, true); return; }
  await afterDecision();
  const done = { approve: "approved", edit: "edited and approved", reject: "rejected" }[action];
  say(`${done}: ${item.sample.instruction.slice(0, 40)}`);
}

async function afterDecision() {
  await loadCounts();
  await loadQueue(true);  // the decided item leaves a pending queue: the next one opens by itself
}

async function undo() {
  const { ok, data } = await api("/api/undo", { method: "POST" });
  if (!ok) { say(data.detail, true); return; }
  await loadCounts();
  await loadQueue(true);
  say(`undone: ${data.sample.instruction.slice(0, 40)} is ${data.sample.review} again`);
}

async function bulk() {
  const params = filters();
  const filter = Object.fromEntries([...params].filter(([k]) => !["sort", "order"].includes(k)));
  delete filter.state;
  const min_score = Number($("bulk-threshold").value);
  const preview = await api("/api/bulk/preview", { method: "POST", body: { filter, min_score } });
  if (!preview.ok) { say(preview.data.detail, true); return; }
  const count = preview.data.count;
  $("bulk-text").textContent = `Approve ${count} pending item(s) matching these filters with a score of at least ${min_score}?`;
  const dialog = $("bulk-dialog");
  dialog.showModal();
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "confirm") return;
    const { ok, data } = await api("/api/bulk/approve", { method: "POST", body: { filter, min_score, expected: count } });
    if (!ok) { say(data.detail, true); return; }
    await afterDecision();
    say(`bulk approved ${data.approved} item(s)`);
  }, { once: true });
}

const SHORTCUTS = {
  a: () => decide("approve"), e: () => decide("edit"), r: () => decide("reject"), z: undo,
  j: () => openItem(state.index + 1), k: () => openItem(state.index - 1),
  h: () => $("help").showModal(), f: () => $("filters").querySelector("select, input").focus(),
};

document.addEventListener("keydown", (event) => {
  const typing = event.target.closest("input, textarea, select, [contenteditable]");
  if (event.key === "Escape" && typing) { typing.blur(); return; }
  if (!event.altKey || event.ctrlKey || event.metaKey || typing) return;
  const action = SHORTCUTS[event.key.toLowerCase()] || SHORTCUTS[(event.code || "").replace("Key", "").toLowerCase()];
  if (action) { event.preventDefault(); action(); }
});

async function main() {
  const { data } = await api("/api/me");
  state.me = data;
  $("who").textContent = `${data.user} (${data.role})`;
  document.querySelectorAll(".admin-only").forEach((n) => { n.hidden = data.role !== "admin"; });
  $("reason").replaceChildren(...data.reject_reasons.map((r) => el("option", { value: r, text: r })));
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); state.offset = 0; loadQueue(); });
  $("approve").addEventListener("click", () => decide("approve"));
  $("edit").addEventListener("click", () => decide("edit"));
  $("reject").addEventListener("click", () => decide("reject"));
  $("undo").addEventListener("click", undo);
  $("next").addEventListener("click", () => openItem(state.index + 1));
  $("prev").addEventListener("click", () => openItem(state.index - 1));
  $("help-button").addEventListener("click", () => $("help").showModal());
  $("bulk-button").addEventListener("click", bulk);
  $("instruction").addEventListener("input", showDiff);
  $("output").addEventListener("input", showDiff);
  $("next-page").addEventListener("click", () => { if (state.offset + state.limit < state.total) { state.offset += state.limit; loadQueue(); } });
  $("prev-page").addEventListener("click", () => { if (state.offset > 0) { state.offset = Math.max(0, state.offset - state.limit); loadQueue(); } });
  await loadCounts();
  await loadQueue();
}

main();
