// Tasker dashboard: the dead letter queue. GET /v1/dlq lists entries; an
// entry's page shows the task's investigations (GET /v1/dlq?task_uuid=),
// the newest first, and updates it (PATCH /v1/dlq/entry/{uuid}).
"use strict";

const DLQ_STATUSES = ["pending", "manually_resolved", "permanently_failed", "cancelled"];
// snake spells a DLQ value as the requests do ("ManuallyResolved" →
// "manually_resolved").
function snake(v) { return String(v || "").replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase(); }
function dlqBadge(status) {
  const s = snake(status);
  const cls = { pending: "error", manually_resolved: "complete", permanently_failed: "cancelled", cancelled: "cancelled" }[s] || "pending";
  return el("span", { class: "state st-" + cls, "data-status": s, text: s.replaceAll("_", " ") });
}

async function dlqPage(main, params) {
  document.title = "Dead letter queue · Tasker";
  if (!can("dlq:read")) { main.replaceChildren(el("h1", { text: "Dead letter queue" }), notAllowed("the DLQ", "dlq:read")); return; }
  const status = DLQ_STATUSES.includes(params.get("status")) ? params.get("status") : "";
  const offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
  const limit = 50;
  const pick = el("select", { id: "dlq-status", name: "status" }, el("option", { value: "", text: "any" }),
    ...DLQ_STATUSES.map((s) => el("option", { value: s, text: s.replaceAll("_", " "), selected: s === status })));
  const go = (off) => {
    const q = new URLSearchParams();
    if (pick.value) q.set("status", pick.value);
    if (off > 0) q.set("offset", String(off));
    location.hash = "#/dlq" + (q.toString() ? "?" + q : "");
  };
  const rows = el("tbody", { id: "dlq-rows" });
  const pager = el("div", { class: "pager" });
  main.replaceChildren(el("h1", { text: "Dead letter queue" }),
    el("p", { class: "muted", text: "Tasks that got stuck, each with an investigation record. Fix the task's steps from its page, then record the outcome here." }),
    el("form", { class: "filters", "aria-label": "Filter entries", onsubmit: (e) => { e.preventDefault(); go(0); } },
      el("div", {}, el("label", { for: "dlq-status", text: "Resolution status" }), pick),
      el("button", { type: "submit", class: "primary", id: "dlq-apply", text: "Filter" })),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { text: "Task" }), el("th", { text: "Reason" }), el("th", { class: "hide-sm", text: "State then" }),
        el("th", { text: "Status" }), el("th", { class: "hide-sm", text: "Since" }))), rows)), pager);
  main.focus();
  const q = new URLSearchParams({ limit: String(limit + 1), offset: String(offset) });
  if (status) q.set("resolution_status", status);
  const entries = await api("/v1/dlq?" + q);
  const more = entries.length > limit;
  rows.replaceChildren(...entries.slice(0, limit).map((e) => el("tr", { "data-dlq": e.dlq_entry_uuid, "data-task": e.task_uuid },
    el("td", {}, el("a", { href: "#/dlq/" + e.task_uuid, text: "…" + e.task_uuid.slice(-12), "aria-label": "investigation of task " + e.task_uuid })),
    el("td", { text: e.dlq_reason }), el("td", { class: "hide-sm", text: e.original_state }),
    el("td", {}, dlqBadge(e.resolution_status)), el("td", { class: "hide-sm", text: fmtTime(e.dlq_timestamp) }))));
  if (!entries.length) rows.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "muted", text: "No entries." })));
  pager.replaceChildren(
    el("button", { type: "button", disabled: offset === 0, onclick: () => go(Math.max(0, offset - limit)), text: "← Previous" }),
    el("button", { type: "button", disabled: !more, onclick: () => go(offset + limit), text: "Next →" }));
}

async function dlqEntryPage(main, taskUUID) {
  document.title = "Investigation · Tasker";
  if (!can("dlq:read")) { main.replaceChildren(el("h1", { text: "Investigation" }), notAllowed("the DLQ", "dlq:read")); return; }
  const entries = await api("/v1/dlq?task_uuid=" + encodeURIComponent(taskUUID) + "&limit=100");
  const head = el("h1", {}, "Investigation of task …" + taskUUID.slice(-12));
  if (!entries.length) {
    main.replaceChildren(head, el("p", { id: "dlq-none", text: "This task has no DLQ entries." }),
      el("p", {}, el("a", { href: "#/tasks/" + taskUUID, text: "Open the task" })));
    main.focus();
    return;
  }
  const e = entries[0];
  const dl = (pairs) => el("dl", { class: "meta" }, ...pairs.flatMap(([k, v, id]) => [el("dt", { text: k }), el("dd", { id, text: v ?? "—" })]));
  const form = can("dlq:update") ? dlqForm(e) : notAllowed("updating an investigation", "dlq:update");
  main.replaceChildren(head,
    el("p", {}, el("a", { href: "#/tasks/" + taskUUID, text: "Open the task" }), " to fix its steps first."),
    el("div", { id: "dlq-current" }, el("p", {}, dlqBadge(e.resolution_status)),
      dl([["Entry", e.dlq_entry_uuid], ["Reason", e.dlq_reason], ["Task state then", e.original_state],
        ["In the DLQ since", fmtTime(e.dlq_timestamp)], ["Resolved at", e.resolution_timestamp ? fmtTime(e.resolution_timestamp) : null],
        ["Resolved by", e.resolved_by, "dlq-resolved-by"], ["Notes", e.resolution_notes, "dlq-notes"]])),
    el("h2", { text: "Update the investigation" }), form,
    el("h2", { text: "Metadata" }), el("pre", { id: "dlq-metadata", text: fmtJSON(e.metadata) }),
    el("h2", { text: "Earlier investigations of this task" }),
    entries.length > 1 ? el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { text: "Since" }), el("th", { text: "Reason" }), el("th", { text: "Status" }),
        el("th", { text: "Resolved by" }), el("th", { text: "Notes" }))),
      el("tbody", { id: "dlq-history" }, ...entries.slice(1).map((h) => el("tr", { "data-dlq": h.dlq_entry_uuid },
        el("td", { text: fmtTime(h.dlq_timestamp) }), el("td", { text: h.dlq_reason }), el("td", {}, dlqBadge(h.resolution_status)),
        el("td", { text: h.resolved_by || "—" }), el("td", { text: h.resolution_notes || "—" }))))))
      : el("p", { class: "muted", text: "None." }),
    el("h2", { text: "Task snapshot (when it entered the DLQ)" }), el("pre", { id: "dlq-snapshot", text: fmtJSON(e.task_snapshot) }));
  main.focus();
}

function dlqForm(e) {
  const status = el("select", { id: "dlq-new-status", name: "resolution_status" },
    ...DLQ_STATUSES.map((s) => el("option", { value: s, text: s.replaceAll("_", " "), selected: s === snake(e.resolution_status) })));
  const notes = el("textarea", { id: "dlq-new-notes", name: "resolution_notes", rows: 3 });
  notes.value = e.resolution_notes || "";
  const by = el("input", { id: "dlq-new-by", name: "resolved_by", value: e.resolved_by || "dashboard", maxlength: 255 });
  const err = el("p", { class: "error", id: "dlq-error", role: "alert" });
  return el("form", { class: "stack", id: "dlq-form", onsubmit: async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    if (!notes.value.trim()) { err.textContent = "Write what was found and done (the notes)."; notes.focus(); return; }
    try {
      await api("/v1/dlq/entry/" + e.dlq_entry_uuid, { method: "PATCH",
        body: { resolution_status: status.value, resolution_notes: notes.value.trim(), resolved_by: by.value.trim() || "dashboard" } });
      await route();
      setStatus("Investigation updated: " + status.value.replaceAll("_", " "));
    } catch (x) {
      err.textContent = x.message;
    }
  } },
  el("div", {}, el("label", { for: "dlq-new-status", text: "Resolution status" }), status),
  el("div", {}, el("label", { for: "dlq-new-notes", text: "Notes (what was found and done)" }), notes),
  el("div", {}, el("label", { for: "dlq-new-by", text: "Resolved by" }), by),
  err,
  el("button", { type: "submit", class: "primary", id: "dlq-save", text: "Save" }));
}
