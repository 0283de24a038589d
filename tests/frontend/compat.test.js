// The original DevSkyy frontend's expectations, re-expressed as zod schemas and a
// realtime client that behaves as its own does (frontend/lib/api/schemas.ts,
// frontend/lib/api/endpoints/*.ts, frontend/lib/websocket.ts, lib/hooks/useRealtime.ts),
// run against a live server: DEVSKYY_URL and DEVSKYY_TOKEN. Where this server's
// documented API differs on purpose, the schema carries the change docs/compatibility.md
// tells a frontend developer to make, marked "compatibility.md".
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const modules = path.join(__dirname, "..", "..", "clients", "typescript", "node_modules");
const { z } = require(path.join(modules, "zod"));
const WebSocket = require(path.join(modules, "ws"));

const BASE = process.env.DEVSKYY_URL;
const TOKEN = process.env.DEVSKYY_TOKEN;
const WS_BASE = BASE && BASE.replace(/^http/, "ws");
const PROMPT = "A marketing line for a rose-gold watch";

// -- the frontend's REST schemas ---------------------------------------------------------
const ProviderInfo = z.object({
  name: z.string(),
  display_name: z.string(),
  enabled: z.boolean(),
  avg_latency_ms: z.number(),
  win_rate: z.number(),
  total_competitions: z.number(),
});
const ProviderStats = z.object({
  provider: z.string(),
  total_competitions: z.number(),
  wins: z.number(),
  win_rate: z.number(),
  avg_score: z.number(),
  avg_latency_ms: z.number(),
  total_cost_usd: z.number(),
});
const EntryScore = z.object({
  relevance: z.number().default(0),
  quality: z.number().default(0),
  completeness: z.number().default(0),
  efficiency: z.number().default(0),
  brand_alignment: z.number().default(0),
  total: z.number().default(0),
});
const CompetitionEntry = z.object({
  provider: z.string(),
  rank: z.number(),
  scores: EntryScore,
  latency_ms: z.number(),
  cost_usd: z.number(),
  response_preview: z.string().default(""),
});
const CompetitionResponse = z.object({
  id: z.string(),
  task_id: z.string().nullable(), // compatibility.md: null when not run for a task
  prompt_preview: z.string(),
  status: z.string(),
  winner: CompetitionEntry.nullable(),
  entries: z.array(CompetitionEntry),
  ab_test_reasoning: z.string().nullable().optional(),
  ab_test_confidence: z.number().nullable().optional(),
  total_duration_ms: z.number(),
  total_cost_usd: z.number(),
  created_at: z.string(),
});
const HistoryEntry = z.object({
  id: z.string(),
  prompt_preview: z.string(),
  winner_provider: z.string().nullable(), // compatibility.md: null when every provider failed
  winner_score: z.number().nullable(),
  total_cost_usd: z.number(),
  created_at: z.string(),
});
const PipelineStatus = z.object({
  status: z.enum(["healthy", "degraded", "down"]),
  active_jobs: z.number(),
  queued_jobs: z.number(),
  providers_online: z.number(),
  providers_total: z.number(),
});
const Provider3D = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(["commercial", "huggingface", "local"]),
  capabilities: z.array(z.string()),
  avg_generation_time_s: z.number(),
  status: z.enum(["online", "offline", "busy"]),
});
const Job3D = z.object({
  id: z.string(),
  status: z.enum(["queued", "processing", "completed", "failed"]),
  provider: z.string(),
  input_type: z.enum(["text", "image"]),
  input: z.string(),
  output_url: z.string().optional(),
  error: z.string().optional(),
  created_at: z.string(),
  completed_at: z.string().optional(),
});
const Health = z.object({ status: z.string(), version: z.string(), uptime: z.number() });
const Ready = z.object({ status: z.string() });
const TaskMetrics = z.object({
  startTime: z.string(),
  endTime: z.string().nullish(), // compatibility.md: null until known
  tokensUsed: z.number().nullish(),
  costUsd: z.number().nullish(),
  provider: z.string().nullish(),
});
const Task = z.object({
  taskId: z.string(),
  agentType: z.string(),
  prompt: z.string(),
  status: z.enum(["pending", "running", "completed", "failed", "cancelled"]), // compatibility.md
  result: z.any().optional(),
  error: z.string().nullish(), // compatibility.md
  createdAt: z.string(),
  metrics: TaskMetrics,
});
const Cancelled = z.object({ success: z.boolean(), message: z.string() });
const AgentControl = z.object({ success: z.boolean(), status: z.string() });
const Learning = z.object({ success: z.boolean(), learningCycles: z.number() });

// -- the frontend's realtime expectations ------------------------------------------------
const Message = z.object({ type: z.string(), timestamp: z.string() }).passthrough();
const Data = z.record(z.string(), z.any());
const LIVE = {
  agents: z.object({ type: z.literal("agent_status_update"), agent_id: z.string(), status: z.string(), data: Data }),
  tasks: z.object({
    type: z.literal("task_update"),
    task_id: z.string(),
    status: z.enum(["pending", "running", "completed", "failed", "cancelled"]),
    progress: z.number(),
    data: Data,
  }),
  round_table: z.object({
    type: z.literal("competition_update"),
    competition_id: z.string(),
    stage: z.enum(["generating", "scoring", "ab_testing", "completed", "failed"]),
    data: Data,
  }),
  "3d_pipeline": z.object({
    type: z.literal("pipeline_update"),
    pipeline_id: z.string(),
    stage: z.enum(["generating", "validating", "uploading", "completed", "failed"]),
    progress: z.number(),
    data: Data,
  }),
  metrics: z.object({ type: z.literal("metrics_update"), metrics: Data }),
};
const REFRESH = {
  agents: "get_agents",
  tasks: "get_tasks",
  round_table: "get_competitions",
  "3d_pipeline": "get_pipelines",
  metrics: "get_metrics",
};

function strict(schema, value, what) {
  const parsed = schema.safeParse(value);
  assert.ok(parsed.success, `${what}: ${JSON.stringify(parsed.error && parsed.error.issues)}`);
  return parsed.data;
}

async function call(method, route, body, status = 200) {
  const headers = { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}` };
  const res = await fetch(`${BASE}${route}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const doc = await res.json();
  assert.equal(res.status, status, `${method} ${route}: ${JSON.stringify(doc)}`);
  return doc;
}

// A socket as frontend/lib/websocket.ts opens it: {url}/ws/{channel}, a ping on open,
// every message routed by its type; an `error` message is what its hooks show as failure.
function realtime(channel) {
  const ws = new WebSocket(`${WS_BASE}/ws/${channel}`);
  const seen = [];
  const waiting = [];
  ws.on("open", () => ws.send(JSON.stringify({ type: "ping" })));
  ws.on("message", (raw) => {
    const message = strict(Message, JSON.parse(raw.toString()), `${channel} message`);
    seen.push(message);
    for (const w of [...waiting]) {
      if (w.match(message)) {
        waiting.splice(waiting.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(message);
      }
    }
  });
  return {
    ws,
    seen,
    next(match, ms = 10000) {
      const found = seen.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${channel}: nothing matched in ${ms} ms`)), ms);
        waiting.push({ match, resolve, timer });
      });
    },
    send(doc) {
      ws.send(JSON.stringify(doc));
    },
    close() {
      ws.close(1000, "Client disconnect");
    },
  };
}

test("the suite has a server", { skip: !BASE }, () => {
  assert.ok(TOKEN, "DEVSKYY_TOKEN is set");
});

test("health, ready and the Round Table's lists", { skip: !BASE }, async () => {
  strict(Health, await (await fetch(`${BASE}/health`)).json(), "/health");
  strict(Ready, await (await fetch(`${BASE}/ready`)).json(), "/ready");
  const providers = await call("GET", "/api/v1/round-table/providers");
  assert.ok(providers.length >= 2);
  providers.forEach((p) => strict(ProviderInfo, p, "provider"));
  (await call("GET", "/api/v1/round-table/stats")).forEach((s) => strict(ProviderStats, s, "stats"));
});

test("a competition, the latest one and the history", { skip: !BASE }, async () => {
  const competition = strict(CompetitionResponse, await call("POST", "/api/v1/round-table/compete", { prompt: PROMPT }), "compete");
  assert.equal(competition.prompt_preview, PROMPT);
  assert.ok(competition.winner && competition.winner.scores.total > 0);
  assert.ok(competition.winner.scores.brand_alignment >= 0);
  const latest = strict(CompetitionResponse, await call("GET", "/api/v1/round-table/latest"), "latest");
  assert.equal(latest.id, competition.id);
  const history = await call("GET", "/api/v1/round-table?limit=10&offset=0"); // compatibility.md: .items
  assert.ok(history.items.length >= 1);
  history.items.forEach((h) => strict(HistoryEntry, h, "history entry"));
});

test("tasks: submit, list, read, cancel", { skip: !BASE }, async () => {
  const task = strict(Task, await call("POST", "/api/v1/tasks", { agentType: "commerce", prompt: PROMPT, useRoundTable: false }, 201), "submit");
  strict(Task, await call("GET", `/api/v1/tasks/${task.taskId}`), "one task");
  (await call("GET", "/api/v1/tasks?agent_type=commerce&limit=5")).forEach((t) => strict(Task, t, "listed task"));
  const res = await fetch(`${BASE}/api/v1/tasks/${task.taskId}/cancel`, {
    method: "POST",
    headers: { Authorization: `Bearer ${TOKEN}` },
  });
  if (res.status === 200) strict(Cancelled, await res.json(), "cancel");
  else assert.equal(res.status, 409, "a task that already finished cannot be cancelled");
});

test("agents: stop, start, learn", { skip: !BASE }, async () => {
  const stopped = strict(AgentControl, await call("POST", "/api/v1/agents/marketing/stop"), "stop");
  assert.ok(stopped.success);
  strict(AgentControl, await call("POST", "/api/v1/agents/marketing/start"), "start");
  strict(Learning, await call("POST", "/api/v1/agents/marketing/learn", undefined, 202), "learn");
});

test("the 3D routes", { skip: !BASE }, async () => {
  strict(PipelineStatus, await call("GET", "/api/v1/3d/status"), "3d status");
  (await call("GET", "/api/v1/3d/providers")).forEach((p) => strict(Provider3D, p, "3d provider"));
  const text = strict(Job3D, await call("POST", "/api/v1/3d/generate/text", { prompt: "A faceted rose quartz pendant", quality: "standard" }, 202), "text job");
  assert.equal(text.input_type, "text");
  const image = strict(Job3D, await call("POST", "/api/v1/3d/generate/image", { image_url: "https://example.com/ring.png", quality: "high" }, 202), "image job");
  assert.equal(image.input_type, "image");
  strict(Job3D, await call("GET", `/api/v1/3d/jobs/${text.id}`), "one job");
  const jobs = await call("GET", "/api/v1/3d/jobs?limit=20");
  assert.ok(jobs.some((j) => j.id === image.id));
  jobs.forEach((j) => strict(Job3D, j, "job"));
});

for (const channel of Object.keys(LIVE)) {
  test(`realtime ${channel}: /ws, ping, ${REFRESH[channel]}, subscribe, live updates`, { skip: !BASE }, async () => {
    const socket = realtime(channel);
    try {
      await socket.next((m) => m.type === "pong");
      socket.send({ type: REFRESH[channel] });
      const snapshot = await socket.next((m) => m.type === "snapshot");
      assert.equal(snapshot.channel, channel);
      socket.send({ type: "subscribe" }); // no filters: everything
      await socket.next((m) => m.type === "subscribed");
      if (channel === "tasks") await call("POST", "/api/v1/tasks", { agentType: "support", prompt: PROMPT }, 201);
      if (channel === "agents") await call("POST", "/api/v1/agents/support/learn", undefined, 202);
      if (channel === "round_table") await call("POST", "/api/v1/round-table/compete", { prompt: PROMPT });
      if (channel === "3d_pipeline") await call("POST", "/api/v1/3d/generate/text", { prompt: "A small ceramic rose vase" }, 202);
      const live = await socket.next((m) => m.type === LIVE[channel].shape.type.value, 20000);
      strict(LIVE[channel], live, `${channel} update`);
      assert.deepEqual(socket.seen.filter((m) => m.type === "error"), [], "no error reaches the hooks");
    } finally {
      socket.close();
    }
  });
}
