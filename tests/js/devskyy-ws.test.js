// Node's built-in test runner: reconnect, backoff, keepalive and resume logic of the
// browser client, with a scripted WebSocket and a manual clock.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { Channel, backoffDelay, createWebSocketWithReconnect, wsUrl } = require(
  path.join(__dirname, "..", "..", "devskyy_ws", "static", "devskyy-ws.js"),
);

function clock() {
  let now = 0;
  let id = 0;
  const timers = new Map();
  return {
    setTimeout(fn, ms) {
      id += 1;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle);
    },
    advance(ms) {
      now += ms;
      for (const [key, timer] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (timer.at <= now && timers.has(key)) {
          timers.delete(key);
          timer.fn();
        }
      }
    },
    pending() {
      return [...timers.values()].map((t) => t.at - now);
    },
  };
}

function fakeSockets() {
  const made = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      made.push(this);
    }
    send(text) {
      this.sent.push(JSON.parse(text));
    }
    close(code) {
      this.readyState = 3;
      this.closedWith = code;
    }
    serverOpen() {
      this.readyState = 1;
      this.onopen();
    }
    serverSend(obj) {
      this.onmessage({ data: JSON.stringify(obj) });
    }
    serverClose(code, reason = "") {
      this.readyState = 3;
      this.onclose({ code, reason });
    }
  }
  return { FakeWebSocket, made };
}

test("backoff is full-jitter exponential and capped at 30 s", () => {
  assert.equal(backoffDelay(0, 1000, 30000, () => 1), 1000);
  assert.equal(backoffDelay(3, 1000, 30000, () => 1), 8000);
  assert.equal(backoffDelay(10, 1000, 30000, () => 1), 30000);
  assert.equal(backoffDelay(5, 1000, 30000, () => 0), 0);
});

test("urls keep a mount prefix and carry resume parameters", () => {
  assert.equal(wsUrl("http://h:1", "tasks", {}), "ws://h:1/api/ws/tasks");
  assert.equal(wsUrl("https://h/devskyy", "agents", { since: 5, epoch: "ab" }), "wss://h/devskyy/api/ws/agents?since=5&epoch=ab");
});

test("reconnects with backoff, resumes from the last seq, and never gives up silently", () => {
  const c = clock();
  const { FakeWebSocket, made } = fakeSockets();
  const statuses = [];
  const channel = new Channel("http://h:1", "tasks", { WebSocket: FakeWebSocket, random: () => 0.5, ...c, eventTarget: null });
  channel.on("status", (s) => statuses.push(s));
  const seen = [];
  channel.on("task_update", (m) => seen.push(m.seq));
  channel.connect();
  made[0].serverOpen();
  made[0].serverSend({ type: "task_update", seq: 1, epoch: "e1", task_id: "t" });
  made[0].serverSend({ type: "task_update", seq: 2, epoch: "e1", task_id: "t" });
  made[0].serverClose(1006);
  assert.equal(made.length, 1);
  assert.deepEqual(c.pending().filter((ms) => ms < 50000), [500]); // 0.5 * 1000 * 2^0
  c.advance(500);
  assert.equal(made.length, 2);
  assert.equal(made[1].url, "ws://h:1/api/ws/tasks?conflate=1&since=2&epoch=e1"); // conflation on by default
  made[1].serverOpen();
  made[1].serverSend({ type: "task_update", seq: 2, epoch: "e1", task_id: "t" }); // replay overlap
  made[1].serverSend({ type: "task_update", seq: 3, epoch: "e1", task_id: "t" });
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(channel.reconnects, 1);
  assert.deepEqual(statuses, ["connecting", "open", "connecting", "open"]);
});

test("a growing delay when the server stays down, capped at 30 s", () => {
  const c = clock();
  const { FakeWebSocket, made } = fakeSockets();
  const channel = new Channel("http://h:1", "agents", { WebSocket: FakeWebSocket, random: () => 1, ...c, eventTarget: null });
  channel.connect();
  const delays = [];
  for (let i = 0; i < 8; i += 1) {
    made[made.length - 1].serverClose(1006);
    const wait = Math.min(...c.pending());
    delays.push(wait);
    c.advance(wait);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
});

test("missing keepalives for 2x the interval force a reconnect", () => {
  const c = clock();
  const { FakeWebSocket, made } = fakeSockets();
  const channel = new Channel("http://h:1", "metrics", { WebSocket: FakeWebSocket, keepaliveSeconds: 1, random: () => 0, ...c, eventTarget: null });
  channel.connect();
  made[0].serverOpen();
  c.advance(1500);
  made[0].serverSend({ type: "keepalive", timestamp: "2024-01-06T12:00:00Z" });
  c.advance(1500);
  assert.equal(made[0].readyState, 1); // the keepalive reset the watchdog
  c.advance(600);
  assert.equal(made[0].closedWith, 4000);
  c.advance(0);
  assert.equal(made.length, 2);
});

test("coming back online skips the rest of the backoff", () => {
  const c = clock();
  const { FakeWebSocket, made } = fakeSockets();
  const target = new EventTarget();
  const channel = new Channel("http://h:1", "tasks", { WebSocket: FakeWebSocket, random: () => 1, ...c, eventTarget: target });
  channel.connect();
  made[0].serverOpen();
  made[0].serverClose(1006);
  assert.equal(made.length, 1); // waiting out a 1 s backoff
  target.dispatchEvent(new Event("online"));
  assert.equal(made.length, 2);
});

test("4004 and 4001 stop the client and say why", () => {
  const { FakeWebSocket, made } = fakeSockets();
  const c = clock();
  const errors = [];
  const channel = new Channel("http://h:1", "nope", { WebSocket: FakeWebSocket, ...c, eventTarget: null });
  channel.on("error", (e) => errors.push(e.message));
  channel.connect();
  made[0].serverOpen();
  made[0].serverClose(4004, "Invalid channel name");
  c.advance(60000);
  assert.equal(made.length, 1);
  assert.match(errors[0], /4004/);
  assert.equal(channel.status, "closed");
});

test("resync_required asks for a snapshot; filters are re-sent on reconnect", () => {
  const c = clock();
  const { FakeWebSocket, made } = fakeSockets();
  const channel = new Channel("http://h:1", "tasks", { WebSocket: FakeWebSocket, filters: { agent_type: "commerce" }, random: () => 0, ...c, eventTarget: null });
  channel.connect();
  made[0].serverOpen();
  assert.deepEqual(made[0].sent[0], { type: "subscribe", filters: { agent_type: "commerce" } });
  made[0].serverSend({ type: "resync_required", channel: "tasks", epoch: "e2", latest_seq: 9 });
  assert.deepEqual(made[0].sent[1], { type: "snapshot" });
  made[0].serverSend({ type: "snapshot", channel: "tasks", state: {}, seq: 9, epoch: "e2" });
  assert.equal(channel.lastSeq, 9);
  made[0].serverClose(1001);
  c.advance(0);
  made[1].serverOpen();
  assert.equal(made[1].url, "ws://h:1/api/ws/tasks?conflate=1&since=9&epoch=e2");
  assert.deepEqual(made[1].sent[0], { type: "subscribe", filters: { agent_type: "commerce" } });
});

test("the document's createWebSocketWithReconnect keeps its signature", () => {
  const { FakeWebSocket, made } = fakeSockets();
  const c = clock();
  const channel = createWebSocketWithReconnect("ws://localhost:8000/api/ws/agents", 5, { WebSocket: FakeWebSocket, ...c, eventTarget: null });
  assert.equal(made[0].url, "ws://localhost:8000/api/ws/agents");
  assert.equal(channel.maxRetries, 5);
});
