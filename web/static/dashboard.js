// dashboard.js: draws the node cards and the event log that the server sends, and turns the buttons
// into "control" requests. Cards are rebuilt in place a few times a second, so each button keeps
// its identity (and the keyboard focus) across updates.
import { KannaSocket, describe } from "/static/socket.js";

const $ = (id) => document.getElementById(id);
let control = false;

const sock = new KannaSocket({
  onMessage: receive,
  onState: (state) => {
    const el = $("conn");
    el.dataset.state = state;
    el.textContent = { connecting: "connecting…", online: "live", offline: "reconnecting…" }[state] || state;
  },
  onReopen: async (s) => {
    // The server sends its whole log again.
    $("events").replaceChildren(el("li", { class: "placeholder muted" }, "Nothing has happened yet: crash or isolate a node."));
    await s.request("watch_cluster", {}, true);
  },
});

let toastTimer;
function toast(text) {
  const el = $("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 5000);
}

function receive(msg) {
  if (msg.type === "cluster") {
    control = msg.control;
    $("control-note").hidden = control;
    renderNodes(msg.nodes);
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

const cards = new Map(); // address -> {root, parts}

function cardFor(address) {
  if (cards.has(address)) return cards.get(address);
  const title = el("span", { class: "title" });
  const role = el("span", { class: "role" });
  const addr = el("p", { class: "addr" }, address);
  const stats = el("dl", { class: "stats" });
  const gossipLabel = el("p", { class: "muted" }, "Gossip view");
  const gossip = el("ul", { class: "gossip", "aria-label": "Gossip view" });
  const drops = el("p", { class: "drops" });
  const buttons = {
    crash: el("button", { type: "button", class: "danger", "data-action": "crash" }, "Crash"),
    restart: el("button", { type: "button", "data-action": "restart" }, "Restart"),
    isolate: el("button", { type: "button", class: "ghost", "data-action": "isolate" }, "Isolate"),
  };
  const root = el("article", { class: "card node", "aria-label": address },
    el("h2", {}, title, role), addr, stats, gossipLabel, gossip, drops,
    el("div", { class: "actions" }, buttons.crash, buttons.restart, buttons.isolate));
  const c = { root, title, role, stats, gossip, drops, buttons, id: 0 };
  for (const [action, b] of Object.entries(buttons)) {
    b.addEventListener("click", () => c.id && act(action, c.id, b));
  }
  $("nodes").append(root);
  cards.set(address, c);
  return c;
}

function renderNodes(nodes) {
  let leader = 0, term = 0, up = 0;
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
    if (n.up) {
      up++;
      if (n.role === "leader") leader = n.id;
      term = Math.max(term, n.term);
    }
    const rows = n.up
      ? [["term", n.term], ["voted for", n.vote || "nobody"], ["follows", n.leader ? `node ${n.leader}` : "no leader"],
         ["commit / applied", `${n.commit} / ${n.applied}`], ["log", `${n.first_index}…${n.last_index} (${n.log_size} entries)`],
         ["voters", n.voters.join(", ") || "none"], ["learners", n.learners.join(", ") || "none"],
         ...(n.role === "leader" && n.progress.length
           ? [["followers' match", n.progress.filter((p) => p.id !== n.id).map((p) => `${p.id}: ${p.match}`).join(", ")]]
           : [])]
      : [["status", "not answering"], ["last error", n.error || "none"]];
    c.stats.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-key": k }, String(v))]));
    c.gossip.replaceChildren(...(n.up ? n.gossip : []).map((g) =>
      el("li", { class: `chip ${g.state}`, title: `${g.address}, incarnation ${g.incarnation}` }, `${g.id}: ${g.state}`)));
    c.drops.textContent = n.up && n.drop_rules.length
      ? "Dropping traffic with node " + [...new Set(n.drop_rules.map((r) => r.peer))].join(", ")
      : "";
    c.buttons.crash.hidden = c.buttons.restart.hidden = !control;
    c.buttons.crash.disabled = !n.up || !n.id;
    c.buttons.restart.disabled = n.up || !n.id;
    c.buttons.isolate.disabled = !n.up || !n.id || n.drop_rules.length > 0;
  }
  $("summary").textContent = leader
    ? `${up} of ${nodes.length} nodes answering · node ${leader} leads term ${term}`
    : `${up} of ${nodes.length} nodes answering · no leader right now (term ${term})`;
}

function addEvents(events) {
  const list = $("events");
  list.querySelector(".placeholder")?.remove();
  for (const e of events) {
    const t = new Date(e.time);
    const li = el("li", {},
      el("time", { datetime: e.time }, t.toLocaleTimeString([], { hour12: false }) + "." + String(t.getMilliseconds()).padStart(3, "0")),
      el("span", { class: "kind kind-" + e.kind }, e.kind),
      el("span", {}, e.text));
    list.prepend(li);
  }
  while (list.children.length > 200) list.lastChild.remove();
}
