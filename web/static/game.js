// game.js: the lobby and the game page. It draws whatever room state the server sends last (the
// state comes from a node's Watch stream, after Raft has committed it) and turns key presses into
// guess requests; it keeps no game rules of its own.
import { KannaSocket, describe, randomID } from "/static/socket.js";

const $ = (id) => document.getElementById(id);
const ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"];
const NAME_KEY = "kanna.player";
const TOKEN_KEY = "kanna.token";

// The player's secret, drawn once per browser: the name this browser joins under is its own, and
// another browser cannot take it over (docs/protocol.md, "Players").
function playerToken() {
  let t = localStorage.getItem(TOKEN_KEY);
  if (!t) {
    t = randomID() + randomID();
    localStorage.setItem(TOKEN_KEY, t);
  }
  return t;
}

const roomFromPath = () => {
  const m = location.pathname.match(/^\/room\/(.+)$/);
  return m ? decodeURIComponent(m[1]) : "";
};

const page = {
  room: roomFromPath(),
  player: "",
  joined: false,
  state: null,
  lastServed: "",
  pending: "",  // the letter sent and not yet answered
  failed: null, // {letter, why}: the last guess that did not go through, until retried
  health: null, // the cluster's health, as the server last judged it
};

const sock = new KannaSocket({
  onMessage: receive,
  onState: showConnection,
  onReopen: async (s) => {
    if (page.room) {
      const fields = { room: page.room };
      if (page.joined) Object.assign(fields, { player: page.player, token: playerToken() });
      await s.request("watch_room", fields, true);
    }
  },
});

function showConnection(state, reason) {
  const el = $("conn");
  el.dataset.state = state;
  el.textContent = { connecting: "connecting…", online: "live", offline: "reconnecting…" }[state] || state;
  if (state === "offline" && reason) el.title = reason;
}

let toastTimer;
function toast(text) {
  const el = $("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 4000);
}

function receive(msg) {
  if (msg.type === "health") {
    showHealth(msg);
  } else if (msg.type === "room" && msg.state.room === page.room) {
    render(msg.state);
  } else if (msg.type === "error" && msg.code === "not_found" && msg.room === page.room && !msg.seq) {
    // Joining creates it: say so in the status line, not in an error toast.
    $("status").textContent = `Room “${page.room}” does not exist yet: join to create it.`;
  } else if (msg.type === "error") {
    toast(describe(msg));
  }
}

// showHealth puts up or takes down the banner that says why guesses cannot commit right now.
function showHealth(h) {
  page.health = h;
  const el = $("health");
  if (!el) return;
  el.hidden = h.state === "ok";
  el.dataset.state = h.state;
  el.textContent = h.state === "ok" ? "" : h.text + (h.state === "no_majority"
    ? ". Guesses wait until enough nodes are back: restart one from the dashboard."
    : " Guesses wait for it; this usually takes about a second.");
  if (page.state) showStatus(page.state);
}

// inWords says why a request failed, for a player: never gRPC's text.
function inWords(err) {
  if (err && err.code === "unavailable") {
    const h = page.health;
    if (h && h.state === "no_majority") return `the cluster has no majority (${h.up} of ${h.voters} nodes up), so nothing can be committed`;
    return "the cluster did not commit it in time (it was probably electing a leader)";
  }
  return describe(err);
}

// ---- lobby ----

async function loadRooms() {
  const list = $("rooms");
  try {
    const resp = await sock.request("list_rooms");
    list.replaceChildren();
    if (resp.rooms.length === 0) {
      list.innerHTML = '<li class="muted">No rooms yet: create the first one.</li>';
      return;
    }
    for (const r of resp.rooms) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "/room/" + encodeURIComponent(r.room);
      a.textContent = r.room;
      const meta = document.createElement("span");
      meta.className = "muted";
      const n = r.players.length;
      meta.textContent = ` · ${n} player${n === 1 ? "" : "s"} · round ${r.round} · ${r.status}`;
      li.append(a, meta);
      list.append(li);
    }
  } catch (err) {
    list.innerHTML = "";
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "Could not list rooms: " + describe(err);
    list.append(li);
  }
}

function setupLobby() {
  $("lobby").hidden = false;
  $("create-player").value = localStorage.getItem(NAME_KEY) || "";
  $("refresh").addEventListener("click", loadRooms);
  $("create").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const room = $("create-room").value.trim();
    const player = $("create-player").value.trim();
    $("create-error").textContent = "";
    try {
      await sock.request("create_room", { room });
    } catch (err) {
      if (err.code !== "already_exists") {
        $("create-error").textContent = describe(err);
        return;
      }
    }
    localStorage.setItem(NAME_KEY, player);
    location.href = "/room/" + encodeURIComponent(room);
  });
  loadRooms();
}

// ---- game ----

function setupGame() {
  $("game").hidden = false;
  $("room-title").textContent = page.room;
  document.title = `${page.room} · Kanna`;
  buildKeyboard();
  sock.request("watch_room", { room: page.room }).catch((err) => toast(describe(err)));

  const saved = localStorage.getItem(NAME_KEY);
  if (saved) {
    join(saved);
  } else {
    showJoinForm();
  }
  $("join").addEventListener("submit", (ev) => {
    ev.preventDefault();
    join($("join-player").value.trim());
  });
  $("new-round").addEventListener("click", newRound);
  $("share").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      toast("Link copied: send it to a friend.");
    } catch {
      toast(location.href);
    }
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea") return;
    if (/^[a-z]$/i.test(ev.key)) {
      ev.preventDefault();
      guess(ev.key.toLowerCase());
    } else if (ev.key === "Enter" && page.failed && document.activeElement !== $("retry")) {
      ev.preventDefault();
      guess(page.failed.letter);
    } else if (ev.key === "Enter" && !$("new-round").hidden && document.activeElement === document.body) {
      newRound();
    }
  });
  $("retry").addEventListener("click", () => page.failed && guess(page.failed.letter));
}

function showJoinForm(error = "") {
  $("join").hidden = false;
  $("join-error").textContent = error;
  $("join-player").value = localStorage.getItem(NAME_KEY) || "";
  $("join-player").focus();
}

async function join(player) {
  try {
    await sock.request("join_room", { room: page.room, player, token: playerToken() });
  } catch (err) {
    if (err.code === "not_found") {
      // A link to a room nobody has created yet: create it, then join.
      try {
        await sock.request("create_room", { room: page.room });
        await sock.request("join_room", { room: page.room, player, token: playerToken() });
      } catch (err2) {
        if (err2.code !== "already_exists") return showJoinForm(describe(err2));
        const again = await sock.request("join_room", { room: page.room, player, token: playerToken() }).then(
          () => true,
          (e) => (showJoinForm(describe(e)), false),
        );
        if (!again) return;
      }
    } else {
      return showJoinForm(describe(err));
    }
  }
  page.player = player;
  page.joined = true;
  localStorage.setItem(NAME_KEY, player);
  $("join").hidden = true;
  if (page.state) render(page.state);
  document.querySelector("#keyboard button:not([disabled])")?.focus();
}

async function guess(letter) {
  if (!page.joined) return showJoinForm("Pick a name to play.");
  if (!page.state || page.state.status !== "playing") return;
  if (page.state.guessed_letters.includes(letter) || page.pending === letter) return;
  const key = document.querySelector(`#keyboard button[data-letter="${letter}"]`);
  key?.classList.add("sending");
  page.pending = letter;
  page.failed = null;
  render(page.state);
  try {
    await sock.request("guess", { letter });
  } catch (err) {
    page.failed = { letter, why: inWords(err) };
  } finally {
    key?.classList.remove("sending");
    if (page.pending === letter) page.pending = "";
    render(page.state);
    if (page.failed) $("retry").focus();
  }
}

async function newRound() {
  try {
    await sock.request("new_round");
  } catch (err) {
    // Another player may have started it first: the new round shows up anyway.
    if (err.code !== "failed_precondition") toast(describe(err));
  }
}

function buildKeyboard() {
  const kb = $("keyboard");
  for (const row of ROWS) {
    const div = document.createElement("div");
    div.className = "row";
    for (const letter of row) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "key";
      b.dataset.letter = letter;
      b.textContent = letter;
      b.setAttribute("aria-label", `Guess ${letter.toUpperCase()}`);
      b.addEventListener("click", () => guess(letter));
      div.append(b);
    }
    kb.append(div);
  }
  // Arrow keys move between keys, so the keyboard is quick to use without a mouse.
  kb.addEventListener("keydown", (ev) => {
    const keys = [...kb.querySelectorAll("button")];
    const i = keys.indexOf(document.activeElement);
    if (i < 0) return;
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 9, ArrowUp: -9 }[ev.key];
    if (step === undefined) return;
    ev.preventDefault();
    keys[Math.max(0, Math.min(keys.length - 1, i + step))].focus();
  });
}

function render(s) {
  const newRound = page.state && s.round > page.state.round;
  page.state = s;
  const over = s.status !== "playing";
  const shown = over && s.word ? s.word : s.masked_word;

  // One group per word, so that a long phrase wraps between words, never inside one.
  const word = $("word");
  word.replaceChildren();
  let group = null;
  for (let i = 0; i < shown.length; i++) {
    const ch = shown[i];
    if (ch === " ") {
      word.append(Object.assign(document.createElement("span"), { className: "gap" }));
      group = null;
      continue;
    }
    if (!group) {
      group = Object.assign(document.createElement("span"), { className: "wordgroup" });
      word.append(group);
    }
    const span = document.createElement("span");
    span.className = "tile" + (s.masked_word[i] === "_" ? (over ? " missed" : " hidden") : "");
    span.textContent = s.masked_word[i] === "_" && !over ? "" : ch;
    group.append(span);
  }
  word.setAttribute("aria-label", "The word: " + s.masked_word.replace(/_/g, "blank ").split("").join(" "));

  const inWord = (l) => s.masked_word.includes(l) || (s.word || "").includes(l);
  for (const key of document.querySelectorAll("#keyboard button")) {
    const l = key.dataset.letter;
    const tried = s.guessed_letters.includes(l);
    key.classList.toggle("hit", tried && inWord(l));
    key.classList.toggle("miss", tried && !inWord(l));
    key.disabled = tried || over || !page.joined;
    key.setAttribute("aria-label", `Guess ${l.toUpperCase()}` + (tried ? (inWord(l) ? ", in the word" : ", not in the word") : ""));
  }

  if (page.failed && s.guessed_letters.includes(page.failed.letter)) page.failed = null; // it went through after all
  const tried = $("tried");
  tried.replaceChildren();
  if (s.guessed_letters.length === 0 && !page.pending) tried.textContent = "none yet";
  for (const l of s.guessed_letters) {
    const span = document.createElement("span");
    span.className = "letter " + (inWord(l) ? "hit" : "miss");
    span.textContent = l;
    tried.append(span);
  }
  if (page.pending && !s.guessed_letters.includes(page.pending)) {
    const span = Object.assign(document.createElement("span"), { className: "letter pending", textContent: page.pending });
    span.title = "sent, waiting for a majority of nodes to commit it";
    tried.append(span);
  }

  const lost = s.max_lives - s.lives_left;
  for (const part of document.querySelectorAll("#kanna .part")) {
    part.classList.toggle("lost", Number(part.dataset.part) < lost);
  }
  const mood = s.status === "won" ? "happy" : s.status === "lost" ? "fainted" : s.lives_left <= 2 ? "worried" : "calm";
  $("face").dataset.mood = mood;
  $("kanna-title").textContent = `Kanna, ${s.lives_left} of ${s.max_lives} parts left`;
  const hearts = Object.assign(document.createElement("span"), { className: "hearts", textContent: "♥".repeat(s.lives_left) + "♡".repeat(lost) });
  hearts.setAttribute("aria-hidden", "true");
  const count = Object.assign(document.createElement("span"), { className: "count", textContent: `${s.lives_left} of ${s.max_lives} lives left` });
  $("lives").replaceChildren(hearts, count);

  showStatus(s);
  const nr = $("new-round");
  const wasHidden = nr.hidden;
  nr.hidden = !over || !page.joined;
  $("retry").hidden = !page.failed || over;
  if (page.failed) $("retry").textContent = `Try ${page.failed.letter.toUpperCase()} again (Enter)`;
  if (wasHidden && !nr.hidden) nr.focus();
  // A new round hands the focus back to the keyboard, so keyboard players never hunt for it.
  if (newRound && page.joined && (document.activeElement === document.body || document.activeElement === nr)) {
    document.querySelector("#keyboard button:not([disabled])")?.focus();
  }

  const players = $("players");
  players.replaceChildren();
  const ranked = [...s.players].sort((a, b) => b.score - a.score || a.name.localeCompare(b.name));
  for (const p of ranked) {
    const li = document.createElement("li");
    if (p.name === page.player) li.className = "me";
    const name = document.createElement("span");
    name.textContent = p.name + (p.name === page.player ? " (you)" : "");
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = p.score;
    li.append(name, score);
    players.append(li);
  }
  $("round").textContent = `Round ${s.round}`;

  const served = `node ${s.served_by} · commit ${s.commit_index}`;
  const el = $("served");
  el.textContent = served;
  el.dataset.node = s.served_by;
  if (page.lastServed && page.lastServed !== served) {
    el.classList.remove("flash");
    void el.offsetWidth; // restart the animation
    el.classList.add("flash");
  }
  page.lastServed = served;
}

// showStatus writes the line under the word: the round's end, a guess on its way or failed, or
// what to do next.
function showStatus(s) {
  const status = $("status");
  status.className = "status " + s.status;
  const L = (l) => l.toUpperCase();
  const h = page.health;
  if (s.status === "won") status.textContent = `Won! The word was “${s.word}”.`;
  else if (s.status === "lost") status.textContent = `Kanna fainted. The word was “${s.word}”.`;
  else if (!page.joined) status.textContent = "Watching. Join to guess.";
  else if (page.pending) status.textContent = `${L(page.pending)} sent: waiting for a majority of nodes to commit it…`;
  else if (page.failed) status.textContent = `${L(page.failed.letter)} did not go through: ${page.failed.why}. Press Enter or ${L(page.failed.letter)} to try again.`;
  else if (h && h.state !== "ok") status.textContent = "Guesses will wait until the cluster commits again.";
  else status.textContent = "Guess a letter: type it or press a key.";
  if (page.failed) status.className += " failed";
}

if (page.room) setupGame();
else setupLobby();
