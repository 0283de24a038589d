/*
 * devskyy-ws.js: a dependency-free browser client for the devskyy_ws channels.
 *
 *   const tasks = new DevSkyy.Channel("https://api.example.com", "tasks");
 *   tasks.on("task_update", (m) => render(m));
 *   tasks.on("status", (s) => indicator(s));   // "connecting" | "open" | "closed"
 *   tasks.connect();
 *
 * Reconnects with exponential backoff and full jitter capped at 30 s, at once when the
 * browser comes back online, and when neither data nor a keepalive arrived for twice
 * the keepalive interval (a dead connection the browser has not noticed). Resumes from
 * the last seq after a reconnect; on `resync_required` it asks for a snapshot.
 * Works as a <script> (window.DevSkyy) and under Node (module.exports) for tests.
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.DevSkyy = api;
})(typeof globalThis !== "undefined" ? globalThis : this, function () {
  "use strict";

  const FATAL_CODES = new Set([4001, 4004]);

  /** Full jitter: uniform in [0, min(cap, base * 2^attempt)] milliseconds. */
  function backoffDelay(attempt, baseMs = 1000, capMs = 30000, random = Math.random) {
    return random() * Math.min(capMs, baseMs * Math.pow(2, attempt));
  }

  function wsUrl(base, channel, params) {
    const url = new URL(`/api/ws/${channel}`, base.replace(/^http/, "ws"));
    const prefix = new URL(base).pathname.replace(/\/$/, "");
    if (prefix) url.pathname = `${prefix}/api/ws/${channel}`;
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, String(value));
    return url.toString();
  }

  class Channel {
    constructor(baseUrl, channel, options = {}) {
      this.baseUrl = baseUrl;
      this.channel = channel;
      this.token = options.token || null;
      this.filters = options.filters || null;
      this.resume = options.resume !== false;
      this.snapshotOnConnect = Boolean(options.snapshot);
      // Behind on a slow link, take the latest state of each key rather than a 4008.
      this.conflate = options.conflate !== false;
      this.keepaliveMs = (options.keepaliveSeconds || 25) * 1000;
      this.baseDelayMs = options.baseDelayMs || 1000;
      this.maxDelayMs = options.maxDelayMs || 30000;
      this.maxRetries = options.maxRetries === undefined ? Infinity : options.maxRetries;
      this.WebSocket = options.WebSocket || globalThis.WebSocket;
      this.setTimeout = options.setTimeout || globalThis.setTimeout.bind(globalThis);
      this.clearTimeout = options.clearTimeout || globalThis.clearTimeout.bind(globalThis);
      this.random = options.random || Math.random;
      this.listeners = new Map();
      this.lastSeq = null;
      this.epoch = null;
      this.attempt = 0;
      this.reconnects = 0;
      this.status = "closed";
      this.ws = null;
      this.stopped = true;
      this.retryTimer = null;
      this.watchdog = null;
      this.onOnline = () => this.reconnectNow();
      const target = options.eventTarget || (typeof window !== "undefined" ? window : null);
      this.eventTarget = target;
    }

    /** Listen for a message type, "*" for every message, or "status" / "error". */
    on(type, fn) {
      if (!this.listeners.has(type)) this.listeners.set(type, new Set());
      this.listeners.get(type).add(fn);
      return () => this.listeners.get(type).delete(fn);
    }

    emit(type, value) {
      for (const fn of this.listeners.get(type) || []) {
        try {
          fn(value);
        } catch (err) {
          if (typeof console !== "undefined") console.error(err);
        }
      }
    }

    setStatus(status) {
      if (this.status === status) return;
      this.status = status;
      this.emit("status", status);
    }

    connect() {
      this.stopped = false;
      if (this.eventTarget) this.eventTarget.addEventListener("online", this.onOnline);
      this.open();
      return this;
    }

    close() {
      this.stopped = true;
      this.clearTimeout(this.retryTimer);
      this.clearTimeout(this.watchdog);
      if (this.eventTarget) this.eventTarget.removeEventListener("online", this.onOnline);
      if (this.ws) this.ws.close(1000, "client closed");
      this.setStatus("closed");
    }

    send(message) {
      if (!this.ws || this.ws.readyState !== 1) return false;
      this.ws.send(JSON.stringify(message));
      return true;
    }

    subscribe(filters) {
      this.filters = filters;
      return this.send({ type: "subscribe", filters });
    }

    unsubscribe() {
      this.filters = null;
      return this.send({ type: "unsubscribe" });
    }

    requestSnapshot() {
      return this.send({ type: "snapshot" });
    }

    ping() {
      return this.send({ type: "ping" });
    }

    params() {
      const params = {};
      if (this.token) params.token = this.token;
      if (this.conflate) params.conflate = 1;
      if (this.resume && this.lastSeq !== null && this.epoch !== null) {
        params.since = this.lastSeq;
        params.epoch = this.epoch;
      } else if (this.snapshotOnConnect) {
        params.snapshot = 1;
      }
      return params;
    }

    open() {
      this.setStatus("connecting");
      const ws = new this.WebSocket(wsUrl(this.baseUrl, this.channel, this.params()));
      this.ws = ws;
      ws.onopen = () => {
        if (this.attempt > 0 || this.reconnects > 0 || this.everOpened) this.reconnects += 1;
        this.everOpened = true;
        this.attempt = 0;
        this.setStatus("open");
        if (this.filters) this.send({ type: "subscribe", filters: this.filters });
        this.armWatchdog();
      };
      ws.onmessage = (event) => this.handle(event.data);
      ws.onerror = () => this.emit("error", new Error(`WebSocket error on ${this.channel}`));
      ws.onclose = (event) => this.closed(ws, event);
    }

    handle(text) {
      this.armWatchdog();
      let message;
      try {
        message = JSON.parse(text);
      } catch {
        return;
      }
      if (message.type === "snapshot") {
        this.lastSeq = message.seq;
        this.epoch = message.epoch;
      } else if (typeof message.seq === "number" && typeof message.epoch === "string") {
        if (message.epoch === this.epoch && this.lastSeq !== null && message.seq <= this.lastSeq) return;
        this.lastSeq = message.seq;
        this.epoch = message.epoch;
      }
      if (message.type === "resync_required") {
        this.lastSeq = null;
        this.requestSnapshot();
      }
      this.emit(message.type, message);
      this.emit("*", message);
    }

    /** No data and no keepalive for 2x the interval: the connection is dead. */
    armWatchdog() {
      this.clearTimeout(this.watchdog);
      this.watchdog = this.setTimeout(() => {
        if (this.ws && this.ws.readyState === 1) {
          this.emit("error", new Error("keepalive missed; reconnecting"));
          this.ws.close(4000, "keepalive timeout");
          this.closed(this.ws, { code: 4000, reason: "keepalive timeout" });
        }
      }, 2 * this.keepaliveMs);
    }

    closed(ws, event) {
      if (ws !== this.ws) return; // an old socket we already replaced
      this.ws = null;
      this.clearTimeout(this.watchdog);
      if (this.stopped) return this.setStatus("closed");
      if (FATAL_CODES.has(event.code)) {
        this.stopped = true;
        this.setStatus("closed");
        this.emit("error", new Error(`channel closed ${event.code}: ${event.reason || ""}`));
        return;
      }
      if (this.attempt >= this.maxRetries) {
        this.stopped = true;
        this.setStatus("closed");
        this.emit("error", new Error(`gave up after ${this.attempt} reconnects`));
        return;
      }
      this.setStatus("connecting");
      const delay = backoffDelay(this.attempt, this.baseDelayMs, this.maxDelayMs, this.random);
      this.attempt += 1;
      this.clearTimeout(this.retryTimer);
      this.retryTimer = this.setTimeout(() => this.open(), delay);
    }

    /** Back online (or the page woke up): skip the remaining backoff. */
    reconnectNow() {
      if (this.stopped || this.ws) return;
      this.clearTimeout(this.retryTimer);
      this.open();
    }
  }

  /** The API document's helper, done right: jittered, capped, and it says when it stops. */
  function createWebSocketWithReconnect(url, maxRetries = Infinity, options = {}) {
    const parsed = new URL(url);
    const channel = parsed.pathname.split("/").pop();
    const base = `${parsed.protocol.replace("ws", "http")}//${parsed.host}${parsed.pathname.replace(/\/api\/ws\/[^/]+$/, "")}`;
    // the document's helper opens exactly the URL it is given
    return new Channel(base, channel, { conflate: false, ...options, maxRetries }).connect();
  }

  return { Channel, backoffDelay, createWebSocketWithReconnect, wsUrl };
});
