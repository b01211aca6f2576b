"use strict";
// The llmnet dashboard: plain DOM and fetch, no libraries, nothing loaded from outside this server.

const $ = (sel) => document.querySelector(sel);
const short = (s) => (s && s.length > 14 ? `${s.slice(0, 8)}…${s.slice(-4)}` : s || "");
const eth = (wei) => (Number(wei) >= 1e15 ? `${(Number(wei) / 1e18).toFixed(3)} ETH` : `${(Number(wei) / 1e9).toLocaleString()} gwei`);
const COLORS = ["#2a62d6", "#d64545", "#1f9d55", "#b7791f", "#805ad5", "#0f8b8d", "#c53f8a", "#4a5568"];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

function apiKey() {
  const key = $("#api-key").value.trim();
  localStorage.setItem("llmnet-api-key", key);
  return key;
}

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json" };
  if (options.auth) headers.Authorization = `Bearer ${apiKey()}`;
  const resp = await fetch(path, { method: options.method || "GET", headers, body: options.body && JSON.stringify(options.body) });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error((data.error && data.error.message) || data.detail || `HTTP ${resp.status}`);
  return data;
}

// ---------------------------------------------------------------- ask, watch, rank
const state = { prompt: "", llmnet: null, order: [], conversation: null };

async function ask() {
  const prompt = $("#prompt").value.trim();
  if (!prompt) { $("#ask-status").textContent = "type a question first"; return; }
  Object.assign(state, { prompt, llmnet: null, order: [], conversation: null });
  $("#stream").textContent = ""; $("#answers").replaceChildren(); $("#rank-panel").hidden = true;
  $("#rank-result").textContent = ""; $("#ask-button").disabled = true;
  $("#ask-status").textContent = `asking ${$("#k").value} respondents…`;
  try {
    await streamAnswer(prompt);
    showAnswers();
    $("#ask-status").textContent = "answered";
  } catch (err) {
    $("#ask-status").textContent = ""; $("#stream").append(el("div", { class: "error" }, err.message));
  } finally {
    $("#ask-button").disabled = false;
  }
}

async function streamAnswer(prompt) {
  const body = { model: $("#model").value, stream: true, messages: [{ role: "user", content: prompt }],
                 llmnet: { k: Number($("#k").value), rounds: 0 } };
  const resp = await fetch("/v1/chat/completions", { method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${apiKey()}` } });
  if (!resp.ok) {
    const data = await resp.json().catch(() => ({}));
    throw new Error((data.error && data.error.message) || `HTTP ${resp.status}`);
  }
  const reader = resp.body.getReader(), decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const events = buffer.split("\n\n"); buffer = events.pop();
    for (const event of events) handleEvent(event.replace(/^data: /, ""));
  }
  if (!state.llmnet) throw new Error("the stream ended without the network's receipt");
}

function handleEvent(data) {
  if (!data || data === "[DONE]") return;
  const chunk = JSON.parse(data);
  if (chunk.error) throw new Error(chunk.error.message);
  const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
  if (delta && delta.content) $("#stream").textContent += delta.content;
  if (chunk.llmnet) state.llmnet = chunk.llmnet;
}

function showAnswers() {
  const { receipt, answers } = state.llmnet;
  const cards = receipt.respondents.filter((r) => answers[r.address] !== undefined).map((r) => {
    const chosen = r.address === receipt.final_respondent;
    return el("div", { class: `card${chosen ? " chosen" : ""}`, "data-respondent": r.address },
      el("div", { class: "meta" }, `${short(r.address)} · ${r.model_id} · reputation ${r.reputation_mean} `,
        el("span", { class: "score" }, `score ${r.score ?? "–"}`), " ", chosen ? el("span", { class: "badge" }, "chosen") : ""),
      el("div", { class: "text" }, answers[r.address]));
  });
  $("#answers").replaceChildren(...cards);
  $("#ask-status").textContent = `domain ${receipt.domain} · task ${short(state.llmnet.task_id)}`;
  state.order = receipt.respondents.filter((r) => answers[r.address] !== undefined).map((r) => r.address);
  if (state.order.length >= 2) { renderRankList(); $("#rank-panel").hidden = false; }
}

function renderRankList() {
  const items = state.order.map((who, i) => el("li", { "data-respondent": who },
    el("button", { class: "up", title: "move up", onclick: () => move(i, -1) }, "↑"),
    el("button", { class: "down", title: "move down", onclick: () => move(i, 1) }, "↓"),
    el("span", { class: "meta" }, `${short(who)}: `), el("span", { class: "text" }, state.llmnet.answers[who])));
  $("#rank-list").replaceChildren(...items);
}

function move(i, step) {
  const j = i + step;
  if (j < 0 || j >= state.order.length) return;
  [state.order[i], state.order[j]] = [state.order[j], state.order[i]];
  renderRankList();
}

// Each person ranks as themselves: the API key names their account, their wallet signs the ranking
// (EIP-712) and the coordinator relays it; the chain checks the signature.
async function signRanking(request, cid, ranks) {
  const wallet = window.ethereum;  // a browser wallet (EIP-1193)
  if (!wallet) {
    const order = ranks.map((r) => r + 1).join(" ");
    const pasted = window.prompt(`No wallet in this browser. Sign as ${request.ranker} with\n` +
      `llmnet rank --conversation ${cid} --order "${order}" --sign-only\nand paste the signature:`);
    if (!pasted) throw new Error("not signed: the ranking needs your signature");
    return pasted.trim();
  }
  const accounts = (await wallet.request({ method: "eth_requestAccounts" })).map((a) => a.toLowerCase());
  if (!accounts.includes(request.ranker.toLowerCase())) {
    throw new Error(`this API key belongs to ${request.ranker}, but the wallet holds ${accounts.join(", ")}: switch account`);
  }
  return wallet.request({ method: "eth_signTypedData_v4", params: [request.ranker, JSON.stringify(request.typed_data)] });
}

async function submitRanking() {
  const out = $("#rank-result"); out.className = "result"; out.textContent = "posting to the chain…";
  $("#submit-ranking").disabled = true;
  try {
    if (state.conversation === null) {
      const posted = await api("/ui/api/conversations", { method: "POST", auth: true,
        body: { task_id: state.llmnet.task_id, prompt: state.prompt, answers: state.llmnet.answers } });
      state.conversation = posted;
    }
    const cid = state.conversation.conversation_id;
    const index = state.conversation.responses.map((r) => r.respondent.toLowerCase());
    const ranks = state.order.map((who) => index.indexOf(who.toLowerCase()));
    const request = await api(`/ui/api/conversations/${cid}/ranking-request`, { method: "POST", auth: true, body: { ranks } });
    out.textContent = `sign the ranking as ${request.ranker} in your wallet…`;
    const signature = await signRanking(request, cid, ranks);
    out.textContent = "relaying the signed ranking to the chain…";
    const done = await api(`/ui/api/conversations/${cid}/ranking`,
      { method: "POST", auth: true, body: { ranks, nonce: request.nonce, signature } });
    out.className = "result ok";
    out.textContent = `conversation ${cid} ranked on chain ${state.conversation.chain_id}: ` +
      `ranks [${done.ranking.ranks.join(", ")}] by ${done.ranking.ranker} (signed; relayed by ${done.relayer}) · tx ${done.tx_hash}`;
    out.setAttribute("data-conversation", cid);
    loadLedger();
  } catch (err) {
    out.className = "result error"; out.textContent = err.message;
  } finally {
    $("#submit-ranking").disabled = false;
  }
}

// ---------------------------------------------------------------- dataset download
function datasetLink() {
  const query = new URLSearchParams({ format: $("#dataset-format").value });
  if ($("#dataset-permissive").checked) query.set("permissive", "true");
  $("#dataset-link").setAttribute("href", `/ui/api/dataset?${query}`);
}

// ---------------------------------------------------------------- providers and reputation
async function loadProviders() {
  const rows = (await api("/ui/api/providers")).map((p) => el("tr", {},
    el("td", { title: p.address }, el("code", {}, short(p.address))), el("td", {}, p.model_id),
    el("td", {}, p.version), el("td", {}, p.licence), el("td", {}, eth(p.stake_wei)),
    el("td", {}, Object.entries(p.reputation).map(([d, r]) => `${d} ${r.mean.toFixed(2)} (n=${r.count})`).join(" · "))));
  $("#provider-table tbody").replaceChildren(...rows);
}

async function loadReputation() {
  const series = await api("/ui/api/reputation");
  const svgNS = "http://www.w3.org/2000/svg", W = 1000, H = 260, P = 30;
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`); svg.setAttribute("preserveAspectRatio", "none");
  // reputation holds between updates: steps from the first update to now
  const times = series.flatMap((s) => s.points.map((p) => p.t)), now = Date.now() / 1000;
  const t0 = Math.min(...times, now), t1 = Math.max(...times, now, t0 + 1);
  const x = (t) => P + ((t - t0) / (t1 - t0 || 1)) * (W - 2 * P), y = (m) => H - P - m * (H - 2 * P);
  for (const m of [0, 0.5, 1]) {
    const line = document.createElementNS(svgNS, "line");
    Object.entries({ x1: P, x2: W - P, y1: y(m), y2: y(m), stroke: "#d7dde6" }).forEach(([k, v]) => line.setAttribute(k, v));
    const label = document.createElementNS(svgNS, "text");
    Object.entries({ x: 2, y: y(m) + 4, "font-size": 11, fill: "#6b7a90" }).forEach(([k, v]) => label.setAttribute(k, v));
    label.textContent = m.toFixed(1); svg.append(line, label);
  }
  for (const [t, anchor] of [[t0, "start"], [t1, "end"]]) {
    const label = document.createElementNS(svgNS, "text");
    Object.entries({ x: x(t), y: H - 8, "font-size": 11, fill: "#6b7a90", "text-anchor": anchor }).forEach(([k, v]) => label.setAttribute(k, v));
    label.textContent = new Date(t * 1000).toLocaleTimeString(); svg.append(label);
  }
  const legend = [];
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    let previous = 0.5;  // a newcomer starts at 0.5
    const steps = [];
    for (const p of s.points) { steps.push(`${x(p.t)},${y(previous)}`, `${x(p.t)},${y(p.mean)}`); previous = p.mean; }
    steps.push(`${x(t1)},${y(previous)}`);
    const line = document.createElementNS(svgNS, "polyline");
    line.setAttribute("points", steps.join(" "));
    Object.entries({ fill: "none", stroke: color, "stroke-width": 2 }).forEach(([k, v]) => line.setAttribute(k, v));
    line.setAttribute("class", "series"); svg.append(line);
    legend.push(el("span", {}, el("i", { style: `background:${color}` }), `${short(s.provider)} · ${s.domain}`));
  });
  $("#chart").replaceChildren(series.length ? svg : el("p", { class: "muted" }, "no reputation updates yet"));
  $("#legend").replaceChildren(...legend);
}

// ---------------------------------------------------------------- ledger explorer
async function loadLedger() {
  // tasks are shown to their requester's key only; batches and transactions are public
  const keyed = Boolean(apiKey());
  const data = await api("/ui/api/ledger", { auth: keyed });
  $("#chain-info").textContent = `chain ${data.chain_id} · ${data.conversations} ranked conversations`;
  $("#task-note").textContent = keyed ? "" : "(enter your API key above and refresh to see them)";
  $("#task-table tbody").replaceChildren(...data.tasks.map((t) => el("tr", {},
    el("td", {}, el("code", {}, short(t.task_key))), el("td", {}, t.domain),
    el("td", t.reason ? { title: t.reason, class: "set-aside" } : {}, t.reason ? `${t.state}: ${t.reason}` : t.state),
    el("td", {}, t.chain_task_id ?? "–"), el("td", {}, t.settlement ? t.settlement.batch_id ?? "–" : "–"),
    el("td", {}, t.settlement && t.settlement.batch_id != null
      ? el("button", { class: "small", onclick: () => showProof(t.task_key) }, "prove") : ""))));
  $("#batch-table tbody").replaceChildren(...data.batches.map((b) => el("tr", {},
    el("td", {}, b.batch_id), el("td", {}, b.task_count ?? "–"), el("td", {}, b.total_fees == null ? "–" : eth(b.total_fees)),
    el("td", {}, el("code", {}, short(b.receipts_root))), el("td", {}, el("code", {}, short(b.tx_hash))))));
  $("#tx-table tbody").replaceChildren(...data.transactions.map((t) => el("tr", {},
    el("td", {}, t.block), el("td", { title: t.hash }, el("code", {}, short(t.hash))),
    el("td", {}, el("code", {}, short(t.from))), el("td", {}, t.contract || short(t.to)), el("td", {}, t.function))));
}

async function showProof(taskKey) {
  const out = $("#proof");
  try {
    const p = await api(`/ui/api/tasks/${taskKey}/proof`, { auth: true });
    out.className = `result ${p.verified_on_chain ? "ok" : "error"}`;
    out.textContent = `receipt ${p.receipt_hash} of task ${short(taskKey)} in batch ${p.batch_id} (root ${p.root}): ` +
      `proof [${p.proof.map(short).join(", ")}] — ${p.verified_on_chain ? "verified on chain" : "NOT verified"}`;
  } catch (err) {
    out.className = "result error"; out.textContent = err.message;
  }
}

const loaders = { providers: loadProviders, reputation: loadReputation, ledger: loadLedger };

function refresh(name) {
  loaders[name]().catch((err) => $(`#${name}`).append(el("p", { class: "error" }, err.message)));
}

window.addEventListener("DOMContentLoaded", () => {
  $("#api-key").value = localStorage.getItem("llmnet-api-key") || "";
  $("#ask-button").addEventListener("click", ask);
  $("#submit-ranking").addEventListener("click", submitRanking);
  $("#dataset-format").addEventListener("change", datasetLink);
  $("#dataset-permissive").addEventListener("change", datasetLink);
  datasetLink();
  document.querySelectorAll("[data-refresh]").forEach((b) => b.addEventListener("click", () => refresh(b.dataset.refresh)));
  Object.keys(loaders).forEach(refresh);
});
