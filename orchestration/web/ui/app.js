// Tasker dashboard: a small front end over the public REST API (/v1/…,
// /health/detailed) and the task event stream. No build step, no
// dependencies. Credentials live in sessionStorage only.
"use strict";

const TASK_STATES = ["pending", "initializing", "enqueuing_steps", "steps_in_process", "evaluating_results",
  "waiting_for_dependencies", "waiting_for_retry", "blocked_by_failures", "complete", "error", "cancelled",
  "resolved_manually"];
const TERMINAL = new Set(["complete", "error", "cancelled", "resolved_manually"]);
const CRED_KEY = "tasker.credential";

// ---- DOM helpers -------------------------------------------------------
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}
function stateBadge(s) { return el("span", { class: "state st-" + s, "data-state": s, text: s.replaceAll("_", " ") }); }
function fmtTime(t) { return t ? new Date(t).toLocaleString() : "—"; }
function fmtJSON(v) { return v === null || v === undefined ? "—" : JSON.stringify(v, null, 2); }
function setStatus(msg) { document.getElementById("status").textContent = msg || ""; }

// ---- credentials and API -------------------------------------------------
function credential() {
  try { return JSON.parse(sessionStorage.getItem(CRED_KEY)); } catch { return null; }
}
function authHeaders() {
  const c = credential();
  if (!c) return {};
  return c.kind === "apikey" ? { "X-API-Key": c.value } : { Authorization: "Bearer " + c.value };
}
class APIError extends Error {
  constructor(status, code, message, details) { super(message); this.status = status; this.code = code; this.details = details || []; }
}
async function api(path, opts = {}) {
  const headers = Object.assign({ Accept: "application/json" }, authHeaders());
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method: opts.method || "GET", headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body), signal: opts.signal });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const e = (data && data.error) || {};
    if (res.status === 401) needLogin(e.message);
    throw new APIError(res.status, e.code || "HTTP_" + res.status, e.message || res.statusText, e.details);
  }
  return data;
}

// followEvents reads GET /v1/tasks/{uuid}/events with fetch (so the
// credential travels in a header, API keys included) and reconnects with
// Last-Event-ID until the task ends or stop() is called.
function followEvents(taskUUID, onEvent) {
  const ctl = new AbortController();
  let lastID = "";
  let ended = false;
  (async () => {
    let delay = 500;
    while (!ctl.signal.aborted && !ended) {
      try {
        const headers = Object.assign({ Accept: "text/event-stream" }, authHeaders());
        if (lastID) headers["Last-Event-ID"] = lastID;
        const res = await fetch(`/v1/tasks/${encodeURIComponent(taskUUID)}/events`, { headers, signal: ctl.signal });
        if (!res.ok) throw new Error("event stream: HTTP " + res.status);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let type = "message", data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("event:")) type = line.slice(6).trim();
              else if (line.startsWith("data:")) data += line.slice(5).trim();
              else if (line.startsWith("id:")) lastID = line.slice(3).trim();
            }
            if (!data) continue;
            if (type === "end") ended = true;
            try { onEvent(type, JSON.parse(data)); } catch (err) { console.error(err); }
          }
        }
        delay = 500;
      } catch (err) {
        if (ctl.signal.aborted) return;
        console.warn(err);
        delay = Math.min(delay * 2, 10000);
      }
      if (!ended && !ctl.signal.aborted) await new Promise((r) => setTimeout(r, delay));
    }
  })();
  return () => ctl.abort();
}

// ---- permissions ---------------------------------------------------------
// whoami is what the credential grants (GET /v1/auth/whoami), read once per
// sign-in; the pages offer only what it allows. A server without the
// endpoint is taken to allow everything (its refusals still show).
let whoami = null;
async function loadWhoami() {
  if (whoami) return whoami;
  try {
    whoami = await api("/v1/auth/whoami");
  } catch (err) {
    if (err.status === 401) throw err;
    whoami = { auth_enabled: false, permissions: ["tasks:*", "steps:*", "dlq:*", "templates:*", "system:*", "worker:*"] };
  }
  return whoami;
}
// can reports whether the credential grants a permission, directly or by
// its resource wildcard ("tasks:*").
function can(perm) {
  if (!whoami) return true;
  const res = perm.split(":")[0];
  return whoami.permissions.some((g) => g === perm || g === res + ":*");
}
function notAllowed(what, perm) {
  return el("p", { class: "muted notallowed", "data-needs": perm, text: `Your credential does not allow ${what} (${perm}).` });
}

// ---- login -------------------------------------------------------------
let loginShown = false;
function needLogin(message) {
  if (loginShown) return;
  loginShown = true;
  cleanup();
  const main = document.getElementById("main");
  const err = el("p", { class: "error", role: "alert", text: credential() ? "The credential was refused: " + (message || "") : "" });
  const kind = el("select", { id: "cred-kind", name: "kind" },
    el("option", { value: "token", text: "JWT bearer token" }), el("option", { value: "apikey", text: "API key" }));
  const value = el("input", { id: "cred-value", name: "value", type: "password", required: true, autocomplete: "off" });
  main.replaceChildren(el("h1", { text: "Sign in" }),
    el("p", { text: "Authentication is on. Give a token or API key; the dashboard keeps it in this tab only (sessionStorage) and sends it with each API call." }),
    err,
    el("form", { class: "login", onsubmit: (e) => {
      e.preventDefault();
      sessionStorage.setItem(CRED_KEY, JSON.stringify({ kind: kind.value, value: value.value.trim() }));
      loginShown = false;
      whoami = null;
      route();
    } },
    el("div", {}, el("label", { for: "cred-kind", text: "Credential type" }), kind),
    el("div", {}, el("label", { for: "cred-value", text: "Token or key" }), value),
    el("button", { type: "submit", class: "primary", text: "Sign in" })));
  value.focus();
}

// ---- routing -----------------------------------------------------------
let cleanups = [];
function cleanup() { for (const f of cleanups) f(); cleanups = []; }
function every(ms, f) { const id = setInterval(f, ms); cleanups.push(() => clearInterval(id)); }

function parseHash() {
  const h = location.hash.replace(/^#/, "") || "/";
  const [path, query] = h.split("?");
  return { parts: path.split("/").filter(Boolean), params: new URLSearchParams(query || "") };
}

async function route() {
  cleanup();
  loginShown = false;
  setStatus("");
  document.getElementById("signout").hidden = !credential();
  const { parts, params } = parseHash();
  const main = document.getElementById("main");
  const page = ["tasks", "dlq", "templates"].includes(parts[0]) ? parts[0] : "overview";
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === page && parts.length < 2) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  try {
    await loadWhoami();
    const navPerm = { tasks: "tasks:list", dlq: "dlq:read", templates: "templates:read" };
    for (const a of document.querySelectorAll("[data-nav]")) a.hidden = !!navPerm[a.dataset.nav] && !can(navPerm[a.dataset.nav]);
    const who = document.getElementById("whoami");
    who.textContent = whoami.auth_enabled && whoami.subject ? "Signed in as " + whoami.subject : "";
    if (parts[0] === "tasks" && parts[1]) await taskPage(main, parts[1]);
    else if (parts[0] === "tasks") await tasksPage(main, params);
    else if (parts[0] === "dlq" && parts[1]) await dlqEntryPage(main, parts[1]);
    else if (parts[0] === "dlq") await dlqPage(main, params);
    else if (parts[0] === "templates" && parts.length >= 4) await templatePage(main, parts.slice(1, 4).map(decodeURIComponent));
    else if (parts[0] === "templates") await templatesPage(main);
    else await overviewPage(main);
  } catch (err) {
    if (err instanceof APIError && err.status === 401) return;
    main.replaceChildren(el("h1", { text: "Something went wrong" }), el("p", { class: "error", role: "alert", text: err.message }));
  }
}

// ---- task list -----------------------------------------------------------
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// localInput turns an ISO time into a datetime-local field's value.
function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return "";
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
const LIST_FILTERS = ["namespace", "name", "state", "initiator", "created_from", "created_to", "correlation_id"];

async function tasksPage(main, params) {
  document.title = "Tasks · Tasker";
  const field = (id, label, input) => el("div", {}, el("label", { for: id, text: label }), input);
  const ns = el("input", { id: "f-namespace", name: "namespace", value: params.get("namespace") || "" });
  const name = el("input", { id: "f-name", name: "name", value: params.get("name") || "" });
  const initiator = el("input", { id: "f-initiator", name: "initiator", value: params.get("initiator") || "" });
  const from = el("input", { id: "f-from", name: "created_from", type: "datetime-local", value: localInput(params.get("created_from")) });
  const to = el("input", { id: "f-to", name: "created_to", type: "datetime-local", value: localInput(params.get("created_to")) });
  const st = el("select", { id: "f-state", name: "state" }, el("option", { value: "", text: "any" }),
    ...TASK_STATES.map((s) => el("option", { value: s, text: s.replaceAll("_", " "), selected: params.get("state") === s })));
  const go = (cursor) => {
    const q = new URLSearchParams();
    if (ns.value.trim()) q.set("namespace", ns.value.trim());
    if (name.value.trim()) q.set("name", name.value.trim());
    if (st.value) q.set("state", st.value);
    if (initiator.value.trim()) q.set("initiator", initiator.value.trim());
    if (from.value) q.set("created_from", new Date(from.value).toISOString());
    if (to.value) q.set("created_to", new Date(to.value).toISOString());
    if (params.get("correlation_id")) q.set("correlation_id", params.get("correlation_id"));
    if (cursor) q.set("cursor", cursor);
    location.hash = "#/tasks" + (q.toString() ? "?" + q : "");
  };
  const search = el("input", { id: "f-uuid", name: "uuid", placeholder: "task UUID or correlation id", autocomplete: "off" });
  const searchErr = el("p", { class: "error", id: "search-error", role: "alert" });
  const rows = el("tbody", { id: "task-rows" });
  const pager = el("div", { class: "pager" });
  const corr = params.get("correlation_id");
  main.replaceChildren(el("h1", { text: "Tasks" }),
    el("form", { class: "filters", role: "search", "aria-label": "Find a task by UUID or correlation id", onsubmit: async (e) => {
      e.preventDefault();
      const v = search.value.trim();
      searchErr.textContent = "";
      if (!UUID_RE.test(v)) { searchErr.textContent = "Give a task UUID or a correlation id (a UUID)."; search.focus(); return; }
      // A task UUID opens the task; otherwise it is a correlation id.
      try {
        await api("/v1/tasks/" + v);
        location.hash = "#/tasks/" + v;
      } catch (err) {
        if (err.status !== 404) { searchErr.textContent = err.message; return; }
        location.hash = "#/tasks?correlation_id=" + encodeURIComponent(v);
      }
    } }, field("f-uuid", "Task UUID or correlation id", search), el("button", { type: "submit", id: "f-open", text: "Find" }), searchErr),
    el("form", { class: "filters", id: "filters", "aria-label": "Filter tasks", onsubmit: (e) => { e.preventDefault(); go(""); } },
      field("f-namespace", "Namespace", ns), field("f-name", "Template name", name), field("f-state", "State", st),
      field("f-initiator", "Initiator", initiator), field("f-from", "Created from", from), field("f-to", "Created before", to),
      el("button", { type: "submit", class: "primary", id: "f-apply", text: "Filter" })),
    corr ? el("p", { id: "corr-filter" }, `Tasks with correlation id ${corr} · `,
      el("a", { href: "#/tasks", text: "show all" })) : null,
    el("div", { class: "table-wrap" }, el("table", {},
      el("caption", { class: "muted", id: "task-count" }),
      el("thead", {}, el("tr", {}, el("th", { text: "Task" }), el("th", { text: "Namespace / name" }), el("th", { text: "State" }),
        el("th", { text: "Steps" }), el("th", { class: "hide-sm", text: "Initiator" }), el("th", { class: "hide-sm", text: "Requested" }))), rows)), pager);
  main.focus();
  // The list is read by cursor: every page costs the same however deep,
  // and the count stops at 10,000.
  const q = new URLSearchParams({ per_page: "25", count: "capped" });
  const map = { state: "status" };
  for (const k of LIST_FILTERS) if (params.get(k)) q.set(map[k] || k, params.get(k));
  if (params.get("cursor")) q.set("cursor", params.get("cursor"));
  const r = await api("/v1/tasks?" + q);
  const p = r.pagination;
  document.getElementById("task-count").textContent = p.total_count_capped
    ? `more than ${p.total_count.toLocaleString()} tasks` : `${p.total_count.toLocaleString()} tasks`;
  rows.replaceChildren(...r.tasks.map((t) => el("tr", { "data-task": t.task_uuid },
    el("td", {}, el("a", { href: "#/tasks/" + t.task_uuid, text: "…" + t.task_uuid.slice(-12), "aria-label": "task " + t.task_uuid })),
    el("td", { text: `${t.namespace} / ${t.name} ${t.version}` }),
    el("td", {}, stateBadge(t.status)),
    el("td", { text: `${t.completed_steps}/${t.total_steps}` }),
    el("td", { class: "hide-sm", text: t.initiator || "—" }),
    el("td", { class: "hide-sm", text: fmtTime(t.requested_at) }))));
  if (!r.tasks.length) rows.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No tasks match." })));
  pager.replaceChildren(
    el("button", { type: "button", id: "page-prev", disabled: !p.previous_cursor, onclick: () => go(p.previous_cursor), text: "← Newer" }),
    el("button", { type: "button", id: "page-next", disabled: !p.next_cursor, onclick: () => go(p.next_cursor), text: "Older →" }));
}

// ---- one task ------------------------------------------------------------
// layout places each step in the column of its longest path from a root.
function layout(steps) {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const depth = new Map();
  const visiting = new Set();
  const d = (s) => {
    if (depth.has(s.name)) return depth.get(s.name);
    if (visiting.has(s.name)) return 0;
    visiting.add(s.name);
    let v = 0;
    for (const p of s.dependencies || []) if (byName.has(p)) v = Math.max(v, d(byName.get(p)) + 1);
    visiting.delete(s.name);
    depth.set(s.name, v);
    return v;
  };
  const cols = [];
  // Task steps by creation; template steps keep their order.
  const byCreation = (a, b) => !a.created_at || !b.created_at ? 0
    : a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.name.localeCompare(b.name);
  for (const s of [...steps].sort(byCreation)) {
    const c = d(s);
    (cols[c] = cols[c] || []).push(s);
  }
  const W = 180, H = 46, GX = 50, GY = 18, PAD = 12;
  const pos = new Map();
  const rowsMax = Math.max(1, ...cols.map((c) => (c ? c.length : 0)));
  cols.forEach((col, ci) => (col || []).forEach((s, ri) => {
    const offset = (rowsMax - col.length) * (H + GY) / 2;
    pos.set(s.name, { x: PAD + ci * (W + GX), y: PAD + offset + ri * (H + GY) });
  }));
  return { pos, W, H, width: PAD * 2 + cols.length * (W + GX) - GX, height: PAD * 2 + rowsMax * (H + GY) - GY };
}

function drawDAG(container, steps) {
  const { pos, W, H, width, height } = layout(steps);
  const root = svg("svg", { width: Math.max(width, 10), height: Math.max(height, 10), viewBox: `0 0 ${Math.max(width, 10)} ${Math.max(height, 10)}`,
    role: "img", "aria-labelledby": "dag-title" });
  root.append(svg("title", { id: "dag-title" }, document.createTextNode(
    "Step graph: " + steps.map((s) => `${s.name} ${s.current_state || s.sub || ""}`).join(", "))));
  root.append(svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto" },
    svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }))));
  for (const s of steps) for (const p of s.dependencies || []) {
    const a = pos.get(p), b = pos.get(s.name);
    if (!a || !b) continue;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
    root.append(svg("path", { class: "edge", d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, "marker-end": "url(#arrow)",
      "data-edge": `${p}->${s.name}` }));
  }
  for (const s of steps) {
    const p = pos.get(s.name);
    const label = s.name.length > 24 ? s.name.slice(0, 23) + "…" : s.name;
    const sub = s.current_state ? s.current_state.replaceAll("_", " ") : (s.sub || "");
    const g = svg("g", { class: "node st-" + (s.current_state || "template"), "data-step": s.name, "data-state": s.current_state || "",
      transform: `translate(${p.x},${p.y})` },
    svg("title", {}, document.createTextNode(`${s.name}: ${sub}`)),
    svg("rect", { width: W, height: H, rx: 6 }),
    svg("text", { x: 8, y: 18 }, document.createTextNode(label)),
    svg("text", { x: 8, y: 36, class: "s" }, document.createTextNode(sub.length > 28 ? sub.slice(0, 27) + "…" : sub)));
    root.append(g);
  }
  container.replaceChildren(root);
}

async function taskPage(main, uuid) {
  document.title = "Task · Tasker";
  let task = await api("/v1/tasks/" + encodeURIComponent(uuid));
  const head = el("div", {});
  const dag = el("div", { class: "dag", id: "dag" });
  const stepsBody = el("tbody", { id: "step-rows" });
  const timeline = el("ol", { class: "timeline", id: "timeline", "aria-live": "off" });
  const ctx = el("pre", { id: "task-context" });
  main.replaceChildren(head, el("h2", { text: "Graph" }), dag,
    el("h2", { text: "Steps" }),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { text: "Step" }), el("th", { text: "State" }), el("th", { text: "Attempts" }),
        el("th", { text: "Result / error" }), el("th", { text: "Actions" }))), stepsBody)),
    el("h2", { text: "Timeline" }), timeline,
    el("h2", { text: "Context" }), ctx);
  main.focus();

  // render redraws only when the task changed, so that keyboard focus
  // stays where it is while nothing moves.
  let shown = "";
  const render = () => {
    const key = JSON.stringify(task);
    if (key === shown) return;
    shown = key;
    head.replaceChildren(
      el("h1", {}, `${task.namespace} / ${task.name} `, stateBadge(task.status)),
      el("dl", { class: "meta" },
        el("dt", { text: "Task" }), el("dd", { text: task.task_uuid }),
        el("dt", { text: "Version" }), el("dd", { text: task.version }),
        el("dt", { text: "Progress" }), el("dd", { id: "task-progress", text: `${task.completed_steps}/${task.total_steps} steps complete · ${task.execution_status}` }),
        el("dt", { text: "Requested" }), el("dd", { text: fmtTime(task.requested_at) + (task.initiator ? " by " + task.initiator : "") }),
        el("dt", { text: "Correlation id" }), el("dd", { text: task.correlation_id })),
      el("div", { class: "actions" }, can("dlq:read") ? el("a", { href: "#/dlq/" + task.task_uuid, id: "task-dlq", text: "Investigations (DLQ)" }) : null,
        TERMINAL.has(task.status) || !can("tasks:cancel") ? null :
        el("button", { type: "button", class: "danger", id: "cancel-task", text: "Cancel task",
          onclick: () => confirmAction({ title: "Cancel this task?", text: "Its unfinished steps are cancelled.", run: (reason) =>
            api(`/v1/tasks/${task.task_uuid}?reason=${encodeURIComponent(reason)}`, { method: "DELETE" }) }) })));
    drawDAG(dag, task.steps);
    stepsBody.replaceChildren(...task.steps.map((s) => {
      const canFix = s.current_state === "error" && can("steps:resolve");
      const act = (type, title, extra) => el("button", { type: "button", "data-action": type, "data-for": s.name, text: title,
        onclick: () => confirmAction({ title: `${title}: ${s.name}?`, text: extra, withResult: type === "complete_manually",
          run: (reason, result) => {
            const body = { action_type: type, reason };
            if (type === "reset_for_retry") body.reset_by = "dashboard";
            if (type === "resolve_manually") body.resolved_by = "dashboard";
            if (type === "complete_manually") { body.completed_by = "dashboard"; body.completion_data = { result }; }
            return api(`/v1/tasks/${task.task_uuid}/workflow_steps/${s.step_uuid}`, { method: "PATCH", body });
          } }) });
      const r = s.results;
      const err = r && r.error ? (r.error.message || fmtJSON(r.error)) : null;
      return el("tr", { "data-step-row": s.name },
        el("td", { text: s.name }), el("td", {}, stateBadge(s.current_state)),
        el("td", { text: `${s.attempts}/${s.max_attempts}` + (s.next_retry_at ? ` · next retry ${s.next_retry_at}` : "") }),
        el("td", {}, err ? el("p", { class: "error", text: err }) : null, r ? el("pre", { text: fmtJSON(r.result !== undefined ? r.result : r) }) : el("span", { class: "muted", text: "—" })),
        el("td", {}, canFix ? el("div", { class: "actions" },
          act("reset_for_retry", "Reset", "The step runs again with its attempts cleared."),
          act("resolve_manually", "Resolve", "The step counts as resolved; its dependents run."),
          act("complete_manually", "Complete", "The step completes with the result you give; its dependents run.")) : null));
    }));
    ctx.textContent = fmtJSON(task.context);
  };
  render();

  // refetch reads the whole task shortly after events settle; answers that
  // arrive out of order are dropped, so an older read never wins.
  let refetchTimer = null, asked = 0, applied = 0;
  const refetch = () => {
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(async () => {
      const n = ++asked;
      try {
        const fresh = await api("/v1/tasks/" + encodeURIComponent(uuid));
        if (n < applied) return;
        applied = n;
        task = fresh;
        render();
      } catch (e) { setStatus(e.message); }
    }, 150);
  };
  cleanups.push(() => clearTimeout(refetchTimer));
  // A stream ends with the task; an operator action can bring the task
  // back to life, so after one the page follows it again from the start.
  let stop = () => {};
  const follow = () => {
    stop();
    timeline.replaceChildren();
    stop = followEvents(task.task_uuid, (type, ev) => {
      if (type === "task" || type === "step") {
        timeline.append(el("li", {}, el("time", { datetime: ev.at, text: new Date(ev.at).toLocaleTimeString() }),
          type === "step" ? `step ${ev.step_name}: ` : "task: ", `${ev.from_state || "—"} → ${ev.to_state} (${ev.event})`));
        if (type === "task") task.status = ev.to_state;
        if (type === "step") {
          const s = task.steps.find((x) => x.step_uuid === ev.step_uuid);
          if (!s) { refetch(); return; } // a step created while the task runs
          s.current_state = ev.to_state;
        }
        render();
        refetch(); // results, attempts and counts
      } else if (type === "end") {
        refetch();
      }
    });
  };
  afterAction = () => { refetch(); follow(); };
  follow();
  cleanups.push(() => { stop(); afterAction = null; });
}

// afterAction is what the page does once an operator action succeeded.
let afterAction = null;

// confirmAction asks for a reason (and a result) in a dialog, then runs.
function confirmAction({ title, text, withResult, run }) {
  const dlg = document.getElementById("confirm");
  const reason = document.getElementById("confirm-reason");
  const result = document.getElementById("confirm-result");
  const errP = document.getElementById("confirm-error");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text || "";
  document.getElementById("confirm-result-wrap").hidden = !withResult;
  reason.value = "";
  errP.textContent = "";
  const form = document.getElementById("confirm-form");
  form.onsubmit = async (e) => {
    e.preventDefault();
    if (!reason.value.trim()) { errP.textContent = "Give a reason."; reason.focus(); return; }
    let value;
    if (withResult) {
      try { value = JSON.parse(result.value); } catch { errP.textContent = "The result is not valid JSON."; result.focus(); return; }
    }
    try {
      await run(reason.value.trim(), value);
      dlg.close();
      setStatus("Done: " + title.replace(/\?$/, ""));
      if (afterAction) afterAction();
    } catch (err) {
      errP.textContent = err.message;
    }
  };
  document.getElementById("confirm-cancel").onclick = () => dlg.close();
  dlg.showModal();
  reason.focus();
}

document.getElementById("signout").addEventListener("click", () => { sessionStorage.removeItem(CRED_KEY); whoami = null; route(); });
window.addEventListener("hashchange", route);
route();
