// FlowStone dashboard: a small single-page app over the JSON API (/api/...) and one
// WebSocket (/ws). No framework, no build step; ELK lays the asset graph out in a worker.
"use strict";

const state = { me: null, lastId: null, socket: null, view: null, listeners: new Set(), inflight: 0 };
const SEVERITY = ["succeeded", "missing", "skipped", "cancelled", "waiting", "running", "failed"];

// -- helpers ---------------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const svg = (tag, attrs) => {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
};

async function api(path, options = {}) {
  state.inflight += 1;
  window.__fsInflight = state.inflight;  // read by the browser tests
  try { return await request(path, options); }
  finally { window.__fsInflight = state.inflight -= 1; }
}

async function request(path, options) {
  const headers = { "Accept": "application/json", ...(options.headers || {}) };
  if (options.method && options.method !== "GET") {
    headers["Content-Type"] = "application/json";
    if (state.me && state.me.csrf) headers["X-CSRF-Token"] = state.me.csrf;
  }
  const response = await fetch(path, { credentials: "same-origin", ...options, headers });
  if (response.status === 401) { location.href = "/login"; throw new Error("signed out"); }
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

const when = (iso) => iso ? new Date(iso).toLocaleString() : "";
const secs = (s) => s === null || s === undefined ? "" : s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(1)} s`;
const badge = (status) => h("span", { class: `badge ${status}` }, status);
const link = (href, text) => h("a", { href }, text);
const assetLink = (name) => link(`#/assets/${encodeURIComponent(name)}`, name);
const runLink = (id) => link(`#/runs/${encodeURIComponent(id)}`, id.length > 18 ? id.slice(0, 18) + "…" : id);

function table(columns, rows, empty = "nothing yet") {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h("table", {}, h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((cell) => h("td", {}, cell))))));
}

function errorCell(error) {
  if (!error) return "";
  return h("details", { class: "error" }, h("summary", {}, `${error.type}: ${error.message}`),
    h("pre", {}, error.traceback || ""));
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

// A page's live-update listener. Pages render asynchronously: one left before its first
// render returned must neither draw over the page shown now nor keep listening, so a
// listener belongs to its page's root and does nothing once that root is detached.
function onChanges(root, fn) {
  if (!root.isConnected) return fn;
  const listener = (message) => { if (root.isConnected) fn(message); else state.listeners.delete(listener); };
  state.listeners.add(listener);
  return fn;
}

// -- live updates ------------------------------------------------------------------------------

function connect(delay = 250) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const after = state.lastId === null ? "" : `?after=${state.lastId}`;
  const socket = new WebSocket(`${scheme}://${location.host}/ws${after}`);
  const live = document.getElementById("live");
  socket.onopen = () => { live.textContent = "live"; live.className = "live on"; delay = 250; };
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "resync") { state.lastId = message.last_id; route(); return; }
    if (message.last_id !== undefined) state.lastId = Math.max(state.lastId || 0, message.last_id);
    if (message.type === "changes") {
      window.__fsLastMessage = { at: performance.now(), message };
      for (const fn of state.listeners) fn(message);
    }
  };
  socket.onclose = () => {
    live.textContent = "reconnecting"; live.className = "live off";
    setTimeout(() => connect(Math.min(delay * 2, 5000)), delay);
  };
  state.socket = socket;
}

// -- router ------------------------------------------------------------------------------------

const routes = [
  [/^#?\/?$/, overviewPage],
  [/^#\/graph$/, graphPage],
  [/^#\/assets\/(.+)$/, assetPage],
  [/^#\/runs$/, runsPage],
  [/^#\/runs\/(.+)$/, runPage],
  [/^#\/lineage(?:\?(.*))?$/, lineagePage],
  [/^#\/supervision$/, supervisionPage],
  [/^#\/approvals$/, approvalsPage],
  [/^#\/automation$/, automationPage],
];

async function route() {
  state.listeners.clear();
  if (state.view && state.view.stop) state.view.stop();
  state.view = null;
  // Every visit renders into a root of its own: a page still rendering when the user moves
  // on draws into its detached root, never over the page shown now.
  const main = h("div", { class: "view" }, h("p", { class: "empty" }, "loading…"));
  document.getElementById("main").replaceChildren(main);
  for (const a of document.querySelectorAll("header nav a")) {
    a.classList.toggle("active", location.hash.startsWith(a.getAttribute("href")) && a.getAttribute("href") !== "#/" || (a.getAttribute("href") === "#/" && (location.hash === "" || location.hash === "#/")));
  }
  for (const [pattern, page] of routes) {
    const match = location.hash.match(pattern);
    if (match) {
      try {
        const view = (await page(main, ...match.slice(1).map((m) => m && decodeURIComponent(m)))) || null;
        if (main.isConnected) state.view = view;
        else if (view && view.stop) view.stop();  // left before it finished rendering
      } catch (error) { main.replaceChildren(h("p", { class: "error" }, String(error.message || error))); }
      return;
    }
  }
  main.replaceChildren(h("p", { class: "error" }, "no such page"));
}

// -- overview ----------------------------------------------------------------------------------

async function overviewPage(main) {
  const render = async () => {
    const data = await api("/api/overview");
    main.replaceChildren(
      h("h1", {}, `Overview · ${data.pipeline}`),
      h("div", { class: "grid" },
        h("section", { class: "card" }, h("h2", {}, `Running (${data.running.length})`),
          table(["run", "targets", "partition", "started"], data.running.map((r) =>
            [runLink(r.run_id), r.targets.join(", "), r.partition || "", when(r.started_at)]), "no run in flight")),
        h("section", { class: "card" }, h("h2", {}, "Pending approvals"),
          data.approvals.wired ? table(["gate", "partition", "message", "requested"], data.approvals.items.map((a) =>
            [link("#/approvals", a.checkpoint), a.partition ?? "", a.message ?? "", when(a.requested_at)]), "no gate is waiting")
            : h("p", { class: "pending" }, data.approvals.note))),
      h("section", { class: "card" }, h("h2", {}, "Recent failures"),
        table(["asset", "partition", "run", "finished", "error"], data.recent_failures.map((m) =>
          [assetLink(m.asset), m.partition || "", runLink(m.run_id), when(m.finished_at), errorCell(m.error)]), "no failures")),
      h("section", { class: "card" }, h("h2", {}, "Recent runs"),
        table(["run", "kind", "targets", "partition", "status", "started"], data.recent_runs.map((r) =>
          [runLink(r.run_id), r.kind, r.targets.join(", "), r.partition || "", badge(r.status), when(r.started_at)]))),
    );
  };
  await render();
  onChanges(main, debounce(render, 300));
}

// -- asset graph ---------------------------------------------------------------------------------

function nodeStatus(node) {
  const c = node.counts;
  if (c.running) return "running";
  if (c.failed) return "failed";
  if (c.waiting) return "waiting";
  if (node.total && c.succeeded === node.total) return "succeeded";
  if (c.succeeded) return "partial";
  return "missing";
}

async function layout(nodes) {
  // The same graph lays out the same way: keep the result for this browser session.
  const signature = nodes.map((n) => `${n.name}<${n.deps.join(",")}`).join(";");
  const cached = sessionStorage.getItem("fs-layout");
  if (cached) {
    const { key, value } = JSON.parse(cached);
    if (key === signature) return value;
  }
  const elk = new ELK({ workerUrl: "/static/vendor/elk-worker.min.js" });
  const graph = {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered", "elk.direction": "RIGHT",
      // Fast settings for large graphs (docs/ui.md): one thoroughness pass, longest-path
      // layering, median crossing minimisation, simple placement, straight edges.
      "elk.layered.thoroughness": "1", "elk.layered.nodePlacement.strategy": "SIMPLE",
      "elk.layered.cycleBreaking.strategy": "DEPTH_FIRST", "elk.layered.layering.strategy": "LONGEST_PATH",
      "elk.layered.crossingMinimization.strategy": "MEDIAN_LAYER_SWEEP",
      "elk.layered.crossingMinimization.greedySwitch.type": "OFF", "elk.edgeRouting": "POLYLINE",
      "elk.spacing.nodeNode": "18", "elk.layered.spacing.nodeNodeBetweenLayers": "48",
    },
    children: nodes.map((n) => ({ id: n.name, width: Math.max(120, 8 * n.name.length + 28), height: 44 })),
    edges: nodes.flatMap((n) => n.deps.map((d, i) => ({ id: `${d}->${n.name}#${i}`, sources: [d], targets: [n.name] }))),
  };
  const done = await elk.layout(graph);
  elk.terminateWorker();
  try { sessionStorage.setItem("fs-layout", JSON.stringify({ key: signature, value: done })); } catch (e) { /* too big to keep */ }
  return done;
}

async function graphPage(main) {
  const data = await api("/api/assets");
  const byName = new Map(data.nodes.map((n) => [n.name, n]));
  const search = h("input", { type: "search", placeholder: "search assets…", class: "search" });
  const info = h("span", { class: "muted" }, `${data.nodes.length} assets · laying out…`);
  const canvas = svg("svg", { class: "graph", width: "100%", height: "100%" });
  const defs = svg("defs", {});
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
  marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow" }));
  defs.append(marker);
  const world = svg("g", {});
  canvas.append(defs, world);
  main.replaceChildren(h("div", { class: "toolbar" }, h("h1", {}, "Assets"), search, info,
    h("span", { class: "legend" }, ["succeeded", "partial", "failed", "running", "missing"].map((s) => h("span", { class: `dot ${s}` }, s)))),
    h("div", { class: "graph-wrap" }, canvas));
  const started = performance.now();
  const laid = await layout(data.nodes);
  info.textContent = `${data.nodes.length} assets · laid out in ${Math.round(performance.now() - started)} ms`;
  const boxes = new Map();
  for (const e of laid.edges || []) {
    for (const s of e.sections || []) {
      const pts = [s.startPoint, ...(s.bendPoints || []), s.endPoint].map((p) => `${p.x},${p.y}`).join(" ");
      world.append(svg("polyline", { points: pts, class: "edge", "marker-end": "url(#arrow)" }));
    }
  }
  for (const c of laid.children) {
    const node = byName.get(c.id);
    const g = svg("g", { class: `node ${nodeStatus(node)}`, transform: `translate(${c.x},${c.y})`, "data-asset": c.id });
    g.append(svg("rect", { width: c.width, height: c.height, rx: 6 }));
    const label = svg("text", { x: 10, y: 18 }); label.textContent = c.id; g.append(label);
    const sub = svg("text", { x: 10, y: 35, class: "sub" });
    sub.textContent = node.partitions ? `${node.counts.succeeded.toLocaleString()}/${node.total.toLocaleString()} ok` : (node.counts.succeeded ? "materialized" : "never run");
    g.append(sub);
    g.addEventListener("click", () => { location.hash = `#/assets/${encodeURIComponent(c.id)}`; });
    world.append(g);
    boxes.set(c.id, { g, c, sub });
  }
  // pan and zoom
  let view = { x: 20, y: 20, k: 1 };
  const apply = () => world.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`);
  const fit = () => {
    const r = canvas.getBoundingClientRect();
    const k = Math.min(1.5, Math.min(r.width / (laid.width + 40), r.height / (laid.height + 40)));
    view = { x: 20, y: 20, k: Math.max(k, 0.05) }; apply();
  };
  fit();
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = canvas.getBoundingClientRect(), f = Math.exp(-e.deltaY * 0.0015);
    const mx = e.clientX - r.left, my = e.clientY - r.top;
    view = { k: view.k * f, x: mx - (mx - view.x) * f, y: my - (my - view.y) * f }; apply();
  }, { passive: false });
  let drag = null;
  canvas.addEventListener("mousedown", (e) => { drag = { x: e.clientX - view.x, y: e.clientY - view.y }; });
  window.addEventListener("mouseup", () => { drag = null; });
  canvas.addEventListener("mousemove", (e) => { if (drag) { view.x = e.clientX - drag.x; view.y = e.clientY - drag.y; apply(); } });
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase();
    let first = null;
    for (const [name, b] of boxes) {
      const hit = q && name.toLowerCase().includes(q);
      b.g.classList.toggle("hit", Boolean(hit));
      b.g.classList.toggle("dim", Boolean(q) && !hit);
      if (hit && !first) first = b;
    }
    if (first) {
      const r = canvas.getBoundingClientRect();
      view.k = Math.max(view.k, 0.8);
      view.x = r.width / 2 - (first.c.x + first.c.width / 2) * view.k;
      view.y = r.height / 2 - (first.c.y + first.c.height / 2) * view.k; apply();
    }
  });
  // live status: recolour at once from the message, refresh the counts shortly after
  const refresh = debounce(async () => {
    const fresh = await api("/api/assets");
    for (const n of fresh.nodes) {
      const b = boxes.get(n.name);
      if (!b) continue;
      b.g.setAttribute("class", `node ${nodeStatus(n)}`);
      b.sub.textContent = n.partitions ? `${n.counts.succeeded.toLocaleString()}/${n.total.toLocaleString()} ok` : (n.counts.succeeded ? "materialized" : "never run");
    }
  }, 1000);
  onChanges(main, (message) => {
    for (const [name, delta] of Object.entries(message.assets)) {
      const b = boxes.get(name);
      if (b) { b.g.classList.add("flash"); b.g.classList.remove("succeeded", "failed", "missing", "partial"); b.g.classList.add(delta.status); setTimeout(() => b.g.classList.remove("flash"), 600); }
    }
    if (Object.keys(message.assets).length) refresh();
  });
  window.__fsGraphReady = performance.now();
}

// -- asset page and its partition health bar ------------------------------------------------------

function healthBar(status, onHover) {
  const canvas = h("canvas", { class: "health", height: 36 });
  const tip = h("div", { class: "tip", hidden: true });
  const wrap = h("div", { class: "health-wrap" }, canvas, tip);
  let data = status, view = [0, Math.max(1, status.total)];
  let starts = [];
  const index = () => {
    starts = []; let at = 0;
    for (let i = 0; i < data.runs.length; i += 2) { starts.push(at); at += data.runs[i + 1]; }
  };
  const statusAt = (ordinal) => {
    let lo = 0, hi = starts.length - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (starts[mid] <= ordinal) lo = mid; else hi = mid - 1; }
    return data.statuses[data.runs[lo * 2]];
  };
  // Each pixel column covers many partitions when zoomed out: it is drawn as a stack of
  // the statuses it covers, in proportion, so scattered failures among a million
  // partitions show as thin red slivers, never as a solid red bar (nor vanish: any
  // status present keeps at least 3 px). O(runs in view + pixels), never O(partitions).
  const draw = () => {
    const width = canvas.clientWidth || 800, height = canvas.height;
    if (canvas.width !== width) canvas.width = width;
    const ctx = canvas.getContext("2d");
    const [v0, v1] = view, scale = (v1 - v0) / width, kinds = data.statuses.length;
    const cover = new Float64Array(width * kinds);
    for (let i = 0, at = 0; i < data.runs.length; i += 2) {
      const len = data.runs[i + 1], lo = at, hi = at + len; at = hi;
      if (hi <= v0 || lo >= v1) continue;
      const a = Math.max(lo, v0), b = Math.min(hi, v1);
      let p = Math.floor((a - v0) / scale);
      const last = Math.min(width - 1, Math.floor((b - v0) / scale - 1e-9));
      for (; p <= last; p++) {
        const c0 = v0 + p * scale, c1 = c0 + scale;
        cover[p * kinds + data.runs[i]] += Math.min(b, c1) - Math.max(a, c0);
      }
    }
    const style = getComputedStyle(document.documentElement);
    const colors = data.statuses.map((s) => style.getPropertyValue(`--${s}`).trim() || "#999");
    const order = data.statuses.map((s, k) => k).sort((x, y) => SEVERITY.indexOf(data.statuses[y]) - SEVERITY.indexOf(data.statuses[x]));
    ctx.clearRect(0, 0, width, height);
    for (let p = 0; p < width; p++) {
      let total = 0;
      for (let k = 0; k < kinds; k++) total += cover[p * kinds + k];
      if (!total) continue;
      let y = 0, main = 0;
      for (let k = 1; k < kinds; k++) if (cover[p * kinds + k] > cover[p * kinds + main]) main = k;
      for (const k of order) {
        const part = cover[p * kinds + k];
        if (!part) continue;
        const h = y >= height ? 0 : Math.min(height - y, Math.max(3, Math.round(height * part / total)));
        ctx.fillStyle = colors[k]; ctx.fillRect(p, y, 1, h); y += h;
      }
      if (y < height) { ctx.fillStyle = colors[main]; ctx.fillRect(p, y, 1, height - y); }
    }
    canvas.dataset.rendered = String(performance.now());
    canvas.dataset.window = `${Math.floor(v0)}-${Math.ceil(v1)}`;
  };
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = canvas.getBoundingClientRect(), x = (e.clientX - r.left) / r.width;
    const span = view[1] - view[0], f = Math.exp(e.deltaY * 0.002);
    const next = Math.min(data.total, Math.max(8, span * f)), at = view[0] + x * span;
    view = [Math.max(0, at - x * next), 0]; view[1] = Math.min(data.total, view[0] + next); view[0] = view[1] - next;
    draw();
  }, { passive: false });
  let drag = null;
  canvas.addEventListener("mousedown", (e) => { drag = { x: e.clientX, view: view.slice() }; });
  window.addEventListener("mouseup", () => { drag = null; });
  canvas.addEventListener("dblclick", () => { view = [0, data.total]; draw(); });
  const hover = debounce((ordinal, x) => onHover(ordinal, (text) => { tip.textContent = text; tip.style.left = `${x}px`; tip.hidden = false; }), 120);
  canvas.addEventListener("mousemove", (e) => {
    const r = canvas.getBoundingClientRect();
    if (drag) {
      const shift = (e.clientX - drag.x) / r.width * (drag.view[1] - drag.view[0]);
      const span = drag.view[1] - drag.view[0];
      view[0] = Math.min(Math.max(0, drag.view[0] - shift), data.total - span); view[1] = view[0] + span; draw(); return;
    }
    const ordinal = Math.floor(view[0] + (e.clientX - r.left) / r.width * (view[1] - view[0]));
    if (ordinal >= 0 && ordinal < data.total) hover(ordinal, e.clientX - r.left);
  });
  canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
  index();
  requestAnimationFrame(draw);
  return { element: wrap, update(next) { data = next; if (view[1] > data.total) view = [0, data.total]; index(); draw(); }, statusAt: (o) => statusAt(o), draw };
}

async function assetPage(main, name) {
  const data = await api(`/api/assets/${encodeURIComponent(name)}`);
  const counts = h("div", { class: "counts" });
  const showCounts = (status) => counts.replaceChildren(...Object.entries(status.counts).map(([s, n]) =>
    h("span", { class: `count ${s}` }, h("b", {}, n.toLocaleString()), ` ${s}`)));
  const bar = healthBar(data.status, async (ordinal, show) => {
    const p = await api(`/api/assets/${encodeURIComponent(name)}/partition?ordinal=${ordinal}`);
    const latest = p.materializations[0];
    show(`${p.key ?? "(unpartitioned)"} · ${bar.statusAt(ordinal)}${latest && latest.error ? " · " + latest.error.message : ""}`);
  });
  const mats = h("div", {});
  const showMats = (records) => mats.replaceChildren(table(["partition", "run", "attempt", "status", "finished", "duration", "error"],
    records.map((m) => [m.partition ?? "", runLink(m.run_id), m.attempt, badge(m.status), when(m.finished_at), secs(m.duration), errorCell(m.error)])));
  showCounts(data.status); showMats(data.materializations);
  const partitionInput = data.partitions ? h("input", { placeholder: "partition key", class: "key" }) : null;
  const act = state.me.role === "operator" ? h("span", {}, partitionInput, h("button", { onclick: async () => {
    await api(`/api/assets/${encodeURIComponent(name)}/materialize`, { method: "POST", body: JSON.stringify({ partition: partitionInput ? partitionInput.value || null : null }) });
  } }, "Materialize")) : null;
  main.replaceChildren(
    h("div", { class: "toolbar" }, h("h1", {}, name), act),
    h("p", { class: "muted" }, data.description || "", " "),
    h("dl", { class: "facts" },
      h("dt", {}, "partitions"), h("dd", {}, data.partitions || "unpartitioned"),
      h("dt", {}, "depends on"), h("dd", {}, data.deps.length ? data.deps.map((d) => [assetLink(d), " "]) : "—"),
      h("dt", {}, "used by"), h("dd", {}, data.downstream.length ? data.downstream.map((d) => [assetLink(d), " "]) : "—"),
      h("dt", {}, "lineage"), h("dd", {}, link(`#/lineage?asset=${encodeURIComponent(name)}`, "explore"))),
    h("section", { class: "card" }, h("h2", {}, `Partition health · ${data.status.total.toLocaleString()} partitions`),
      counts, bar.element, h("p", { class: "muted small" }, "wheel to zoom, drag to pan, double-click to reset; ",
        data.status.first_key ? `${data.status.first_key} … ${data.status.last_key}` : "")),
    h("section", { class: "card" }, h("h2", {}, "Materializations"), mats));
  window.__fsAssetReady = performance.now();
  const refresh = debounce(async () => {
    const [status, fresh] = await Promise.all([
      api(`/api/assets/${encodeURIComponent(name)}/status`), api(`/api/assets/${encodeURIComponent(name)}`)]);
    bar.update(status); showCounts(status); showMats(fresh.materializations);
    window.__fsAssetUpdated = performance.now();
  }, 40);
  onChanges(main, (message) => { if (message.assets[name]) refresh(); });
}

// -- runs ----------------------------------------------------------------------------------------

async function runsPage(main) {
  const filter = h("select", {}, ["", "running", "succeeded", "failed", "waiting", "cancelled", "queued"].map((s) => h("option", { value: s }, s || "any status")));
  const body = h("div", {});
  const render = async () => {
    const runs = await api(`/api/runs?limit=200${filter.value ? "&status=" + filter.value : ""}`);
    body.replaceChildren(table(["run", "kind", "targets", "partition", "status", "started", "finished", "by"],
      runs.map((r) => [runLink(r.run_id), r.kind, r.targets.join(", "), r.partition || "", badge(r.status), when(r.started_at), when(r.finished_at), r.triggered_by])));
  };
  filter.addEventListener("change", render);
  main.replaceChildren(h("div", { class: "toolbar" }, h("h1", {}, "Runs"), filter), body);
  await render();
  onChanges(main, debounce((m) => { if (m.runs.length || m.runs_dropped) render(); }, 300));
}

async function runPage(main, runId) {
  const render = async () => {
    const run = await api(`/api/runs/${encodeURIComponent(runId)}`);
    const cancel = state.me.role === "operator" && (run.status === "running" || run.status === "queued")
      ? h("button", { onclick: async (e) => { const r = await api(`/api/runs/${encodeURIComponent(runId)}/cancel`, { method: "POST" }); e.target.replaceWith(h("span", { class: "muted" }, r.cancelled ? "cancelling…" : r.note)); } }, "Cancel run") : null;
    main.replaceChildren(
      h("div", { class: "toolbar" }, h("h1", {}, `Run ${run.run_id}`), badge(run.status), cancel),
      h("dl", { class: "facts" },
        h("dt", {}, "kind"), h("dd", {}, run.kind), h("dt", {}, "targets"), h("dd", {}, run.targets.map((t) => [assetLink(t), " "])),
        h("dt", {}, "partition"), h("dd", {}, run.partition || "—"), h("dt", {}, "started"), h("dd", {}, when(run.started_at)),
        h("dt", {}, "finished"), h("dd", {}, when(run.finished_at)), h("dt", {}, "triggered by"), h("dd", {}, run.triggered_by),
        run.error ? [h("dt", {}, "error"), h("dd", { class: "error" }, `${run.error.type}: ${run.error.message}`)] : null),
      h("section", { class: "card" }, h("h2", {}, "Nodes and attempts"),
        table(["asset", "partition", "attempt", "status", "started", "duration", "error"],
          run.materializations.map((m) => [assetLink(m.asset), m.partition ?? "", m.attempt, badge(m.status), when(m.started_at), secs(m.duration), errorCell(m.error)]))),
      h("section", { class: "card" }, h("h2", {}, `Log (newest ${run.logs_limit} lines; all with flowstone logs ${run.run_id})`),
        run.logs.length
          ? h("pre", { class: "log" }, run.logs.map((l) => `${when(l.at)} ${l.level.padEnd(8)} ${l.asset ? `${l.asset}${l.partition ? `[${l.partition}]` : ""} ` : ""}${l.logger}: ${l.message}\n`).join(""))
          : h("p", { class: "empty" }, run.status === "running" ? "no line stored yet (lines are stored every second while the run goes on)" : "no line captured")));
  };
  await render();
  onChanges(main, debounce((m) => { if (m.runs.some((r) => r.run_id === runId)) render(); }, 200));
}

// -- lineage -------------------------------------------------------------------------------------

async function lineagePage(main, query) {
  const params = new URLSearchParams(query || "");
  const asset = h("input", { placeholder: "asset", value: params.get("asset") || "" });
  const partition = h("input", { placeholder: "partition (optional)", value: params.get("partition") || "" });
  const direction = h("select", {}, h("option", { value: "up" }, "upstream"), h("option", { value: "down" }, "downstream"));
  direction.value = params.get("direction") === "down" ? "down" : "up";
  const offset = Number(params.get("offset") || 0);
  const results = h("div", {});
  const go = (at) => {
    const q = new URLSearchParams({ asset: asset.value, direction: direction.value, offset: String(at) });
    if (partition.value) q.set("partition", partition.value);
    location.hash = `#/lineage?${q}`;
  };
  main.replaceChildren(h("h1", {}, "Lineage"),
    h("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); go(0); } }, asset, partition, direction, h("button", {}, "Explore")), results);
  if (!asset.value) { results.replaceChildren(h("p", { class: "empty" }, "choose an asset (and a partition) to walk its recorded lineage")); return; }
  const q = new URLSearchParams({ asset: asset.value, direction: direction.value, offset: String(offset), limit: "100" });
  if (partition.value) q.set("partition", partition.value);
  const page = await api(`/api/lineage?${q}`);
  results.replaceChildren(
    h("p", { class: "muted" }, `${page.total} node(s) ${page.direction === "up" ? "upstream of" : "downstream of"} ${page.asset}${page.partition ? "[" + page.partition + "]" : ""}`),
    table(["depth", "asset", "partition", ""], page.entries.map((e) => [e.depth, assetLink(e.asset), e.partition ?? "",
      link(`#/lineage?${new URLSearchParams({ asset: e.asset, direction: page.direction, ...(e.partition ? { partition: e.partition } : {}) })}`, "walk from here")]), "no recorded lineage"),
    h("div", { class: "pager" },
      offset > 0 ? h("button", { onclick: () => go(Math.max(0, offset - 100)) }, "previous") : null,
      offset + 100 < page.total ? h("button", { onclick: () => go(offset + 100) }, "next") : null));
}

// -- supervision tree ------------------------------------------------------------------------------

function treeNode(node) {
  if (node.type !== "supervisor") {
    return h("li", { class: `leaf ${node.alive ? "alive" : "dead"}` }, h("b", {}, node.id), ` worker · ${node.state}`, h("span", { class: "muted" }, ` ${node.actor || ""}`));
  }
  return h("li", { class: "sup" },
    h("div", {}, h("b", {}, node.id), ` ${node.strategy} · ${node.counts.active}/${node.counts.children} active · restarts ${node.restarts} in window (max ${node.max_restarts}/${node.max_seconds}s) · ${node.total_restarts} total`),
    h("ul", {}, node.children.map(treeNode), node.more_children ? h("li", { class: "muted" }, `… ${node.more_children} more`) : null));
}

async function supervisionPage(main) {
  const body = h("div", {});
  const render = async () => {
    const data = await api("/api/supervision");
    const seen = (iso) => `${Math.max(0, Math.round((Date.now() - new Date(iso)) / 1000))} s ago`;
    body.replaceChildren(
      h("h2", {}, "This server's runtime"),
      data.tree ? h("ul", { class: "tree" }, treeNode(data.tree)) : h("p", { class: "empty" }, "the runtime is not started"),
      h("h2", {}, `Other runtimes of this pipeline (${data.runtimes.length})`),
      ...(data.runtimes.length ? data.runtimes.map((r) => h("section", { class: "card runtime", "data-runtime": r.id },
        h("div", { class: "muted" }, `${r.host} · pid ${r.pid} · started ${when(r.started_at)} · reported ${seen(r.seen_at)}`),
        h("ul", { class: "tree" }, treeNode(r.tree))))
        : [h("p", { class: "empty" }, "no other runtime reported in the last 10 s (a CLI run, a daemon)")]));
  };
  main.replaceChildren(h("h1", {}, "Supervision trees"), h("p", { class: "muted" }, "The live OTP trees: supervisors, their children and restart counts. Every runtime publishes its tree to the store every 2 s; this page refreshes as runs start and end, and every 2 s."), body);
  await render();
  const timer = setInterval(render, 2000);
  onChanges(main, debounce(render, 200));
  return { stop: () => clearInterval(timer) };
}

// -- approvals queue -------------------------------------------------------------------------------

async function approvalsPage(main) {
  const operator = state.me.role === "operator";
  const body = h("div", {});
  const note = h("p", { class: "muted" });
  const decide = async (approval, decision) => {
    const payload = {};
    if (decision === "modify") {
      const text = prompt(`New value for ${approval.checkpoint} (JSON)`, JSON.stringify(approval.value));
      if (text === null) return;
      try { payload.value = JSON.parse(text); } catch (e) { note.textContent = `not JSON: ${e.message}`; return; }
    }
    if (decision === "reject") {
      const reason = prompt("Why reject?");
      if (!reason) return;
      payload.reason = reason;
    }
    try {
      const r = await api(`/api/approvals/${encodeURIComponent(approval.id)}/${decision}`, { method: "POST", body: JSON.stringify(payload) });
      note.textContent = `${approval.checkpoint}${approval.partition ? "[" + approval.partition + "]" : ""}: ${r.status} by ${r.decided_by}`;
    } catch (e) { note.textContent = String(e.message); }
    render();
  };
  const checkpoint = h("input", { placeholder: "checkpoint" });
  const first = h("input", { placeholder: "first partition (optional)" });
  const last = h("input", { placeholder: "last partition (optional)" });
  const bulk = operator ? h("form", { class: "toolbar", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const r = await api("/api/approvals/bulk/approve", { method: "POST", body: JSON.stringify({ checkpoint: checkpoint.value, first: first.value, last: last.value }) });
      note.textContent = `approved ${r.decided.length}, skipped ${r.skipped.length}`;
    } catch (err) { note.textContent = String(err.message); }
    render();
  } }, h("b", {}, "Approve all of"), checkpoint, first, last, h("button", {}, "Approve all")) : null;
  const render = async () => {
    const data = await api("/api/approvals");
    body.replaceChildren(table(["gate", "partition", "run", "message", "value", "requested", "deadline", "status", ""],
      data.items.map((a) => [a.checkpoint, a.partition ?? "", runLink(a.run_id), a.message ?? "",
        h("pre", { class: "value" }, JSON.stringify(a.value, null, 1)), when(a.requested_at), when(a.timeout_at), badge(a.status),
        operator ? h("span", { class: "actions" },
          h("button", { "data-decision": "approve", onclick: () => decide(a, "approve") }, "Approve"),
          h("button", { class: "secondary", onclick: () => decide(a, "modify") }, "Modify"),
          h("button", { class: "danger", onclick: () => decide(a, "reject") }, "Reject")) : h("span", { class: "muted" }, "viewers cannot decide")]),
      "no gate is waiting"));
  };
  main.replaceChildren(h("h1", {}, "Approvals"), h("p", { class: "muted" }, `Decisions are recorded as ${state.me.name}; deciding resumes the run.`), bulk, note, body);
  await render();
  onChanges(main, debounce(render, 250));
}

// -- schedules and sensors --------------------------------------------------------------------------

async function automationPage(main) {
  const operator = state.me.role === "operator";
  const body = h("div", {});
  const render = async () => {
    const data = await api("/api/automation");
    const rows = (kind) => data.items.filter((i) => i.kind === kind).map((i) => [
      h("b", {}, i.name), i.definition,
      h("span", { class: `badge ${i.enabled ? "succeeded" : "cancelled"}` }, i.enabled ? "on" : "off"),
      h("div", {}, i.ticks.map((t) => h("div", { class: "small" }, badge(t.status), ` ${when(t.at)} `, t.runs.map((r) => [runLink(r), " "]), t.error ? h("span", { class: "error" }, t.error.split("\n")[0]) : null))),
      operator ? h("button", { "data-switch": `${i.kind}:${i.name}`, class: i.enabled ? "secondary" : "", onclick: async () => {
        await api(`/api/automation/${i.kind}/${encodeURIComponent(i.name)}/${i.enabled ? "off" : "on"}`, { method: "POST" });
        render();
      } }, i.enabled ? "Turn off" : "Turn on") : ""]);
    body.replaceChildren(
      h("section", { class: "card" }, h("h2", {}, "Schedules"), table(["name", "definition", "state", "recent ticks", ""], rows("schedule"), "no schedule in this pipeline")),
      h("section", { class: "card" }, h("h2", {}, "Sensors"), table(["name", "definition", "state", "recent ticks", ""], rows("sensor"), "no sensor in this pipeline")),
      h("section", { class: "card" }, h("h2", {}, "Daemons"), table(["daemon", "host", "pid", "status", "heartbeat", "runs"],
        data.daemons.map((d) => [d.id, d.host, d.pid, badge(d.status), when(d.heartbeat_at), d.runs.length]), "no daemon has run on this store (flowstone daemon)")));
  };
  main.replaceChildren(h("h1", {}, "Schedules & sensors"), h("p", { class: "muted" }, "Ticks are claimed and run by daemons (flowstone daemon); on/off persists across restarts."), body);
  await render();
  onChanges(main, debounce(render, 500));
}

// -- start -----------------------------------------------------------------------------------------

(async () => {
  state.me = await api("/api/me");
  document.getElementById("user").textContent = `${state.me.name} (${state.me.role})`;
  window.addEventListener("hashchange", route);
  connect();
  await route();
})();
