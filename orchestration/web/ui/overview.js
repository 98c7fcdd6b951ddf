// Tasker dashboard: the overview. One call (GET /v1/analytics/overview)
// gives the counts, the time buckets and the workers; /health/detailed the
// queues; /v1/dlq/stats the dead letter queue. Live series (open tasks
// per state, queue depths) are sampled at each refresh while the tab is
// open.
"use strict";

const WINDOWS = {
  "15m": { minutes: 15, bucket: 30, label: "15 minutes" },
  "1h": { minutes: 60, bucket: 60, label: "1 hour" },
  "6h": { minutes: 360, bucket: 300, label: "6 hours" },
  "24h": { minutes: 1440, bucket: 1800, label: "24 hours" },
};
const LIVE_MAX = 120; // samples kept: 10 minutes at one every 5 s
const live = { times: [], states: [], queues: [] };

function sample(list, v) {
  list.push(v);
  if (list.length > LIVE_MAX) list.shift();
}

async function overviewPage(main, params) {
  document.title = "Overview · Tasker";
  params = params || parseHash().params;
  const win = WINDOWS[params.get("window")] ? params.get("window") : "1h";
  const w = WINDOWS[win];
  const health = el("p", { id: "health" });
  const states = el("div", { class: "cards", id: "task-states" });
  const charts = el("div", { class: "charts", id: "charts" });
  const queues = el("tbody", { id: "queues" });
  const queueChart = el("div", { id: "queue-chart" });
  const dlq = el("div", { class: "cards", id: "dlq" });
  const workers = el("tbody", { id: "workers" });
  const workersTotal = el("p", { id: "workers-total" });
  const pick = el("select", { id: "window", "aria-label": "Time window",
    onchange: () => { location.hash = "#/?window=" + pick.value; } },
  ...Object.entries(WINDOWS).map(([k, v]) => el("option", { value: k, text: "last " + v.label, selected: k === win })));
  const analytics = can("system:analytics_read"), sys = can("system:read"), dlqStats = can("dlq:stats");
  main.replaceChildren(el("h1", { text: "Overview" }), health,
    el("h2", { text: "Tasks per state" }),
    analytics ? states : notAllowed("the task counts and charts", "system:analytics_read"),
    analytics ? el("div", { class: "window" }, el("label", { for: "window", text: "Charts over the" }), pick) : null,
    analytics ? charts : null,
    el("h2", { text: "Queues" }),
    sys ? el("div", {}, el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { text: "Queue" }), el("th", { text: "Depth" }), el("th", { text: "Visible" }),
        el("th", { text: "Oldest message (s)" }), el("th", { text: "Status" }))), queues)), queueChart)
      : notAllowed("the queues", "system:read"),
    el("h2", { text: "Workers" }),
    analytics ? el("div", {}, workersTotal, el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { text: "Worker" }), el("th", { text: "Namespaces" }),
        el("th", { text: "Steps in progress / capacity" }), el("th", { class: "hide-sm", text: "Last seen" }))), workers)))
      : notAllowed("the workers", "system:analytics_read"),
    el("h2", {}, "Dead letter queue ", can("dlq:read") ? el("a", { href: "#/dlq", class: "small", text: "(entries)" }) : null),
    dlqStats ? dlq : notAllowed("the DLQ figures", "dlq:stats"));
  main.focus();

  const refresh = async () => {
    const now = new Date().toISOString();
    const [o, h, stats] = await Promise.all([
      analytics ? api(`/v1/analytics/overview?minutes=${w.minutes}&bucket_seconds=${w.bucket}`) : null,
      sys ? api("/health/detailed").catch((err) => { if (err.status === 401) throw err; return err; }) : null,
      dlqStats ? api("/v1/dlq/stats").catch((err) => { if (err.status === 401) throw err; return err; }) : null,
    ]);
    sample(live.times, now);
    if (o) {
      sample(live.states, o.tasks_by_state);
      drawOverview(o, states, charts, workers, workersTotal);
    }
    if (h instanceof Error) health.textContent = "Health: " + h.message;
    else if (h) {
      health.replaceChildren("System status: ", stateBadge(h.status), ` · version ${h.version} · leader: ${h.leader ? "yes" : "no"}`);
      const qs = h.queues || [];
      sample(live.queues, Object.fromEntries(qs.map((q) => [q.queue, q.depth])));
      queues.replaceChildren(...qs.map((q) => el("tr", { "data-queue": q.queue },
        el("td", { text: q.queue }), el("td", { text: String(q.depth) }), el("td", { text: String(q.visible) }),
        el("td", { text: q.oldest_message_age_seconds.toFixed(1) }), el("td", { text: q.status }))));
      if (!qs.length) queues.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "muted", text: "No queues yet." })));
      const names = [...new Set(live.queues.flatMap((s) => Object.keys(s)))].sort();
      queueChart.replaceChildren(lineChart({ id: "chart-queues", title: "Queue depth, live (sampled every 5 s while this page is open)",
        times: live.times.slice(-live.queues.length), series: names.map((q, i) => ({ name: q, cls: i % 6, values: live.queues.map((s) => s[q] ?? null) })) }));
    }
    if (stats instanceof Error) dlq.textContent = "DLQ: " + stats.message;
    else if (stats) {
      let total = 0, pending = 0;
      for (const s of stats || []) { total += s.total_entries; pending += s.pending; }
      dlq.replaceChildren(
        el("a", { class: "card", id: "dlq-total", href: "#/dlq" }, el("div", { class: "n", text: String(total) }), el("div", { class: "l", text: "entries" })),
        el("a", { class: "card", id: "dlq-pending", href: "#/dlq?status=pending" }, el("div", { class: "n", text: String(pending) }), el("div", { class: "l", text: "pending investigation" })));
    }
  };
  await refresh();
  every(5000, () => refresh().catch((e) => setStatus(e.message)));
}

function drawOverview(o, states, charts, workers, workersTotal) {
  states.replaceChildren(...TASK_STATES.map((s) => el("a", { class: "card", href: `#/tasks?state=${s}`, "data-count-state": s },
    el("div", { class: "n", text: String(o.tasks_by_state[s] || 0) }), el("div", { class: "l" }, stateBadge(s)))));
  const times = o.buckets.map((b) => b.start);
  const per = o.bucket_seconds >= 60 ? `per ${o.bucket_seconds / 60} min` : `per ${o.bucket_seconds} s`;
  const openStates = TASK_STATES.filter((s) => !TERMINAL.has(s) && live.states.some((c) => c[s] > 0));
  charts.replaceChildren(
    lineChart({ id: "chart-throughput", title: `Tasks created and finished, ${per}`, times, series: [
      { name: "created", cls: 0, values: o.buckets.map((b) => b.created) },
      { name: "completed", cls: 1, values: o.buckets.map((b) => b.completed) },
      { name: "failed", cls: 2, values: o.buckets.map((b) => b.failed) },
      { name: "cancelled", cls: 3, values: o.buckets.map((b) => b.cancelled) }] }),
    lineChart({ id: "chart-latency", title: "Latency of completed tasks, creation to completion", unit: "s", times, series: [
      { name: "p50", cls: 0, values: o.buckets.map((b) => b.latency_p50_seconds) },
      { name: "p95", cls: 2, values: o.buckets.map((b) => b.latency_p95_seconds) }] }),
    lineChart({ id: "chart-open", title: "Open tasks", times, series: [
      { name: "open", cls: 0, values: o.buckets.map((b) => b.open_at_end) }] }),
    lineChart({ id: "chart-states", title: "Open tasks per state, live (sampled every 5 s while this page is open)",
      times: live.times.slice(-live.states.length),
      series: openStates.map((s, i) => ({ name: s.replaceAll("_", " "), cls: i % 6, values: live.states.map((c) => c[s] || 0) })) }));
  workers.replaceChildren(...o.workers.map((w) => el("tr", { "data-worker": w.worker_id },
    el("td", { text: w.worker_id }), el("td", { text: w.namespaces.join(", ") }),
    el("td", { "data-saturation": w.saturation ?? "" }, saturationBar(w.in_progress_steps, w.capacity, w.saturation),
      w.concurrency_limit != null && w.capacity != null && w.concurrency_limit < w.capacity
        ? el("span", { class: "small muted", text: ` (limit now ${w.concurrency_limit})` }) : null),
    el("td", { class: "hide-sm", text: fmtTime(w.last_seen_at) }))));
  if (!o.workers.length) workers.replaceChildren(el("tr", {}, el("td", { colspan: 4, class: "muted", text: "No live workers." })));
  workersTotal.replaceChildren(...(o.worker_saturation == null ? [] : [
    "All workers: ", saturationBar(o.worker_in_progress_steps, o.worker_capacity, o.worker_saturation), " handler slots busy"]));
  workersTotal.dataset.saturation = o.worker_saturation ?? "";
}

// saturationBar shows steps in progress against a capacity: a meter
// (green, then amber from 70 %, red from 90 %) and the same in words, so
// the colour is never the only cue. Without a capacity (a worker that does
// not report it) it shows the count alone.
function saturationBar(inProgress, capacity, saturation) {
  if (capacity == null || saturation == null) return el("span", { class: "saturation", text: `${inProgress} (capacity unknown)` });
  const pct = Math.round(saturation * 100);
  return el("span", { class: "saturation" },
    el("meter", { min: 0, max: 1, low: 0.7, high: 0.9, optimum: 0, value: Math.min(1, saturation), "aria-hidden": "true" }),
    el("span", { class: "saturation-text", text: ` ${inProgress}/${capacity} (${pct}%)` }));
}
