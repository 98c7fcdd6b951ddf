// Tasker dashboard: line charts drawn as SVG by hand (no library).
"use strict";

// niceMax rounds a chart's top value up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmtNum(v) {
  if (v === null || v === undefined) return "—";
  if (Math.abs(v) >= 1000) return v.toLocaleString(undefined, { maximumFractionDigits: 0 });
  if (Number.isInteger(v)) return String(v);
  return v.toLocaleString(undefined, { maximumFractionDigits: 2 });
}

function fmtClock(t) {
  return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// lineChart draws series of values over shared times: a figure with the
// chart, its legend, and an accessible summary (each series' latest
// value). A null value is a gap. series: [{name, values, cls}].
function lineChart({ id, title, times, series, unit }) {
  const W = 420, H = 170, L = 40, R = 10, T = 10, B = 22;
  const all = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
  const top = niceMax(Math.max(0, ...all));
  const n = times.length;
  const x = (i) => L + (n <= 1 ? 0 : (i * (W - L - R)) / (n - 1));
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const latest = series.map((s) => {
    const vals = s.values.filter((v) => v !== null && v !== undefined);
    return `${s.name} ${vals.length ? fmtNum(vals[vals.length - 1]) : "none"}${unit ? " " + unit : ""}`;
  }).join(", ");
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-labelledby": id + "-t", preserveAspectRatio: "xMidYMid meet" });
  root.append(svg("title", { id: id + "-t" }, document.createTextNode(`${title}: latest ${latest}`)));
  for (const f of [0, 0.5, 1]) {
    const v = top * f;
    root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }),
      svg("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, document.createTextNode(fmtNum(v))));
  }
  if (n > 0) {
    for (const i of [...new Set([0, Math.floor((n - 1) / 2), n - 1])]) {
      root.append(svg("text", { x: x(i), y: H - 6, class: "axis", "text-anchor": i === 0 ? "start" : i === n - 1 ? "end" : "middle" },
        document.createTextNode(fmtClock(times[i]))));
    }
  }
  series.forEach((s, si) => {
    // One polyline per run of values without a gap.
    let run = [];
    const flush = () => {
      if (run.length === 1) {
        const [px, py] = run[0];
        root.append(svg("circle", { cx: px, cy: py, r: 2.5, class: "dot c" + (s.cls ?? si) }));
      } else if (run.length > 1) {
        root.append(svg("polyline", { points: run.map((p) => p.join(",")).join(" "), class: "line c" + (s.cls ?? si), "data-series": s.name }));
      }
      run = [];
    };
    s.values.forEach((v, i) => { if (v === null || v === undefined) flush(); else run.push([x(i).toFixed(1), y(v).toFixed(1)]); });
    flush();
  });
  const legend = el("ul", { class: "legend" }, ...series.map((s, si) => el("li", { class: "c" + (s.cls ?? si) },
    el("span", { class: "swatch", "aria-hidden": "true" }), s.name)));
  return el("figure", { class: "chart-box", id },
    el("figcaption", { text: title + (unit ? ` (${unit})` : "") }), el("div", { class: "chart-wrap" }, root), legend);
}
