// jit board: plain JavaScript, no build step, nothing fetched from the network (docs/board.md).
// Views by the URL's fragment: #/ (the board), #/graph/REPO[/ID], #/issue/REPO/ID.
"use strict";

const COLS = ["ready", "in_progress", "gated", "blocked", "done", "rejected", "archived"];
const COL_TITLE = {ready: "Ready", in_progress: "In progress", gated: "Gated", blocked: "Blocked", done: "Done",
                   rejected: "Rejected", archived: "Archived"};
const STATE_COLOR = {ready: "#2e7d32", in_progress: "#1565c0", gated: "#8e24aa", blocked: "#c62828",
                     done: "#546e7a", rejected: "#8d6e63", archived: "#9e9e9e"};
const PAGE = 30;

const S = {repos: [], writes: false, token: null, filters: {}, lastChange: null, renderSeq: 0};

// ------------------------------------------------------------------ helpers

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false)
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return el;
}

function svg(tag, attrs, ...kids) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v); else el.setAttribute(k, v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return el;
}

// a colour square (set through the style object: the page's policy allows no inline style attributes)
function swatch(color) {
  const el = h("span", {class: "swatch"});
  el.style.background = color;
  return el;
}

async function api(path, opts) {
  const r = await fetch(path, opts);
  const body = await r.json().catch(() => ({error: {message: r.statusText}}));
  if (!r.ok) { const e = new Error((body.error && body.error.message) || r.statusText); e.body = body; e.status = r.status; throw e; }
  return body;
}

function qs(extra) {
  const p = new URLSearchParams();
  const f = S.filters;
  if (f.q) p.set("q", f.q);
  if (f.label) for (const l of f.label.split(",").map(s => s.trim()).filter(Boolean)) p.append("label", l);
  if (f.assignee) p.set("assignee", f.assignee);
  if (f.priority) p.set("priority", f.priority);
  for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
  const s = p.toString();
  return s ? "?" + s : "";
}

function ago(ts) {
  if (!ts) return "";
  const s = (Date.now() - Date.parse(ts)) / 1000;
  if (s < 45) return "just now";
  const units = [[60, "min", 60], [3600, "h", 24], [86400, "d", 30], [2592000, "mo", 12], [31536000, "y", 1e9]];
  for (const [div, name, max] of units) { const n = Math.round(s / div); if (n < max) return `${n} ${name} ago`; }
  return ts;
}

function toast(msg, err) {
  const t = document.getElementById("toast");
  t.textContent = msg; t.className = err ? "err" : ""; t.style.display = "block";
  clearTimeout(t._h); t._h = setTimeout(() => { t.style.display = "none"; }, err ? 8000 : 3000);
}

function repoName(r) { return encodeURIComponent(r); }

// ------------------------------------------------------------------ cards and the board

function gateChip(g) {
  const mark = {passed: "✓", failed: "✗", pending: "…"}[g.status] || "";
  return h("span", {class: `gate gate-${g.status}`, title: `${g.title} (${g.stage}): ${g.status}`}, `${mark} ${g.key}`);
}

function card(repo, it) {
  return h("div", {class: "card", "data-id": it.id, "data-state": it.state,
                   onclick: () => { location.hash = `#/issue/${repoName(repo)}/${it.id}`; }},
    h("div", {class: "title"}, it.title),
    h("div", {class: "meta"},
      h("span", {class: "sid"}, it.short_id),
      h("span", {class: `prio prio-${it.priority}`}, it.priority),
      it.assignee ? h("span", {class: "assignee"}, "@" + it.assignee) : null,
      it.gates.map(gateChip),
      it.labels.map(l => h("span", {class: "label"}, l))));
}

function countsBar(st) {
  const keys = ["total", "ready", "in_progress", "open", "blocked", "done", "rejected", "archived"];
  return h("div", {class: "counts", "data-testid": "status"},
    keys.map(k => h("span", {"data-count": k}, `${k.replace("_", " ")}: `, h("b", {}, st[k]))),
    st.conflicts.length ? h("span", {"data-count": "conflicts"}, `conflicts: ${st.conflicts.length}`) : null);
}

async function loadMore(repo, colEl, name) {
  if (colEl._loading || colEl._shown >= colEl._count) return;
  colEl._loading = true;
  try {
    const got = await api(`/api/r/${repoName(repo)}/column/${name}` + qs({offset: colEl._shown, limit: PAGE}));
    const cards = colEl.querySelector(".cards");
    const more = cards.querySelector(".more");
    for (const it of got.issues) cards.insertBefore(card(repo, it), more);
    colEl._shown += got.issues.length;
    more.textContent = colEl._shown < colEl._count ? `${colEl._count - colEl._shown} more…` : "";
  } finally { colEl._loading = false; }
}

function column(repo, col) {
  const cards = h("div", {class: "cards"}, col.issues.map(it => card(repo, it)),
    h("div", {class: "more", onclick: ev => { ev.stopPropagation(); loadMore(repo, el, col.name); }},
      col.count > col.issues.length ? `${col.count - col.issues.length} more…` : ""));
  const el = h("div", {class: `column col-${col.name}`, "data-column": col.name, "data-count": col.count},
    h("h3", {}, h("span", {}, COL_TITLE[col.name]), h("span", {class: "count"}, col.count)), cards);
  el._count = col.count; el._shown = col.issues.length;
  cards.addEventListener("scroll", () => {
    if (cards.scrollTop + cards.clientHeight > cards.scrollHeight - 120) loadMore(repo, el, col.name);
  });
  return el;
}

// the board's two layouts with several repositories: "side" (one column per repository, its
// states stacked inside: the default) and "lanes" (one row of state columns per repository),
// remembered in the URL's fragment (#/?view=lanes)
function boardLayout() {
  const v = new URLSearchParams(location.hash.split("?")[1] || "").get("view");
  if (v === "side" || v === "lanes") S.layout = v;  // kept while the reader visits an issue or the graph
  return S.layout || (S.repos.length > 1 ? "side" : "lanes");
}

function layoutToggle(cur) {
  if (S.repos.length < 2) return null;
  const opt = (v, label) => h("a", {href: `#/?view=${v}`, class: "opt" + (v === cur ? " on" : ""), "data-view": v,
                                    "aria-pressed": v === cur ? "true" : "false"}, label);
  return h("div", {class: "layout-toggle", "data-testid": "layout"}, opt("side", "Side by side"), opt("lanes", "Lanes"));
}

// the finished states, folded away in the side-by-side view until opened
const FOLDED = new Set(["done", "rejected", "archived"]);

function sideColumn(r, b, st, open) {
  return h("section", {class: "repocol", "data-repo": r.name},
    h("h2", {}, h("span", {class: "name"}, r.name),
      h("a", {href: `#/graph/${repoName(r.name)}`, class: "note"}, "graph")),
    h("div", {class: "path", title: r.path}, r.path),
    countsBar(st),
    b.columns.map(c => {
      const col = column(r.name, c);
      if (!FOLDED.has(c.name)) return col;
      const d = h("details", {class: "fold", "data-fold": c.name, open: open.has(r.name + "/" + c.name) || null},
        h("summary", {}, `${COL_TITLE[c.name]} `, h("span", {class: "count"}, c.count)), col);
      return d;
    }));
}

// "Next up": the first ready issues over every repository, in the order jit-dispatch hands them
// out (the server orders them with the dispatcher's own function: GET /api/next)
const NEXT_UP = 6;

function nextUp(n) {
  return h("div", {class: "nextup", "data-testid": "next-up"},
    h("span", {class: "nextup-title", title: `the order jit-dispatch hands out ready work: priority (one level up per ${n.escalation_hours} h waiting), age, repository`},
      "Next up"),
    n.issues.length ? n.issues.map((x, k) => h("a", {class: "nextcard", "data-repo": x.repo, "data-id": x.issue.id,
                                                      href: `#/issue/${repoName(x.repo)}/${x.issue.id}`},
      h("span", {class: "rank"}, k + 1), h("span", {class: "repo-name"}, x.repo),
      h("span", {class: `prio prio-${x.issue.priority}`}, x.issue.priority),
      h("span", {class: "title"}, x.issue.title))) : h("span", {class: "note"}, "nothing ready"),
    n.ready > n.issues.length ? h("span", {class: "note"}, `+${n.ready - n.issues.length} more ready`) : null,
    n.backing_off ? h("span", {class: "note"}, `${n.backing_off} backing off`) : null);
}

async function renderBoard(view, seq) {
  const layout = boardLayout();
  const [parts, next] = await Promise.all([Promise.all(S.repos.map(async r => {
    const [b, st] = await Promise.all([api(`/api/r/${repoName(r.name)}/board` + qs()), api(`/api/r/${repoName(r.name)}/status`)]);
    return {r, b, st};
  })), S.repos.length > 1 ? api(`/api/next?limit=${NEXT_UP}`) : null]);
  if (seq !== S.renderSeq) return;
  // keep how far each column was scrolled and which folds were open (a live update must not
  // throw the reader back to the top)
  const key = c => c.closest("[data-repo]").dataset.repo + "/" + c.dataset.column;
  const scroll = {};
  for (const c of view.querySelectorAll(".column")) scroll[key(c)] = c.querySelector(".cards").scrollTop;
  const open = new Set([...view.querySelectorAll("details.fold[open]")].map(d => d.closest("[data-repo]").dataset.repo + "/" + d.dataset.fold));
  const body = layout === "side" ?
    h("div", {class: "side", "data-testid": "side"}, parts.map(({r, b, st}) => sideColumn(r, b, st, open))) :
    parts.map(({r, b, st}) => h("section", {class: "repo", "data-repo": r.name},
      h("h2", {}, r.name, h("span", {class: "path"}, r.path),
        h("a", {href: `#/graph/${repoName(r.name)}`, class: "note"}, "graph")),
      countsBar(st),
      h("div", {class: "columns"}, b.columns.map(c => column(r.name, c)))));
  view.replaceChildren(...[next ? nextUp(next) : null, layoutToggle(layout), body].flat().filter(Boolean));
  view.dataset.layout = layout;
  for (const c of view.querySelectorAll(".column")) {
    if (scroll[key(c)]) c.querySelector(".cards").scrollTop = scroll[key(c)];
  }
}

// ------------------------------------------------------------------ the issue page

function write(repo, id, action, body) {
  return api(`/api/r/${repoName(repo)}/issue/${id}/${action}`, {
    method: "POST", headers: {"Content-Type": "application/json", "X-Jit-Token": S.token || ""},
    body: JSON.stringify(body || {})});
}

function actionsFor(repo, it) {
  if (!S.writes) return h("p", {class: "note"}, "Read-only board (start it with jit serve --allow-writes to act here).");
  const me = (S.repos.find(r => r.name === repo) || {}).actor || "";
  const act = (action, body, done) => async () => {
    try {
      await write(repo, it.id, action, body());
      for (const el of document.querySelectorAll("[data-dirty]")) delete el.dataset.dirty;
      toast(done); route();
    }
    catch (e) { toast(`${e.message}${e.body && e.body.error && e.body.error.hint ? "\nhint: " + e.body.error.hint : ""}`, true); }
  };
  const who = h("input", {id: "a-assignee", value: it.assignee || me, size: 22});
  const reason = h("input", {id: "a-reason", placeholder: "reason / note", size: 22});
  const state = h("select", {id: "a-state"}, ["open", "in_progress", "done", "rejected", "archived"].map(
    s => h("option", {selected: (it.state === s || (s === "open" && it.state === "ready")) || null}, s)));
  const prio = h("select", {id: "a-priority"}, ["critical", "high", "normal", "low"].map(
    p => h("option", {selected: it.priority === p || null}, p)));
  const gates = it.gates.filter(g => g.mode === "manual").map(g => h("span", {},
    h("button", {"data-action": `pass-${g.key}`, onclick: act(`gate/${g.key}/pass`, () => ({reason: reason.value || null}), `gate ${g.key} passed`)}, `Pass ${g.key}`), " ",
    h("button", {"data-action": `fail-${g.key}`, onclick: act(`gate/${g.key}/fail`, () => ({reason: reason.value || null}), `gate ${g.key} failed`)}, `Fail ${g.key}`)));
  return h("div", {class: "actions"},
    h("span", {class: "note"}, `acting as ${me}`),
    who, h("button", {"data-action": "claim", onclick: act("claim", () => ({assignee: who.value}), "claimed")}, "Claim"),
    h("button", {"data-action": "release", onclick: act("release", () => ({reason: reason.value || "released on the board"}), "released")}, "Release"),
    h("button", {"data-action": "assign", onclick: act("assign", () => ({assignee: who.value}), "assigned")}, "Assign"),
    reason, gates,
    state, h("button", {"data-action": "state", onclick: act("update", () => ({state: state.value}), "state changed")}, "Set state"),
    prio, h("button", {"data-action": "priority", onclick: act("update", () => ({priority: prio.value}), "priority changed")}, "Set priority"));
}

function issueLink(repo, id, title, state) {
  return h("li", {}, h("a", {href: `#/issue/${repoName(repo)}/${id}`}, id.slice(0, 8)), " ",
    state ? h("span", {class: `state state-${state}`}, state) : null, " ", title || "");
}

function describeEvent(ev) {
  const skip = new Set(["id", "type", "issue_id", "timestamp", "actor", "clock", "v", "gen"]);
  const rest = Object.entries(ev).filter(([k, v]) => !skip.has(k) && v !== null && !(typeof v === "object" && !Object.keys(v).length));
  return rest.map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" ");
}

async function renderIssue(view, seq, repo, id) {
  const base = `/api/r/${repoName(repo)}/issue/${id}`;
  const [it, evs, deps] = await Promise.all([api(base), api(base + "/events"), api(base + "/dependents")]);
  if (seq !== S.renderSeq) return;
  const depTitles = {};
  await Promise.all(it.dependencies.map(async d => {
    try { const x = await api(`/api/r/${repoName(repo)}/issue/${d}`); depTitles[d] = x; } catch (e) { depTitles[d] = null; }
  }));
  if (seq !== S.renderSeq) return;
  const ctx = Object.entries(it.context || {});
  view.replaceChildren(h("article", {class: "issue", "data-issue": it.id},
    h("div", {class: "note"}, h("a", {href: "#/"}, "← board"), " · ", repo, " · ",
      h("a", {href: `#/graph/${repoName(repo)}/${it.id}`}, "graph of this issue")),
    h("h1", {}, it.title),
    h("div", {class: "meta"}, h("span", {class: "sid"}, it.id), " ",
      h("span", {class: `state state-${it.state}`, "data-testid": "state"}, it.state), " ",
      h("span", {class: `prio prio-${it.priority}`}, it.priority), " ",
      it.assignee ? h("span", {"data-testid": "assignee"}, "@" + it.assignee) : h("span", {class: "note"}, "unassigned"), " ",
      it.labels.map(l => h("span", {class: "label"}, l))),
    h("section", {}, h("h4", {}, "Description"), h("div", {class: "desc"}, it.description || "—")),
    ctx.length ? h("section", {}, h("h4", {}, "Context"), h("table", {}, ctx.map(([k, v]) =>
      h("tr", {}, h("th", {}, k), h("td", {}, typeof v === "object" ? JSON.stringify(v) : String(v)))))) : null,
    h("section", {}, h("h4", {}, "Gates"), it.gates.length ? h("table", {"data-testid": "gates"},
      h("tr", {}, h("th", {}, "gate"), h("th", {}, "status"), h("th", {}, "stage"), h("th", {}, "by"), h("th", {}, "note")),
      it.gates.map(g => h("tr", {"data-gate": g.key},
        h("td", {}, `${g.title} (${g.key}, ${g.mode})`), h("td", {}, gateChip(g)), h("td", {}, g.stage),
        h("td", {}, g.by || ""), h("td", {}, [g.reason, g.note].filter(Boolean).join(" — "))))) : h("span", {class: "note"}, "none")),
    it.blocked_reasons.length ? h("section", {}, h("h4", {}, "Waiting for"), h("ul", {}, it.blocked_reasons.map(
      br => h("li", {}, br.type === "dependency" ? h("a", {href: `#/issue/${repoName(repo)}/${br.issue_id}`}, `${br.issue_id.slice(0, 8)} ${br.title}`)
        : br.type === "gate" ? `gate ${br.gate_key} (${br.status})` : `${br.type}: ${br.reason || br.detail || ""}`)))) : null,
    h("section", {}, h("h4", {}, "Depends on"), it.dependencies.length ? h("ul", {"data-testid": "deps"},
      it.dependencies.map(d => issueLink(repo, d, depTitles[d] && depTitles[d].title, depTitles[d] && depTitles[d].state))) : h("span", {class: "note"}, "nothing")),
    h("section", {}, h("h4", {}, "Needed by"), deps.issues.length ? h("ul", {"data-testid": "dependents"},
      deps.issues.map(d => issueLink(repo, d.id, d.title, d.state))) : h("span", {class: "note"}, "nothing")),
    h("section", {}, h("h4", {}, "Commits"), it.commits.length ? h("ul", {}, it.commits.map(c =>
      h("li", {class: "sid"}, typeof c === "string" ? c : `${(c.sha || c.commit || "").slice(0, 12)} ${c.ref || ""}`))) : h("span", {class: "note"}, "none linked")),
    h("section", {}, h("h4", {}, "Act"), actionsFor(repo, it)),
    h("section", {}, h("h4", {}, `Timeline (${evs.length})`), h("ol", {class: "timeline", "data-testid": "timeline"},
      evs.slice().reverse().map(ev => h("li", {"data-type": ev.type},
        h("span", {class: "when", title: ev.timestamp}, ago(ev.timestamp)), " ", h("b", {}, ev.type), " by ", ev.actor || "?", " ",
        h("span", {class: "note"}, describeEvent(ev))))))));
}

// ------------------------------------------------------------------ the graph

async function renderGraph(view, seq, repo, id) {
  repo = repo || (S.repos[0] && S.repos[0].name);
  const all = new URLSearchParams(location.hash.split("?")[1] || "").get("done") === "1";
  const g = await api(`/api/r/${repoName(repo)}/graph?` + new URLSearchParams(id ? {issue: id} : (all ? {done: "1"} : {})));
  if (seq !== S.renderSeq) return;
  const W = 170, H = 30;
  const pos = {};
  for (const n of g.nodes) pos[n.id] = n;
  const edges = g.edges.map(e => {
    const a = pos[e.to], b = pos[e.from];  // drawn from the dependency to what it blocks
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
    return svg("path", {class: "edge", d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 4},${y2}`, "marker-end": "url(#arrow)",
                        "data-from": e.from, "data-to": e.to});
  });
  const nodes = g.nodes.map(n => svg("g", {class: "node" + (n.id === g.issue_id ? " focus" : ""), "data-id": n.id,
                                           transform: `translate(${n.x},${n.y})`,
                                           onclick: () => { location.hash = `#/issue/${repoName(repo)}/${n.id}`; }},
    svg("title", {}, `${n.short_id} ${n.title} (${n.column}${n.assignee ? ", " + n.assignee : ""})`),
    svg("rect", {width: W, height: H, fill: STATE_COLOR[n.column] || "#777", rx: 4}),
    svg("text", {x: 6, y: 12, fill: "#fff"}, n.short_id + " · " + n.priority),
    svg("text", {x: 6, y: 25, fill: "#fff"}, n.title.length > 26 ? n.title.slice(0, 25) + "…" : n.title)));
  const s = svg("svg", {class: "graph", width: g.width, height: g.height, viewBox: `0 0 ${g.width} ${g.height}`},
    svg("defs", {}, svg("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto"},
      svg("path", {d: "M0,0 L10,5 L0,10 z", fill: "#9aa7b5"}))),
    edges, nodes);
  const zoom = h("input", {type: "range", min: "0.2", max: "1.5", step: "0.05", value: String(S.zoom || 1),
                           "aria-label": "zoom", "data-testid": "zoom"});
  const applyZoom = () => {
    S.zoom = Number(zoom.value);
    s.setAttribute("width", String(Math.round(g.width * S.zoom)));
    s.setAttribute("height", String(Math.round(g.height * S.zoom)));
  };
  zoom.addEventListener("input", applyZoom);
  applyZoom();
  const repoLinks = S.repos.length > 1 ? S.repos.map(r => h("a", {href: `#/graph/${repoName(r.name)}`}, r.name)) : [];
  view.replaceChildren(
    h("div", {class: "legend"}, h("b", {}, id ? `Dependencies of ${id.slice(0, 8)}` : `Dependency graph of ${repo}`),
      Object.entries(STATE_COLOR).map(([k, c]) => h("span", {}, swatch(c), " ", k)),
      h("span", {class: "note"}, `${g.nodes.length} of ${g.total} issues, ${g.edges.length} edges; an arrow points from a dependency to what it blocks`),
      id ? h("a", {href: `#/graph/${repoName(repo)}`}, "whole tracker") :
        h("a", {href: `#/graph/${repoName(repo)}` + (all ? "" : "?done=1")}, all ? "unfinished only" : "include finished"),
      repoLinks, h("label", {class: "note"}, "zoom ", zoom)),
    h("div", {class: "graphwrap", "data-testid": "graph"}, s));
}

// ------------------------------------------------------------------ routing and live updates

async function route() {
  const seq = ++S.renderSeq;
  document.body.dataset.busy = "1";  // a redraw is under way (tests wait for "0" before acting)
  const view = document.getElementById("view");
  const path = location.hash.replace(/^#/, "").split("?")[0].split("/").filter(Boolean).map(decodeURIComponent);
  document.getElementById("filters").style.display = path[0] ? "none" : "";
  // what the reader typed or chose on the page survives a live redraw of the same view
  const kept = view.dataset.path === path.join("/") ?
    [...view.querySelectorAll("[data-dirty][id]")].map(el => [el.id, el.value]) : [];
  try {
    if (path[0] === "issue") await renderIssue(view, seq, path[1], path[2]);
    else if (path[0] === "graph") await renderGraph(view, seq, path[1], path[2]);
    else await renderBoard(view, seq);
    if (seq !== S.renderSeq) return;
    view.dataset.path = path.join("/");
    for (const [id, value] of kept) {
      const el = document.getElementById(id);
      if (el) { el.value = value; el.dataset.dirty = "1"; }
    }
    document.body.dataset.rendered = String(seq);
  } catch (e) {
    if (seq === S.renderSeq) view.replaceChildren(h("p", {class: "note", "data-testid": "error"}, `Error: ${e.message}`));
  } finally {
    if (seq === S.renderSeq && pending === null) document.body.dataset.busy = "0";
  }
}

let pending = null;
function changed(msg) {
  S.lastChange = msg;
  document.body.dataset.changes = String(Number(document.body.dataset.changes || 0) + 1);
  clearTimeout(pending);
  document.body.dataset.busy = "1";
  pending = setTimeout(() => { pending = null; route(); }, 100);  // a burst of events is drawn once
}

function live() {
  const el = document.getElementById("live");
  const es = new EventSource("/api/stream");
  es.addEventListener("hello", () => {
    el.textContent = "live"; el.className = "live on";
    if (document.body.dataset.live === "1") changed({reconnected: true});  // what happened while cut off
    document.body.dataset.live = "1";
  });
  es.addEventListener("change", ev => changed(JSON.parse(ev.data)));
  es.onerror = () => { el.textContent = "reconnecting…"; el.className = "live"; };
}

document.addEventListener("input", ev => { if (ev.target.id) ev.target.dataset.dirty = "1"; });
document.addEventListener("change", ev => { if (ev.target.id) ev.target.dataset.dirty = "1"; });

async function main() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) { sessionStorage.setItem("jit-token", decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname + "#/"); }
  S.token = sessionStorage.getItem("jit-token");
  const info = await api("/api/repos");
  S.repos = info.repos; S.writes = info.writes;
  document.getElementById("who").textContent = (S.writes ? "writes as " : "read-only · ") +
    [...new Set(S.repos.map(r => r.actor))].join(", ");
  document.getElementById("nav-graph").href = `#/graph/${repoName(S.repos[0].name)}`;
  const form = document.getElementById("filters");
  form.addEventListener("submit", ev => {
    ev.preventDefault();
    S.filters = Object.fromEntries(new FormData(form).entries());
    route();
  });
  document.getElementById("f-clear").addEventListener("click", () => { form.reset(); S.filters = {}; route(); });
  window.addEventListener("hashchange", route);
  live();
  await route();
}

main();
