// The Node reference of scripts/bench_publish.py: `ws` with an in-process broadcast loop.
//
//   node scripts/node_broadcast.mjs PORT
//
// Subscribers connect to ws://127.0.0.1:PORT/api/ws/tasks. `GET /run?seconds=S&batch=B`
// broadcasts for S seconds: each round stamps a seq on B task updates, serializes each
// once and sends them to every socket (`ws.send`), then yields to the event loop
// (setImmediate) so the sockets flush; a socket more than 4 MiB behind is skipped for the
// round, as a server must bound what it buffers. Answers {"messages", "deliveries",
// "seconds", "cpu_s"} (cpu_s: this process's user + system CPU for the run).
// `ws` comes from clients/typescript/node_modules (`npm install` there).

import { createRequire } from "node:module";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "clients", "typescript", "package.json"));
const { WebSocketServer } = require("ws");

const port = Number(process.argv[2]);
const MAX_BEHIND = 4 * 1024 * 1024;
const message = {
  type: "task_update", task_id: "t-1", status: "running", progress: 50,
  data: { agent_type: "commerce", note: "x".repeat(150) },
};

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  if (url.pathname === "/health") {
    res.end(JSON.stringify({ status: "ok", sockets: wss.clients.size }));
    return;
  }
  if (url.pathname !== "/run") {
    res.statusCode = 404;
    res.end();
    return;
  }
  const seconds = Number(url.searchParams.get("seconds") || "3");
  const batch = Number(url.searchParams.get("batch") || "1");
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const until = started + seconds * 1000;
  let seq = 0;
  let messages = 0;
  let deliveries = 0;
  while (performance.now() < until) {
    const frames = [];
    for (let i = 0; i < batch; i++) {
      seq += 1;
      frames.push(JSON.stringify({ ...message, seq }));
    }
    for (const client of wss.clients) {
      if (client.bufferedAmount > MAX_BEHIND) continue;
      for (const frame of frames) client.send(frame);
      deliveries += frames.length;
    }
    messages += frames.length;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  res.setHeader("Content-Type", "application/json");
  res.end(JSON.stringify({ messages, deliveries, seconds: elapsed, cpu_s: (cpu.user + cpu.system) / 1e6 }));
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
server.on("upgrade", (req, socket, head) => {
  if (!req.url.startsWith("/api/ws/tasks")) {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on("message", () => {});
  });
});
server.listen(port, "127.0.0.1", () => process.stdout.write("ready\n"));
