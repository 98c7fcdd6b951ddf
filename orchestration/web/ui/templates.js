// Tasker dashboard: the registered templates (GET /v1/templates), one
// template's graph and input schema, and a form generated from that
// schema that creates a task (POST /v1/tasks). The server validates the
// context; its errors (JSON pointers) are shown next to their fields.
"use strict";

async function templatesPage(main) {
  document.title = "Templates · Tasker";
  if (!can("templates:read")) { main.replaceChildren(el("h1", { text: "Templates" }), notAllowed("the templates", "templates:read")); return; }
  const r = await api("/v1/templates");
  const rows = r.templates.map((t) => {
    const href = "#/templates/" + [t.namespace, t.name, t.version].map(encodeURIComponent).join("/");
    return el("tr", { "data-template": `${t.namespace}/${t.name}/${t.version}` },
      el("td", {}, el("a", { href, text: t.name })), el("td", { text: t.namespace }), el("td", { text: t.version }),
      el("td", { text: String(t.step_count) }), el("td", { class: "hide-sm", text: t.description || "" }));
  });
  main.replaceChildren(el("h1", { text: "Templates" }),
    el("div", { class: "table-wrap" }, el("table", {},
      el("caption", { class: "muted", text: `${r.total_count} templates in ${r.namespaces.length} namespaces` }),
      el("thead", {}, el("tr", {}, el("th", { text: "Name" }), el("th", { text: "Namespace" }), el("th", { text: "Version" }),
        el("th", { text: "Steps" }), el("th", { class: "hide-sm", text: "Description" }))),
      el("tbody", { id: "template-rows" }, ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 5, class: "muted", text: "No templates registered." }))])))));
  main.focus();
}

async function templatePage(main, [ns, name, version]) {
  document.title = name + " · Templates · Tasker";
  if (!can("templates:read")) { main.replaceChildren(el("h1", { text: name }), notAllowed("the templates", "templates:read")); return; }
  const t = await api("/v1/templates/" + [ns, name, version].map(encodeURIComponent).join("/"));
  const steps = (t.steps || []).map((s) => ({ name: s.name, dependencies: s.dependencies || [],
    sub: (s.type && s.type !== "standard" ? s.type + " · " : "") + String((s.handler && s.handler.callable) || "").split("::").pop() }));
  const schema = (t.configuration && t.configuration.input_schema) || null;
  const dag = el("div", { class: "dag", id: "dag" });
  main.replaceChildren(el("h1", { text: `${t.namespace} / ${t.name} ${t.version}` }),
    t.description ? el("p", { text: t.description }) : null,
    el("h2", { text: "Graph" }), dag,
    el("h2", { text: "Create a task" }),
    can("tasks:create") ? taskForm(t, schema) : notAllowed("creating tasks", "tasks:create"),
    el("h2", { text: "Input schema" }),
    el("pre", { id: "input-schema", text: schema ? JSON.stringify(schema, null, 2) : "No input schema: any JSON object is accepted." }));
  drawDAG(dag, steps);
  main.focus();
}

// ---- a form from a JSON schema ------------------------------------------
let fieldSeq = 0;

// schemaField builds the input for one schema node. It returns {dom,
// read, fields}: read() gives the value (undefined when left empty),
// fields lists every input by its JSON pointer, for the server's errors.
function schemaField(schema, pointer, label, required) {
  schema = schema || {};
  const id = "sf-" + (++fieldSeq);
  const type = Array.isArray(schema.type) ? schema.type.find((x) => x !== "null") : schema.type;
  const err = el("p", { class: "error field-error", id: id + "-err", "data-error-for": pointer, role: "alert" });
  const help = schema.description ? el("p", { class: "muted help", id: id + "-help", text: schema.description }) : null;
  const described = [help ? id + "-help" : null, id + "-err"].filter(Boolean).join(" ");
  const lab = (forID) => el("label", { for: forID }, label, required ? el("span", { class: "req", text: " (required)" }) : null);
  const wrap = (input, extra) => {
    const dom = el("div", { class: "field", "data-pointer": pointer }, lab(id), input, extra || null, help, err);
    return dom;
  };
  const common = { id, name: pointer, "aria-describedby": described, "aria-required": required ? "true" : null, "data-pointer": pointer };

  if (Array.isArray(schema.enum)) {
    const sel = el("select", common, el("option", { value: "", text: required ? "choose…" : "—" }),
      ...schema.enum.map((v, i) => el("option", { value: String(i), text: String(v), selected: schema.default === v })));
    return { dom: wrap(sel), fields: [{ pointer, err, input: sel }], read: () => sel.value === "" ? undefined : schema.enum[Number(sel.value)] };
  }
  if (type === "object" && schema.properties) {
    const req = new Set(schema.required || []);
    const kids = Object.entries(schema.properties).map(([k, sub]) =>
      [k, schemaField(sub, pointer + "/" + k.replaceAll("~", "~0").replaceAll("/", "~1"), sub.title || k, req.has(k))]);
    const dom = el("fieldset", { class: "field", "data-pointer": pointer }, el("legend", {}, label, required ? el("span", { class: "req", text: " (required)" }) : null),
      help, ...kids.map(([, f]) => f.dom), err);
    return { dom, fields: [{ pointer, err, input: dom }, ...kids.flatMap(([, f]) => f.fields)],
      read: () => {
        const out = {};
        let any = false;
        for (const [k, f] of kids) { const v = f.read(); if (v !== undefined) { out[k] = v; any = true; } }
        return any || required ? out : undefined;
      } };
  }
  if (type === "boolean") {
    const box = el("input", Object.assign({ type: "checkbox", checked: schema.default === true }, common));
    const dom = el("div", { class: "field check", "data-pointer": pointer }, box, lab(id), help, err);
    return { dom, fields: [{ pointer, err, input: box }], read: () => box.checked };
  }
  if (type === "integer" || type === "number") {
    const input = el("input", Object.assign({ type: "number", step: type === "integer" ? "1" : "any", min: schema.minimum, max: schema.maximum,
      value: schema.default !== undefined ? String(schema.default) : "" }, common));
    return { dom: wrap(input), fields: [{ pointer, err, input }], read: () => {
      if (input.value.trim() === "") return undefined;
      const n = Number(input.value);
      return Number.isFinite(n) ? n : input.value;
    } };
  }
  if (type === "string") {
    const input = el("input", Object.assign({ type: schema.format === "email" ? "email" : "text", minlength: schema.minLength, maxlength: schema.maxLength,
      value: schema.default !== undefined ? String(schema.default) : "" }, common));
    return { dom: wrap(input), fields: [{ pointer, err, input }], read: () => input.value === "" ? undefined : input.value };
  }
  const itemType = schema.items && !Array.isArray(schema.items.type) ? schema.items.type : null;
  if (type === "array" && ["string", "integer", "number", "boolean"].includes(itemType) && !(schema.items && schema.items.enum)) {
    // Arrays of simple values: one value a line.
    const ta = el("textarea", Object.assign({ rows: 3 }, common));
    if (Array.isArray(schema.default)) ta.value = schema.default.join("\n");
    return { dom: wrap(ta, el("p", { class: "muted help", text: `One ${itemType} a line.` })), fields: [{ pointer, err, input: ta }],
      read: () => {
        const lines = ta.value.split("\n").map((l) => l.trim()).filter((l) => l !== "");
        if (!lines.length) return required ? [] : undefined;
        return lines.map((l) => itemType === "string" ? l : itemType === "boolean" ? l === "true"
          : (Number.isFinite(Number(l)) ? Number(l) : l));
      } };
  }
  // Anything else is typed as JSON.
  const ta = el("textarea", Object.assign({ rows: 4, class: "mono", placeholder: type === "array" ? "[ … ] (JSON)" : "JSON" }, common));
  if (schema.default !== undefined) ta.value = JSON.stringify(schema.default, null, 2);
  return { dom: wrap(ta), fields: [{ pointer, err, input: ta }], read: () => {
    if (ta.value.trim() === "") return undefined;
    try { return JSON.parse(ta.value); } catch { throw new FieldProblem(pointer, "is not valid JSON"); }
  } };
}

class FieldProblem extends Error {
  constructor(pointer, message) { super(message); this.pointer = pointer; }
}

// showErrors puts each error next to the field of its pointer, or of the
// nearest enclosing field; the rest go above the button.
function showErrors(fields, general, details) {
  for (const f of fields) f.err.textContent = "";
  general.textContent = "";
  let first = null;
  for (const d of details) {
    let p = d.pointer ?? "";
    let f = null;
    for (;;) {
      f = fields.find((x) => x.pointer === p);
      if (f || !p.includes("/")) break;
      p = p.slice(0, p.lastIndexOf("/"));
    }
    if (f) {
      f.err.textContent = (f.err.textContent ? f.err.textContent + "; " : "") + d.message;
      first = first || f.input;
    } else {
      general.textContent = (general.textContent ? general.textContent + "; " : "") + (d.pointer ? d.pointer + ": " : "") + d.message;
    }
  }
  if (first && first.focus) first.focus();
}

function taskForm(t, schema) {
  // Without an object schema the context is typed as JSON.
  const ctx = schema && schema.type === "object" && schema.properties
    ? schemaField(schema, "/context", "Context", true)
    : schemaField({ description: "Any JSON object." }, "/context", "Context (JSON)", false);
  const initiator = el("input", { id: "tf-initiator", name: "initiator", value: "dashboard", maxlength: 128 });
  const reason = el("input", { id: "tf-reason", name: "reason", value: "", maxlength: 128 });
  const meta = [{ pointer: "/initiator", err: el("p", { class: "error field-error", role: "alert" }), input: initiator },
    { pointer: "/reason", err: el("p", { class: "error field-error", role: "alert" }), input: reason }];
  const fields = [...ctx.fields, ...meta];
  const general = el("p", { class: "error", id: "tf-error", role: "alert" });
  return el("form", { class: "stack", id: "task-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    let context;
    try {
      context = ctx.read() ?? {};
    } catch (x) {
      if (x instanceof FieldProblem) { showErrors(fields, general, [{ pointer: x.pointer, message: x.message }]); return; }
      throw x;
    }
    const body = { namespace: t.namespace, name: t.name, version: t.version, context,
      initiator: initiator.value.trim() || undefined, reason: reason.value.trim() || undefined };
    try {
      const created = await api("/v1/tasks", { method: "POST", body });
      location.hash = "#/tasks/" + created.task_uuid;
    } catch (x) {
      if (!(x instanceof APIError)) throw x;
      const details = (x.details || []).filter((d) => d.pointer !== undefined);
      if (details.length) showErrors(fields, general, details);
      else showErrors(fields, general, [{ message: x.message }]);
      if (details.length && !general.textContent) general.textContent = "The task was not created: " + x.message;
    }
  } },
  ctx.dom,
  el("div", { class: "field" }, el("label", { for: "tf-initiator", text: "Initiator" }), initiator, meta[0].err),
  el("div", { class: "field" }, el("label", { for: "tf-reason", text: "Reason" }), reason, meta[1].err),
  general,
  el("button", { type: "submit", class: "primary", id: "tf-submit", text: "Create task" }));
}
