// dashboard.js: draws what the server sends: a card per node (role, term, election timer, message
// rates, gossip view, levers), every node's log side by side as RaftScope draws it (one row per
// node, one column per index, boxes coloured by term, commit and applied marks, the snapshot
// boundary, and the leader's match and next for each follower), the majority line and the event
// log. Cards are rebuilt in place a few times a second, so each button keeps its identity (and the
// keyboard focus) across updates.
import { KannaSocket, describe } from "/static/socket.js";

const $ = (id) => document.getElementById(id);
let control = false;
let nodes = [];
let health = null;

// GLOSSARY explains every word the page uses; the legend lists it and tooltips repeat it.
export const GLOSSARY = {
  leader: "Leader: the one node that takes writes in this term, appends them to its log and sends them to the others (Raft §5.3).",
  follower: "Follower: accepts the leader's entries and votes in elections. Becomes a pre-candidate if it hears from no leader within its election timeout.",
  "pre-candidate": "Pre-candidate: its election timer ran out, so it asks the others whether they would vote for it before raising the term (pre-vote, thesis §9.6). This keeps a node that was cut off from disrupting a healthy leader.",
  candidate: "Candidate: raised the term and asks for votes; it leads if a majority votes for it (Raft §5.2).",
  down: "Down: the node does not answer the web server (crashed, stopped, or unreachable).",
  term: "Term: Raft's logical clock. Each election starts a new term; at most one leader wins a term, and sometimes none does (a split vote).",
  "voted for": "Voted for: whom this node voted for in the current term; one vote per term.",
  follows: "Follows: the leader this node knows for the current term.",
  commit: "Commit: the highest index known to be stored on a majority. A committed entry is never lost or changed.",
  applied: "Applied: the highest index this node has applied to its copy of the game. It trails commit briefly.",
  "commit / applied": "Commit: highest index stored on a majority, never to be lost. Applied: highest index this node has played into its game state.",
  log: "Log: the entries this node holds, from the first after its snapshot to its last, committed or not.",
  snapshot: "Snapshot: the game state up to an index; entries before it have been discarded from the log.",
  match: "Match (leader only): the highest index the leader knows a follower has stored.",
  next: "Next (leader only): the index of the next entry the leader will send a follower.",
  voters: "Voters: members that vote and count toward a majority.",
  learners: "Learners: members that receive the log but do not vote yet, such as a node catching up after joining.",
  "election timer": "Election timer: time since this node last heard from a leader, beside the timeout at which it starts an election. On the leader: time since its last check that a majority still answers.",
  messages: "Messages: Raft messages sent plus received per second, and gossip packets per second.",
  majority: "Majority: more than half the voters. Without a majority answering, no leader can be elected and nothing can be committed.",
  alive: "Alive (gossip): the member answers probes.",
  suspect: "Suspect (gossip): a probe went unanswered; the member is declared dead unless it refutes within the suspicion timeout.",
  dead: "Dead (gossip): the suspicion timed out. Raft still counts the member until an operator removes it.",
  left: "Left (gossip): the member announced it was leaving.",
  "no-op": "No-op: an empty entry each new leader appends; committing it commits every earlier entry (Raft §5.4.2).",
  "conf change": "Configuration change: adds or removes one member (thesis §4.1).",
};

const sock = new KannaSocket({
  onMessage: receive,
  onState: (state) => {
    const el = $("conn");
    el.dataset.state = state;
    el.textContent = { connecting: "connecting…", online: "live", offline: "reconnecting…" }[state] || state;
  },
  onReopen: async (s) => {
    // The server sends its whole log again.
    $("events").replaceChildren(placeholder());
    await s.request("watch_cluster", {}, true);
  },
});

const placeholder = () => el("li", { class: "placeholder muted" }, "Nothing has happened yet: crash or isolate a node.");

let toastTimer;
function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 5000);
}

function receive(msg) {
  if (msg.type === "cluster") {
    control = msg.control;
    $("control-note").hidden = control;
    nodes = msg.nodes;
    renderNodes();
    renderLogs();
    renderSummary();
  } else if (msg.type === "health") {
    health = msg;
    renderSummary();
  } else if (msg.type === "events") {
    addEvents(msg.events);
  } else if (msg.type === "error") {
    toast(describe(msg));
  }
}

async function act(action, node, button) {
  if (button) button.disabled = true;
  try {
    await sock.request("control", node ? { action, node } : { action });
  } catch (err) {
    toast(describe(err));
  } finally {
    if (button) button.disabled = false;
  }
}

$("heal").addEventListener("click", (ev) => act("heal", 0, ev.currentTarget));

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

// ---- the legend ----

function renderLegend() {
  const dl = $("legend-terms");
  for (const [word, text] of Object.entries(GLOSSARY)) {
    if (word === "commit / applied") continue;
    dl.append(el("dt", {}, word), el("dd", {}, text.replace(/^[^:]*: /, "")));
  }
}

// ---- node cards ----

const cards = new Map(); // address -> {root, parts}

function cardFor(address) {
  if (cards.has(address)) return cards.get(address);
  const title = el("span", { class: "title" });
  const role = el("span", { class: "role" });
  const addr = el("p", { class: "addr" }, address);
  const timer = el("div", { class: "timer", title: GLOSSARY["election timer"] },
    el("span", { class: "timer-label" }), el("span", { class: "timer-bar" }, el("i")));
  const stats = el("dl", { class: "stats" });
  const gossipLabel = el("p", { class: "muted", title: "What this node's gossip (SWIM) believes of each member" }, "Gossip view");
  const gossip = el("ul", { class: "gossip", "aria-label": "Gossip view" });
  const drops = el("p", { class: "drops" });
  const buttons = {
    crash: el("button", { type: "button", class: "danger", "data-action": "crash" }, "Crash"),
    restart: el("button", { type: "button", "data-action": "restart" }, "Restart"),
    isolate: el("button", { type: "button", class: "ghost", "data-action": "isolate" }, "Isolate"),
  };
  const root = el("article", { class: "card node", "aria-label": address },
    el("h2", {}, title, role), addr, timer, stats, gossipLabel, gossip, drops,
    el("div", { class: "actions" }, buttons.crash, buttons.restart, buttons.isolate));
  const c = { root, title, role, timer, stats, gossip, drops, buttons, id: 0 };
  for (const [action, b] of Object.entries(buttons)) {
    b.addEventListener("click", () => c.id && act(action, c.id, b));
  }
  $("nodes").append(root);
  cards.set(address, c);
  return c;
}

const rate = (r) => (r >= 10 ? Math.round(r) : r.toFixed(1));

function renderNodes() {
  for (const n of nodes) {
    const c = cardFor(n.address);
    c.id = n.id;
    const name = n.id ? `node ${n.id}` : "node";
    c.root.dataset.node = n.id;
    c.root.setAttribute("aria-label", name);
    c.root.classList.toggle("leader", n.up && n.role === "leader");
    c.root.classList.toggle("down", !n.up);
    c.title.textContent = (n.up && n.role === "leader" ? "♛ " : "") + name;
    c.role.textContent = n.up ? n.role : "down";
    c.role.className = "role " + (n.up ? n.role : "down");
    c.role.title = GLOSSARY[n.up ? n.role : "down"] || "";
    c.timer.hidden = !n.up;
    if (n.up) {
      const what = n.role === "leader" ? "quorum check" : "heard from a leader";
      c.timer.querySelector(".timer-label").textContent =
        `election timer: ${what} ${n.election_elapsed_ms} ms ago · timeout ${n.election_timeout_ms} ms`;
      const frac = n.election_timeout_ms ? Math.min(1, n.election_elapsed_ms / n.election_timeout_ms) : 0;
      c.timer.querySelector("i").style.width = (frac * 100).toFixed(0) + "%";
      c.timer.classList.toggle("late", frac > 0.6 && n.role !== "leader");
    }
    const progress = n.role === "leader" ? n.progress.filter((p) => p.id !== n.id) : [];
    const rows = n.up
      ? [["term", n.term], ["voted for", n.vote ? `node ${n.vote}` : "nobody"], ["follows", n.leader ? `node ${n.leader}` : "no leader"],
         ["commit / applied", `${n.commit} / ${n.applied}`],
         ["log", n.log_size ? `${n.first_index}…${n.last_index} (${n.log_size} entries)` : `empty after the snapshot at ${n.first_index - 1}`],
         ["messages", `Raft ${rate(n.raft_per_s)}/s · gossip ${rate(n.gossip_per_s)}/s`],
         ["voters", n.voters.join(", ") || "none"], ["learners", n.learners.join(", ") || "none"],
         ...progress.map((p) => [`node ${p.id}`, `match ${p.match} · next ${p.next}` +
           (p.match >= n.last_index ? " · up to date" : ` · ${n.last_index - p.match} behind`) + (p.recent_active ? "" : " · silent")])]
      : [["status", "not answering"], ["last error", n.error || "none"]];
    // Rebuilt only when something in it changed: a page that rewrites itself four times a second
    // for nothing keeps a screen reader and a browser driver busy.
    const key = JSON.stringify(rows);
    if (key !== c.statsKey) c.stats.replaceChildren(...rows.flatMap(([k, v]) => {
      const tip = k.startsWith("node ") ? GLOSSARY.match + " " + GLOSSARY.next : GLOSSARY[k] || "";
      return [el("dt", tip ? { title: tip } : {}, k), el("dd", { "data-key": k }, String(v))];
    }));
    c.statsKey = key;
    const gossipKey = JSON.stringify(n.up ? n.gossip : []);
    if (gossipKey !== c.gossipKey) c.gossip.replaceChildren(...(n.up ? n.gossip : []).map((g) =>
      el("li", { class: `chip ${g.state}`, title: `${GLOSSARY[g.state] || g.state} ${g.address}, incarnation ${g.incarnation}` }, `${g.id}: ${g.state}`)));
    c.gossipKey = gossipKey;
    c.drops.textContent = n.up && n.drop_rules.length
      ? "Dropping traffic with node " + [...new Set(n.drop_rules.map((r) => r.peer))].join(", ")
      : "";
    c.buttons.crash.hidden = c.buttons.restart.hidden = !control;
    c.buttons.crash.disabled = !n.up || !n.id;
    c.buttons.restart.disabled = n.up || !n.id;
    c.buttons.isolate.disabled = !n.up || !n.id || n.drop_rules.length > 0;
  }
}

// ---- the majority line ----

function renderSummary() {
  const up = nodes.filter((n) => n.up);
  const term = Math.max(0, ...up.map((n) => n.term));
  const leader = up.find((n) => n.role === "leader" && n.term === term);
  let text = leader ? `node ${leader.id} won term ${term} and leads` : `term ${term}: nobody leads yet`;
  if (health) {
    const can = health.up >= health.needed;
    text += ` · needs ${health.needed} of ${health.voters}; ${health.up} answering: ` +
      (!can ? "cannot commit" : leader ? "can commit" : "can elect a leader, then commit");
  } else {
    text += ` · ${up.length} of ${nodes.length} nodes answering`;
  }
  const s = $("summary");
  s.textContent = text;
  s.title = GLOSSARY.majority;
  s.dataset.state = health ? health.state : "";
}

// ---- the logs, side by side ----

const termColor = (t) => `hsl(${(t * 67) % 360} 65% 80%)`;
const glyph = { command: "", noop: "∅", conf_change: "⚙" };

// renderLogs draws one row per node over the same window of indexes, the last ones any node has,
// as many as fit the width.
let logsKey = "";
function renderLogs(force) {
  const box = $("logs");
  const width = box.clientWidth || 600;
  const key = width + JSON.stringify(nodes.map((n) => [n.up, n.role, n.first_index, n.last_index, n.commit, n.applied,
    (n.log || []).length && n.log[n.log.length - 1].term, n.progress]));
  if (key === logsKey && force !== true) return;
  logsKey = key;
  const cell = width < 500 ? 26 : 30;
  const cols = Math.max(6, Math.floor((width - 96) / cell));
  const up = nodes.filter((n) => n.up && n.id);
  const last = Math.max(0, ...up.map((n) => n.last_index));
  const lo = Math.max(1, last - cols + 1);
  const leader = up.find((n) => n.role === "leader");
  const progress = new Map((leader ? leader.progress : []).map((p) => [p.id, p]));

  const rows = [];
  const head = el("div", { class: "logrow head", "aria-hidden": "true" }, el("span", { class: "logname" }, "index"));
  for (let i = lo; i <= Math.max(last, lo); i++) head.append(el("span", { class: "cell idx" }, i % 5 === 0 || i === lo ? String(i) : ""));
  rows.push(head);

  for (const n of nodes) {
    if (!n.id) continue;
    const row = el("div", { class: "logrow" + (n.up ? "" : " down"), "data-node": n.id });
    const byIndex = new Map((n.log || []).map((e) => [e.index, e]));
    row.append(el("span", { class: "logname", title: n.up ? `${n.role}, term ${n.term}` : "down: its last known log" },
      (n.up && n.role === "leader" ? "♛ " : "") + `node ${n.id}`));
    let lastDrawn = 0;
    for (let i = lo; i <= Math.max(last, lo); i++) {
      const e = byIndex.get(i);
      const cls = ["cell"];
      let text = "", tip = "";
      if (i < n.first_index) {
        cls.push("snap");
        tip = `index ${i}: in node ${n.id}'s snapshot (up to ${n.first_index - 1}); ${GLOSSARY.snapshot}`;
      } else if (e) {
        cls.push("entry", e.kind, i <= n.commit ? "committed" : "uncommitted");
        text = glyph[e.kind] || String(e.term);
        tip = `index ${i}, term ${e.term}: ${e.text} · ${i <= n.commit ? "committed" : "not committed yet"}` +
          (i <= n.applied ? ", applied" : "");
        lastDrawn = i;
      } else if (i <= n.last_index) {
        cls.push("unknown");
        tip = `index ${i}: held by node ${n.id}, not sent to the page`;
      } else {
        cls.push("empty");
      }
      if (i === n.commit) cls.push("commit-mark");
      if (i === n.applied) cls.push("applied-mark");
      const c = el("span", { class: cls.join(" ") }, text);
      if (e) {
        c.style.background = termColor(e.term);
        c.dataset.index = i;
        c.dataset.term = e.term;
        c.dataset.text = e.text;
        c.tabIndex = 0;
      }
      if (tip) c.title = tip;
      const p = progress.get(n.id);
      if (p && n.id !== leader.id) {
        if (i === p.match) c.append(el("b", { class: "pm", title: GLOSSARY.match }, "m"));
        if (i === p.next) c.append(el("b", { class: "pn", title: GLOSSARY.next }, "n"));
      }
      row.append(c);
    }
    row.dataset.last = lastDrawn;
    row.dataset.commit = n.commit;
    row.dataset.applied = n.applied;
    row.append(el("span", { class: "logtail" }, n.up ? `last ${n.last_index} · commit ${n.commit} · applied ${n.applied}` : "down"));
    rows.push(row);
  }
  box.replaceChildren(...rows);

  // The leader's latest entries, in words: what the cluster has been asked to do.
  const words = $("log-words");
  if (!leader) {
    words.textContent = "No leader: nothing new can be appended or committed.";
    return;
  }
  const recent = (leader.log || []).slice(-4).reverse();
  words.replaceChildren(el("span", { class: "muted" }, `Latest on the leader, node ${leader.id}: `),
    ...recent.flatMap((e, k) => [k ? " · " : "", el("span", { class: "word-entry " + e.kind, "data-index": e.index },
      `#${e.index} ${e.text}${e.index <= leader.commit ? "" : " (not committed yet)"}`)]));
}

$("logs").addEventListener("focusin", (ev) => showEntry(ev.target));
$("logs").addEventListener("mouseover", (ev) => showEntry(ev.target.closest(".cell")));
function showEntry(c) {
  if (c && c.title) $("log-detail").textContent = `node ${c.closest(".logrow").dataset.node} · ${c.title}`;
}
window.addEventListener("resize", () => renderLogs(true));

// ---- events ----

function addEvents(events) {
  const list = $("events");
  if (events.length) list.querySelector(".placeholder")?.remove();
  for (const e of events) {
    const t = new Date(e.time);
    const li = el("li", { "data-kind": e.kind },
      el("time", { datetime: e.time, title: "when it happened, by the clock of the node that told it" },
        t.toLocaleTimeString([], { hour12: false }) + "." + String(t.getMilliseconds()).padStart(3, "0")),
      el("span", { class: "kind kind-" + e.kind, title: KINDS[e.kind] || "" }, e.kind),
      el("span", {}, e.text));
    list.prepend(li);
  }
  while (list.children.length > 200) list.lastChild.remove();
}

const KINDS = {
  start: "a node started",
  term: "a new term began, or one ended with nobody elected",
  role: "a node's role changed",
  election: "a node won an election",
  commit: "the leader saw an entry stored on a majority",
  membership: "a member was added or removed",
  gossip: "a node's gossip view of a member changed",
  node: "the web server lost or regained contact with a node",
  action: "a button on this page",
  gap: "events the web server missed",
};

renderLegend();
