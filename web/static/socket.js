// socket.js: the page's side of the websocket protocol (docs/protocol.md, "Websocket protocol").
//
// One KannaSocket per page. It names the page with a client id drawn at load, numbers every request
// (seq 1, 2, 3...), and keeps each request until its answer arrives. When the socket drops it
// reconnects with backoff, says hello with the same client id, runs the page's "reopen" hook (which
// watches the room again), then resends every unanswered request with its old seq: the cluster
// applies a request once (Raft paper §8), so a guess sent twice still counts once.

export function randomID() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export class KannaSocket {
  constructor({ onMessage, onState, onReopen } = {}) {
    this.clientID = randomID();
    this.seq = 0;
    this.pending = new Map(); // seq -> {msg, resolve, reject}
    this.onMessage = onMessage || (() => {});
    this.onState = onState || (() => {});
    this.onReopen = onReopen || (async () => {});
    this.ready = false;
    this.control = false;
    this.attempt = 0;
    this.connect();
  }

  url() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${location.host}/ws`;
  }

  connect() {
    this.onState("connecting");
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", client_id: this.clientID }));
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ready = false;
      this.onState("offline", ev.reason);
      // 0.25 s, 0.5 s, 1 s, 2 s, then every 4 s: fast while a web server restarts, gentle after.
      const delay = Math.min(4000, 250 * 2 ** this.attempt++);
      setTimeout(() => this.connect(), delay);
    };
  }

  async receive(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg.type === "welcome") {
      const ws = this.ws;
      this.attempt = 0;
      this.control = msg.control;
      try {
        await this.onReopen(this);
      } catch (err) {
        console.warn("reopen:", err);
      }
      // A socket that dropped while its page was reopening leaves the resending to the next one.
      if (ws !== this.ws) return;
      this.ready = true;
      this.onState("online");
      for (const [, p] of [...this.pending].sort((a, b) => a[0] - b[0])) {
        this.ws.send(JSON.stringify(p.msg));
      }
      return;
    }
    if ((msg.type === "ok" || msg.type === "error") && msg.seq && this.pending.has(msg.seq)) {
      const p = this.pending.get(msg.seq);
      this.pending.delete(msg.seq);
      if (msg.type === "ok") p.resolve(msg);
      else p.reject(msg);
      return;
    }
    if (msg.type === "rooms" && msg.seq && this.pending.has(msg.seq)) {
      const p = this.pending.get(msg.seq);
      this.pending.delete(msg.seq);
      p.resolve(msg);
      return;
    }
    this.onMessage(msg);
  }

  // request sends one message with the next seq and resolves with its answer ("ok", or "rooms" for
  // list_rooms) or rejects with the "error" message. Sent at once when the socket is up, else on
  // reconnect. direct skips the wait for "ready" (the reopen hook uses it).
  request(type, fields = {}, direct = false) {
    const msg = { type, seq: ++this.seq, ...fields };
    return new Promise((resolve, reject) => {
      this.pending.set(msg.seq, { msg, resolve, reject });
      if ((this.ready || direct) && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify(msg));
      }
    });
  }
}

// describe turns an error message into one sentence for a person.
export function describe(err) {
  if (!err || !err.code) return String(err);
  return err.message || err.code;
}
