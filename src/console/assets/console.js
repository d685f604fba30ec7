// iamgate console: plain JS, no dependencies, no build step.
// Every value from the gateway is attacker-influenced (principals, paths,
// policy text): it reaches the page only as text nodes (append/textContent),
// never as markup.
"use strict";
(function () {
  const MAX_ROWS = 5000;
  const DECIDED = ["allow", "explicit_deny", "implicit_deny", "audit_deny"];
  const RESET = { "X-Iamgate-Console": "reset" };
  const $ = (id) => document.getElementById(id);

  // An element with attributes and children (strings become text nodes).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  const state = { seen: new Map(), paused: false, pending: [], dropped: 0, selected: null, learnedDirty: false };

  // ---- decisions table -------------------------------------------------

  // The action a row shows: the one that decided (the denied one on a denial).
  function decidingAction(r) {
    const acts = r.actions || [];
    return acts.find((a) => a.decision !== "allow" && a.decision !== "not_evaluated") || acts[0] || null;
  }

  function badgeClass(decision) {
    return "d d-" + (DECIDED.includes(decision) ? decision : "other");
  }

  function timeOf(t) {
    const m = /T(\d\d:\d\d:\d\d(?:\.\d{1,3})?)/.exec(t || "");
    return m ? m[1] : String(t || "");
  }

  function rowOf(e) {
    const a = decidingAction(e);
    const request = e.method + " " + e.path + (e.query ? "?" + e.query : "");
    const reason = e.deciding || (e.error ? e.error.message : "");
    const tr = el("tr", { "data-seq": String(e.seq) },
      el("td", { class: "time" }, timeOf(e.time)),
      el("td", { class: "principal" }, e.principal || "—"),
      el("td", { class: "request" }, request),
      el("td", { class: "action" }, a ? a.action : "—"),
      el("td", { class: "resource" }, a ? a.resource : "—"),
      el("td", { class: "decision" }, el("span", { class: badgeClass(e.decision) }, e.decision)),
      el("td", { class: "reason" }, reason),
      el("td", { class: "num" }, (e.latency_us / 1000).toFixed(1) + " ms"));
    tr.addEventListener("click", () => select(e.seq, tr));
    return tr;
  }

  function filters() {
    return {
      principal: $("f-principal").value.trim().toLowerCase(),
      service: $("f-service").value,
      decision: $("f-decision").value,
      action: $("f-action").value.trim().toLowerCase(),
    };
  }

  function matches(e, f) {
    if (f.principal && !(e.principal || "").toLowerCase().includes(f.principal)) return false;
    if (f.service && e.service !== f.service) return false;
    if (f.decision === "deny" && !["explicit_deny", "implicit_deny", "audit_deny"].includes(e.decision)) return false;
    if (f.decision === "other" && DECIDED.includes(e.decision)) return false;
    if (f.decision && !["deny", "other"].includes(f.decision) && e.decision !== f.decision) return false;
    if (f.action && !(e.actions || []).some((a) => a.action.toLowerCase().includes(f.action))) return false;
    return true;
  }

  function applyFilters() {
    const f = filters();
    for (const [, item] of state.seen) item.tr.hidden = !matches(item.entry, f);
    updateCounts();
  }

  function noteService(s) {
    if (!s) return;
    const sel = $("f-service");
    if ([...sel.options].some((o) => o.value === s)) return;
    sel.append(el("option", { value: s }, s));
  }

  function add(e) {
    if (state.seen.has(e.seq)) return;
    const tr = rowOf(e);
    tr.hidden = !matches(e, filters());
    $("decisions").tBodies[0].prepend(tr);
    state.seen.set(e.seq, { entry: e, tr });
    noteService(e.service);
    while (state.seen.size > MAX_ROWS) {
      const [oldest, item] = state.seen.entries().next().value;
      item.tr.remove();
      state.seen.delete(oldest);
    }
    state.learnedDirty = true;
  }

  function updateCounts() {
    const shown = [...state.seen.values()].filter((i) => !i.tr.hidden).length;
    let text = shown + " of " + state.seen.size + " shown";
    if (state.pending.length) text += " · " + state.pending.length + " waiting (paused)";
    if (state.dropped) text += " · " + state.dropped + " lost (slow page)";
    $("counts").textContent = text;
    $("empty").hidden = state.seen.size > 0;
  }

  function setStatus(text, cls) {
    const s = $("status");
    s.textContent = text;
    s.className = "status " + cls;
  }

  function clearTable() {
    for (const [, item] of state.seen) item.tr.remove();
    state.seen.clear();
    updateCounts();
  }

  // ---- live stream -----------------------------------------------------

  function connect() {
    const es = new EventSource("/-/events");
    let broke = false;
    es.addEventListener("open", () => {
      // After a reconnect the backlog comes again (and the gateway may have
      // restarted with new sequence numbers): start from it.
      if (broke) { clearTable(); state.pending = []; }
      setStatus(state.paused ? "paused" : "live", state.paused ? "paused" : "live");
    });
    es.addEventListener("error", () => { broke = true; setStatus("disconnected", "down"); });
    es.addEventListener("decision", (m) => {
      const e = JSON.parse(m.data);
      if (state.paused) state.pending.push(e); else add(e);
      updateCounts();
    });
    es.addEventListener("dropped", (m) => { state.dropped += Number(m.data) || 0; updateCounts(); });
  }

  function togglePause() {
    state.paused = !state.paused;
    $("pause").textContent = state.paused ? "Resume" : "Pause";
    setStatus(state.paused ? "paused" : "live", state.paused ? "paused" : "live");
    if (!state.paused) {
      for (const e of state.pending) add(e);
      state.pending = [];
    }
    updateCounts();
  }

  // ---- explanation -----------------------------------------------------

  function sourceText(src) {
    if (!src) return "";
    if (src.type === "org") return "organisation level " + src.level + " (" + src.node + ")";
    if (src.type === "session") return "session policy";
    return "identity policies";
  }

  function outcomeText(s) {
    switch (s.outcome) {
      case "matched": return "matched";
      case "action_not_matched": return "action not matched";
      case "resource_not_matched": return "resource not matched";
      case "condition_failed": {
        const vals = s.request_values ? JSON.stringify(s.request_values) : "absent";
        return "condition failed: " + s.operator + " " + s.key + " (request: " + vals + ")";
      }
      default: return String(s.outcome);
    }
  }

  function statementLine(s) {
    const ref = s.statement;
    const name = ref.policy + "#" + ref.index + (ref.sid ? " (" + ref.sid + ")" : "");
    return el("li", { class: "o-" + s.outcome + " e-" + s.effect },
      s.effect + " " + name + " — " + outcomeText(s));
  }

  function contextList(ctx) {
    const dl = el("dl", { class: "kv" });
    for (const [k, v] of Object.entries(ctx || {})) {
      dl.append(el("dt", null, k), el("dd", null, v === null ? "absent" : JSON.stringify(v)));
    }
    return dl;
  }

  function actionBlock(a) {
    const div = el("div", { class: "action-trace" },
      el("h3", null, a.action + " on " + a.resource),
      el("p", null, el("span", { class: badgeClass(a.decision) }, a.decision), " ", a.summary,
        a.logged !== a.decision ? " (the gateway decided " + a.logged + ")" : ""));
    if (Object.keys(a.context || {}).length) div.append(el("h4", null, "Request values"), contextList(a.context));
    if ((a.unlogged_keys || []).length) div.append(el("p", { class: "muted" }, "Not logged (absent here): " + a.unlogged_keys.join(", ")));
    let last = null;
    let list = null;
    for (const s of a.statements) {
      const src = sourceText(s.statement.source);
      if (src !== last) {
        div.append(el("h4", null, src));
        list = el("ul", { class: "trace" });
        div.append(list);
        last = src;
      }
      list.append(statementLine(s));
    }
    if (!a.statements.length) div.append(el("p", { class: "muted" }, "No statement applies to this principal."));
    return div;
  }

  function renderExplain(doc) {
    const box = $("explain");
    box.replaceChildren();
    const dl = el("dl", { class: "kv" },
      el("dt", null, "principal"), el("dd", null, doc.principal || "—"),
      el("dt", null, "request id"), el("dd", null, doc.request_id),
      el("dt", null, "decision"), el("dd", null, el("span", { class: badgeClass(doc.decision) }, doc.decision)),
      el("dt", null, "deciding"), el("dd", null, doc.deciding || (doc.error ? doc.error.message : "—")),
      el("dt", null, "snapshot"), el("dd", null, doc.snapshot_now));
    box.append(dl);
    if (doc.note) box.append(el("p", { class: "muted note" }, doc.note));
    for (const a of doc.actions) box.append(actionBlock(a));
  }

  async function select(seq, tr) {
    if (state.selected) state.selected.classList.remove("selected");
    state.selected = tr;
    tr.classList.add("selected");
    const box = $("explain");
    box.replaceChildren(el("p", { class: "muted" }, "loading…"));
    try {
      const r = await fetch("/-/console/explain?seq=" + encodeURIComponent(seq));
      const doc = await r.json();
      if (!r.ok) { box.replaceChildren(el("p", { class: "err" }, doc.message || doc.error)); return; }
      renderExplain(doc);
    } catch (err) {
      box.replaceChildren(el("p", { class: "err" }, String(err)));
    }
  }

  // ---- learned policies ------------------------------------------------

  async function copyText(text, button) {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch (err) {
      button.textContent = "Select and copy";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  }

  function learnedItem(p) {
    const text = JSON.stringify(p.document, null, 2);
    const copy = el("button", { type: "button", class: "copy" }, "Copy");
    copy.addEventListener("click", () => copyText(text, copy));
    return el("div", { class: "learned-item", "data-principal": p.principal },
      el("h3", null, el("span", { class: "principal" }, p.principal), copy),
      el("p", { class: "muted" }, p.name + " · " + p.requests + " request(s), " + p.denied + " denied"),
      el("pre", { class: "policy" }, text));
  }

  async function loadLearned() {
    state.learnedDirty = false;
    const box = $("learned");
    try {
      const r = await fetch("/-/learned");
      const doc = await r.json();
      box.replaceChildren();
      for (const p of doc.policies || []) box.append(learnedItem(p));
      if ((doc.roots || []).length) box.append(el("p", { class: "muted" }, "Account roots (not restricted by identity policies): " + doc.roots.join(", ")));
      if (doc.dropped_pairs) box.append(el("p", { class: "err" }, doc.dropped_pairs + " pair(s) refused by the bound (" + doc.capacity + ")"));
      if (!box.childNodes.length) box.append(el("p", { class: "muted" }, "Nothing learned yet."));
    } catch (err) {
      box.replaceChildren(el("p", { class: "err" }, String(err)));
    }
  }

  async function post(path) {
    const r = await fetch(path, { method: "POST", headers: RESET });
    if (!r.ok) throw new Error(path + ": " + r.status);
  }

  // ---- snapshot --------------------------------------------------------

  function errorLine(d) {
    // `location` is the file with its place (line:column or JSON pointer).
    return el("li", { class: d.warning ? "" : "err" }, (d.warning ? "warning: " : "") + (d.location || d.file) + ": " + d.message);
  }

  function diffBlock(diff) {
    if (!diff) return el("p", { class: "muted" }, "No reload yet.");
    const div = el("div", null, el("p", null, "Access diff of the last reload: +" + diff.gained + " gained, −" + diff.lost + " lost" + (diff.complete ? "" : " (incomplete)")));
    const ul = el("ul", { class: "diff" });
    for (const c of diff.changes || []) ul.append(el("li", { class: c.change === "gained" ? "ok" : "err" }, (c.change === "gained" ? "+ " : "− ") + c.principal + " " + c.action));
    div.append(ul);
    if (diff.omitted) div.append(el("p", { class: "muted" }, diff.omitted + " more not listed"));
    return div;
  }

  async function loadSnapshot() {
    const box = $("snapshot");
    try {
      const s = await (await fetch("/-/snapshot")).json();
      const lr = s.last_reload || {};
      const c = s.counts || {};
      const dl = el("dl", { class: "kv" },
        el("dt", null, "digest"), el("dd", { id: "digest" }, s.digest),
        el("dt", null, "loaded"), el("dd", null, new Date(s.loaded_at * 1000).toISOString()),
        el("dt", null, "counts"), el("dd", null, c.policies + " policies, " + c.routes + " routes, " + c.principals + " principals, " + c.services + " services"),
        el("dt", null, "last reload"), el("dd", { class: lr.ok ? "ok" : "err" }, lr.at ? (lr.ok ? "ok at " : "failed at ") + new Date(lr.at * 1000).toISOString() : "none since start"));
      const errors = el("ul", { class: "errors" });
      for (const d of (lr.errors || []).concat(s.warnings || [])) errors.append(errorLine(d));
      box.replaceChildren(dl, errors, diffBlock(s.access_diff));
    } catch (err) {
      box.replaceChildren(el("p", { class: "err" }, String(err)));
    }
  }

  // ---- wiring ----------------------------------------------------------

  function start() {
    for (const id of ["f-principal", "f-action"]) $(id).addEventListener("input", applyFilters);
    for (const id of ["f-service", "f-decision"]) $(id).addEventListener("change", applyFilters);
    $("filters").addEventListener("submit", (ev) => ev.preventDefault());
    $("pause").addEventListener("click", togglePause);
    $("clear").addEventListener("click", async () => { await post("/-/console/reset"); clearTable(); });
    $("learned-refresh").addEventListener("click", loadLearned);
    $("learned-reset").addEventListener("click", async () => { await post("/-/learned/reset"); loadLearned(); });
    $("snapshot-refresh").addEventListener("click", loadSnapshot);
    connect();
    loadLearned();
    loadSnapshot();
    setInterval(() => { if (state.learnedDirty && !state.paused) loadLearned(); }, 2000);
    setInterval(loadSnapshot, 10000);
    updateCounts();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
