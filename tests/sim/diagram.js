// Draws the simulator's space-time diagram (laid out in diagram.go) as SVG, in the manner of
// Lamport's 1978 diagrams: one vertical lane per node, time running down, each message an arrow
// from its send to its delivery. Lanes are coloured by role, with the term written where it
// changes; faults are marks on a lane or lines across all of them. Beside it, every node's log at
// the selected moment, as RaftScope draws logs (logview.go records them). The controls step
// through messages and marks in time order, zoom the time axis, narrow the window and hide message
// types; labels are placed so that none covers another.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("data").textContent);
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.getElementById("diagram");
  const scroller = document.getElementById("scroll");
  const detail = document.getElementById("detail");
  const TOP = 16, LEFT = 70;
  let scale = 2;                // pixels per simulated millisecond
  let from = D.from, to = D.to; // the window shown, ms
  const hidden = new Set(["MsgHeartbeat", "MsgHeartbeatResp"].filter(() => D.arrows.length > 3000));
  let steps = [], current = -1;

  // placer keeps labels from covering each other: a label that would overlap one already placed
  // moves down a line, a few times at most.
  let placed = [];
  function place(x, y, text, anchorEnd, size = 10) {
    const w = text.length * size * 0.62, h = size + 3;
    const x1 = anchorEnd ? x - w : x, x2 = x1 + w;
    for (let tries = 0; tries < 12; tries++) {
      if (!placed.some((b) => x1 < b.x2 && b.x1 < x2 && y - h < b.y && b.y - h < y)) break;
      y += h;
    }
    placed.push({ x1, x2, y });
    return y;
  }

  const laneX = {};
  function layout() {
    const width = Math.max(scroller.clientWidth - 20, 300);
    // At least 70 px between lanes, so a narrow screen scrolls sideways rather than stack them.
    const gap = Math.max(70, Math.min(300, (width - LEFT - 40 - 180) / Math.max(D.nodes.length - 1, 1)));
    const heads = document.getElementById("lanes");
    heads.innerHTML = "";
    D.nodes.forEach((n, i) => {
      laneX[n] = LEFT + 40 + i * gap;
      const s = document.createElement("span");
      s.textContent = (gap < 100 ? "n" : "node ") + n;
      s.style.left = laneX[n] + "px";
      heads.appendChild(s);
    });
    return LEFT + 40 + (D.nodes.length - 1) * gap + 180;
  }
  const y = (t) => TOP + (t - from) * scale;

  function el(name, attrs, parent, text) {
    const e = document.createElementNS(svgNS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    (parent || svg).appendChild(e);
    return e;
  }
  const ms = (t) => (t / 1000).toFixed(6) + " s";

  function markers(defs) {
    for (const t of D.types) {
      const m = el("marker", { id: "head-" + t, viewBox: "0 0 10 10", refX: 9, refY: 5,
        markerWidth: 7, markerHeight: 7, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" }, defs);
      el("path", { d: "M0,0 L10,5 L0,10 z", fill: D.typeColors[t] }, m);
    }
  }

  function axis(width, height) {
    const g = el("g", { class: "axis" });
    const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
    const every = steps.find((s) => s * scale >= 40) || 10000;
    for (let t = Math.ceil(from / every) * every; t <= to; t += every) {
      el("line", { x1: LEFT, x2: width, y1: y(t), y2: y(t) }, g);
      el("text", { x: 4, y: y(t) + 3 }, g, (t / 1000).toFixed(every < 1000 ? 3 : 1) + " s");
    }
  }

  function lanes() {
    const g = el("g", { class: "lanes" });
    const last = {}, labelY = {};
    for (const s of D.segments) {
      if (s.end < from || s.at > to) continue;
      const a = Math.max(s.at, from), b = Math.min(s.end, to);
      el("rect", { x: laneX[s.node] - 4, y: y(a), width: 8, height: Math.max(y(b) - y(a), 1),
        fill: D.roleColors[s.role], stroke: s.role === "down" ? "#999" : "none",
        "stroke-dasharray": "2 2" }, g);
      const prev = last[s.node];
      if (!prev || prev.role !== s.role || prev.term !== s.term) {
        // Changes close together stack their labels rather than print over each other.
        const text = "term " + s.term + " " + s.role;
        const ly = place(laneX[s.node] + 7, Math.max(y(a) + 10, (labelY[s.node] || -Infinity) + 11), text);
        labelY[s.node] = ly;
        el("text", { class: "term", x: laneX[s.node] + 7, y: ly }, g, text);
      }
      last[s.node] = s;
    }
  }

  function arrows() {
    const g = el("g", {});
    D.arrows.forEach((a, i) => {
      if (hidden.has(a.type) || a.end < from || a.at > to) return;
      const x1 = laneX[a.from], y1 = y(a.at);
      let x2 = laneX[a.to], y2 = y(a.end);
      const dropped = a.fate.startsWith("drop");
      if (dropped && a.end === a.at) { x2 = x1 + (x2 - x1) * 0.25; y2 = y1 + 6; } // lost as it left
      const line = el("line", { class: "arrow" + (dropped ? " dropped" : ""), x1, y1, x2, y2,
        stroke: D.typeColors[a.type] || "#000",
        "marker-end": dropped ? "" : "url(#head-" + a.type + ")" }, g);
      if (dropped) el("text", { class: "drop", x: x2 - 4, y: y2 + 4 }, g, "✕");
      addStep(a.at, line, () =>
        `${ms(a.at)}  ${a.type}  node ${a.from} → node ${a.to}  term ${a.term}\n` +
        `${a.detail}\n${a.fate === "in flight" ? "still in flight at the window's end" :
          a.fate + " at " + ms(a.end) + " (after " + (a.end - a.at).toFixed(3) + " ms)"}`, false, "a" + i, a);
    });
  }

  const faultColor = { partition: "#d62728", heal: "#2ca25f", phase: "#1f77b4", violation: "#d00000", error: "#d00000" };
  function marks(width) {
    const g = el("g", {});
    D.marks.forEach((m, i) => {
      if (m.at < from || m.at > to) return;
      let e;
      if (!m.node) {
        const gg = el("g", { class: "global mark" }, g);
        e = el("line", { x1: LEFT, x2: width, y1: y(m.at), y2: y(m.at), stroke: faultColor[m.kind] || "#666" }, gg);
        const text = m.kind + " " + m.detail.slice(0, 48);
        el("text", { class: "label", x: width - 4, y: place(width - 4, y(m.at) - 3, text, true, 11), "text-anchor": "end", fill: faultColor[m.kind] || "#666" }, gg, text);
      } else {
        const x = laneX[m.node], yy = y(m.at);
        const shape = { crash: ["#d00000", "M-6,-6 L6,6 M6,-6 L-6,6"], restart: ["#2ca25f", "M-6,5 L0,-6 L6,5 z"],
          pause: ["#6a51a3", "M-5,-5 h3 v10 h-3 z M2,-5 h3 v10 h-3 z"], resume: ["#6a51a3", "M-5,-6 L6,0 L-5,6 z"],
          role: ["#333", "M0,-4 L4,0 L0,4 L-4,0 z"], gossip: ["#17becf", "M-3,-3 h6 v6 h-6 z"] }[m.kind] || ["#d00000", "M-5,-5 h10 v10 h-10 z"];
        e = el("path", { class: "mark", d: shape[1], transform: `translate(${x},${yy})`,
          stroke: shape[0], "stroke-width": m.kind === "crash" ? 3 : 1,
          fill: m.kind === "crash" ? "none" : shape[0] }, g);
        const label = m.kind === "gossip" ? m.detail.split(" inc=")[0] : m.kind;
        if (m.kind !== "role") el("text", { class: "label", x: x - 10, y: place(x - 10, yy + 3, label, true), "text-anchor": "end", fill: shape[0] }, g, label);
      }
      addStep(m.at, e, () => `${ms(m.at)}  ${m.kind}${m.node ? "  node " + m.node : ""}` +
        `${m.term && m.kind !== "role" ? "  term " + m.term : ""}\n${m.detail}`, true, "m" + i, m);
    });
  }

  function addStep(at, elem, text, isMark, key, item) {
    elem.addEventListener("click", () => select(steps.findIndex((s) => s.elem === elem)));
    steps.push({ at, elem, text, isMark, key, item });
  }

  // render redraws everything and selects again the event that was selected, by identity, or the
  // first one at or after its time when it is no longer drawn (its type hidden, or out of the
  // window).
  function render() {
    const keep = current >= 0 && steps[current] ? steps[current] : null;
    svg.innerHTML = "";
    steps = [];
    placed = [];
    const width = layout();
    const height = TOP * 2 + (to - from) * scale;
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    markers(el("defs", {}));
    axis(width, height);
    lanes();
    arrows();
    marks(width);
    if (D.capAt && D.capAt >= from && D.capAt <= to) {
      const g = el("g", { class: "global" });
      el("line", { x1: LEFT, x2: width, y1: y(D.capAt), y2: y(D.capAt), stroke: "#000" }, g);
      el("text", { x: width - 4, y: y(D.capAt) - 3, "text-anchor": "end" }, g,
        `message cap: ${D.drawn} drawn, later messages are not (--html-window, --html-max)`);
    }
    steps.sort((a, b) => a.at - b.at);
    document.getElementById("scale").textContent = " " + scale + " px/ms ";
    document.getElementById("from").value = from.toFixed(0);
    document.getElementById("to").value = to.toFixed(0);
    current = -1;
    if (keep !== null) {
      const same = steps.findIndex((s) => s.key === keep.key);
      select(same >= 0 ? same : Math.max(0, steps.findIndex((s) => s.at >= keep.at)));
    } else {
      showLogs(from, null);
    }
  }

  function select(i) {
    if (!steps.length) return;
    i = Math.max(0, Math.min(steps.length - 1, i));
    if (current >= 0 && steps[current]) steps[current].elem.classList.remove("current");
    current = i;
    const s = steps[i];
    s.elem.classList.add("current");
    detail.textContent = `event ${i + 1} of ${steps.length}: ` + s.text();
    const target = y(s.at) - scroller.clientHeight / 2;
    if (Math.abs(scroller.scrollTop - target) > scroller.clientHeight / 3) scroller.scrollTop = target;
    showLogs(s.at, s.item);
  }
  function nextMark(dir) {
    for (let i = current + dir; i >= 0 && i < steps.length; i += dir) if (steps[i].isMark) return select(i);
  }
  // zoom keeps the selected event, or else the middle of the view, where it was on the screen.
  function zoom(f) {
    const sel = current >= 0 && steps[current] ? steps[current].at : null;
    const anchor = sel !== null ? sel : from + (scroller.scrollTop + scroller.clientHeight / 2 - TOP) / scale;
    const offset = y(anchor) - scroller.scrollTop;
    scale = Math.min(64, Math.max(1 / 64, scale * f));
    render();
    scroller.scrollTop = y(anchor) - offset;
  }

  // ---- the log panel: every node's log at the selected moment ----

  const logPanel = document.getElementById("logpanel");
  const logAt = document.getElementById("log-at");
  const termColor = (t) => t ? `hsl(${(t * 67) % 360} 65% 80%)` : "#eee";

  // logsAt replays the frames up to time t.
  function logsAt(t) {
    const logs = {};
    for (const n of D.nodes) logs[n] = { terms: [], first: 1, commit: 0, applied: 0 };
    for (const f of D.logs) {
      if (f.at > t) break;
      const l = logs[f.node];
      l.terms.length = f.keep;
      for (const x of f.terms || []) l.terms.push(x);
      l.first = f.first; l.commit = f.commit; l.applied = f.applied;
    }
    return logs;
  }
  const roleAt = (n, t) => {
    let r = "Follower";
    for (const s of D.segments) if (s.node === n && s.at <= t) r = s.role;
    return r;
  };

  // showLogs draws the logs at time t, centred on the index the selected item names, if any
  // ("entry 70", "index=70", "idx=70"), else ending at the longest log.
  function showLogs(t, item) {
    if (!logPanel) return;
    const logs = logsAt(t);
    const lastMax = Math.max(1, ...D.nodes.map((n) => logs[n].terms.length));
    const m = item && /(?:entry |index=|idx=)(\d+)/.exec(item.detail || "");
    const focus = m ? parseInt(m[1], 10) : 0;
    const cols = Math.max(8, Math.floor((logPanel.clientWidth - 90) / 17));
    let hi = Math.min(lastMax, focus ? focus + Math.floor(cols / 3) : lastMax);
    hi = Math.max(hi, Math.min(lastMax, cols));
    const lo = Math.max(1, hi - cols + 1);
    logAt.textContent = `at ${(t / 1000).toFixed(6)} s` + (focus ? `, around index ${focus}` : "");
    const rows = [];
    const head = document.createElement("div");
    head.className = "logrow head";
    head.innerHTML = `<span class="ln">index</span>`;
    for (let i = lo; i <= hi; i++) {
      const c = document.createElement("span");
      c.className = "lc idx" + (i === focus ? " focus" : "");
      c.textContent = i === lo || i === focus || i % 5 === 0 ? i : "";
      head.appendChild(c);
    }
    rows.push(head);
    for (const n of D.nodes) {
      const l = logs[n], role = roleAt(n, t);
      const row = document.createElement("div");
      row.className = "logrow" + (role === "down" ? " down" : "");
      row.dataset.node = n;
      row.dataset.last = l.terms.length;
      row.dataset.commit = l.commit;
      row.dataset.applied = l.applied;
      row.title = `node ${n}: ${role}; last index ${l.terms.length}, commit ${l.commit}, applied ${l.applied}` +
        (l.first > 1 ? `, snapshot up to ${l.first - 1}` : "");
      const name = document.createElement("span");
      name.className = "ln";
      name.textContent = (role === "Leader" ? "♛" : "") + "n" + n + (role === "down" ? " ✕" : "");
      row.appendChild(name);
      for (let i = lo; i <= hi; i++) {
        const c = document.createElement("span");
        const term = l.terms[i - 1];
        const cls = ["lc"];
        if (term === undefined) cls.push("none");
        else {
          cls.push(i <= l.commit ? "committed" : "uncommitted");
          if (i < l.first) cls.push("snap");
          c.style.background = termColor(term);
          c.textContent = term || "";
          c.dataset.index = i;
          c.dataset.term = term;
          c.title = `node ${n}, index ${i}: term ${term || "?"} · ${i <= l.commit ? "committed" : "not committed"}` +
            (i <= l.applied ? ", applied" : "") + (i < l.first ? " · in the snapshot" : "");
        }
        if (i === l.commit) cls.push("commit");
        if (i === l.applied) cls.push("applied");
        if (i === focus) cls.push("focus");
        c.className = cls.join(" ");
        row.appendChild(c);
      }
      const tail = document.createElement("span");
      tail.className = "lt";
      tail.textContent = `c${l.commit}`;
      row.appendChild(tail);
      rows.push(row);
    }
    logPanel.replaceChildren(...rows);
  }

  const on = (id, f) => document.getElementById(id).addEventListener("click", f);
  on("first", () => select(0));
  on("prev", () => select(current - 1));
  on("next", () => select(current + 1));
  // End goes to the violation when there is one: the event the page exists to show.
  const lastStep = () => {
    for (let i = steps.length - 1; i >= 0; i--) if (steps[i].item && steps[i].item.kind === "violation") return i;
    return steps.length - 1;
  };
  on("last", () => select(lastStep()));
  on("prevMark", () => nextMark(-1));
  on("nextMark", () => nextMark(1));
  on("zoomIn", () => zoom(2));
  on("zoomOut", () => zoom(0.5));
  on("apply", () => {
    const f = parseFloat(document.getElementById("from").value), t = parseFloat(document.getElementById("to").value);
    if (!isNaN(f) && !isNaN(t) && t > f) { from = Math.max(D.from, f); to = Math.min(D.to, t); render(); }
  });
  on("all", () => { from = D.from; to = D.to; render(); });
  document.querySelectorAll("#legend label.type").forEach((l) => {
    const box = l.querySelector("input");
    box.checked = !hidden.has(l.dataset.type);
    box.addEventListener("change", () => {
      if (box.checked) hidden.delete(l.dataset.type); else hidden.add(l.dataset.type);
      render();
    });
  });
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" && e.target.type !== "checkbox") return;
    const k = { ArrowRight: () => select(current + 1), j: () => select(current + 1),
      ArrowLeft: () => select(current - 1), k: () => select(current - 1),
      ArrowDown: () => nextMark(1), ArrowUp: () => nextMark(-1),
      Home: () => select(0), End: () => select(lastStep()),
      "+": () => zoom(2), "=": () => zoom(2), "-": () => zoom(0.5) }[e.key];
    if (k) { k(); e.preventDefault(); }
  });
  // The diagram and the side panel fill the window below the header.
  function fit() {
    const main = document.getElementById("main");
    main.style.height = Math.max(320, window.innerHeight - main.getBoundingClientRect().top - 6) + "px";
  }
  window.addEventListener("resize", () => { fit(); render(); });
  scroller.addEventListener("scroll", () => {
    document.getElementById("lanes").style.transform = `translateX(${-scroller.scrollLeft}px)`;
  });
  fit();
  // A link may name a moment and a zoom: page.html#t=4100&z=8 selects the first event at or after
  // 4.1 s at 8 px/ms.
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.has("z")) scale = Math.min(64, Math.max(1 / 64, parseFloat(hash.get("z")) || scale));
  render();
  if (hash.has("t")) {
    const t = parseFloat(hash.get("t"));
    select(Math.max(0, steps.findIndex((s) => s.at >= t)));
  }
})();
