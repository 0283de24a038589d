/* The operations dashboard: live channels through DevSkyy.Channel, actions over REST. */
"use strict";
(function () {
  const base = new URL(".", window.location.href);
  const apiBase = base.href.replace(/\/$/, "");
  const $ = (selector) => document.querySelector(selector);
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  };

  // -- auth -----------------------------------------------------------------------
  const tokenKey = "devskyy-token";
  const status = $("#auth-status");
  function say(message, isError = false) {
    status.textContent = message;
    status.classList.toggle("error", isError);
  }
  // Toasts: finished and failed work, agent actions; each leaves after a few seconds.
  function toast(message, kind = "ok") {
    const item = el("li", { class: `toast ${kind}` }, message);
    $("#toasts").append(item);
    setTimeout(() => item.remove(), 6000);
  }
  // A toast when live work reaches an end state it was not in before.
  function toastFinished(what, id, before, now) {
    if (before !== undefined && before !== now && ["completed", "failed"].includes(now)) {
      toast(`${what} ${id} ${now}.`, now === "failed" ? "bad" : "ok");
    }
  }
  // The list item of a record: found, or made at the top (live) or bottom (history).
  function listItem(list, attr, id, append) {
    let item = document.querySelector(`${list} li[${attr}="${id}"]`);
    if (!item) {
      item = el("li", { [attr]: id });
      if (append) $(list).append(item);
      else $(list).prepend(item);
    }
    return item;
  }
  // A page of history from the API into a list, newest first, or its empty state.
  async function loadList(path, list, records, key, render, empty) {
    const page = await api("GET", path);
    if (!page) return;
    $(list).replaceChildren();
    for (const record of page.items) {
      records.set(record[key], record);
      render(record, true);
    }
    $(`${list}-empty`).textContent = page.items.length ? "" : empty;
  }
  $("#token").value = sessionStorage.getItem(tokenKey) || "";
  $("#token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    sessionStorage.setItem(tokenKey, $("#token").value.trim());
    await signIn();
  });
  $("#forget").addEventListener("click", () => {
    forget();
    say("Token forgotten.");
  });

  let expiry = null;
  function forget() {
    sessionStorage.removeItem(tokenKey);
    $("#token").value = "";
    clearTimeout(expiry);
  }

  // Who is signed in and until when; when the token expires, ask for a new one.
  async function signIn() {
    const me = await api("GET", "api/v1/auth/me");
    if (!me) return;
    const until = new Date(me.exp * 1000);
    const time = until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    say(`Signed in as ${me.sub} (scope: ${me.scope}) until ${time}.`);
    clearTimeout(expiry);
    const left = Math.min(Math.max(until.getTime() - Date.now(), 0), 2 ** 31 - 1);
    expiry = setTimeout(() => {
      forget();
      say(`Your token expired at ${time}: mint a new one with the command above and paste it.`, true);
    }, left);
    loadAgents();
    loadTasks();
    loadPipelines();
    loadCompetitions();
    loadHistory($("#range").value);
  }

  async function api(method, path, body) {
    const token = sessionStorage.getItem(tokenKey);
    const headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(new URL(path, base), { method, headers, body: body ? JSON.stringify(body) : undefined });
    } catch (err) {
      say(`The server could not be reached (${err.message}).`, true);
      return null;
    }
    const doc = await response.json().catch(() => null);
    if (response.status === 401) {
      say("A valid token is needed: mint one with the command above and paste it.", true);
      return null;
    }
    if (response.status === 403) {
      say("This token's scope does not allow that; mint one with --scope write.", true);
      return null;
    }
    if (!response.ok) {
      say(`${doc && doc.message ? doc.message : response.statusText} (${response.status})`, true);
      return null;
    }
    return doc;
  }

  // -- channels -------------------------------------------------------------------
  const channels = {};
  function channel(name) {
    const client = new DevSkyy.Channel(apiBase, name, { snapshot: true });
    client.on("status", (s) => {
      const item = document.querySelector(`.channels li[data-channel="${name}"]`);
      item.dataset.status = s;
      item.title = `${name}: ${s}`;
    });
    channels[name] = client;
    return client;
  }

  // -- agents ---------------------------------------------------------------------
  const agents = new Map();
  function renderAgents() {
    const box = $("#agents");
    box.replaceChildren(
      ...[...agents.values()].map((a) =>
        el(
          "div",
          { class: "card", "data-agent": a.type },
          el("h3", {}, a.name || a.type, " "),
          el("span", { class: `badge ${a.status}`, "data-role": "status" }, a.status),
          el("div", { class: "scores" }, a.stats ? `${a.stats.tasksCompleted} done · ${(a.stats.successRate * 100).toFixed(0)}% ok · ${a.stats.avgLatencyMs.toFixed(0)} ms · ${a.stats.learningCycles} cycles` : ""),
          el(
            "div",
            { class: "actions" },
            actionButton(a, "start", "Start", a.status !== "stopped"),
            actionButton(a, "stop", "Stop", a.status === "stopped"),
            actionButton(a, "learn", "Learn", a.status === "learning" || a.status === "stopped"),
          ),
        ),
      ),
    );
    const select = $("#task-agent");
    if (select.options.length !== agents.size) {
      select.replaceChildren(...[...agents.keys()].map((t) => el("option", { value: t }, t)));
      const filter = $("#filter-agent");
      const chosen = filter.value;
      filter.replaceChildren(el("option", { value: "" }, "all"), ...[...agents.keys()].map((t) => el("option", { value: t }, t)));
      filter.value = chosen;
    }
  }
  // A button for an action the agent's status allows; the others are disabled.
  function actionButton(a, action, label, impossible) {
    const button = el("button", { type: "button", onclick: () => agentAction(a.type, action), "aria-label": `${label} ${a.type}` }, label);
    button.disabled = impossible;
    return button;
  }
  async function agentAction(type, action) {
    const info = await api("POST", `api/v1/agents/${type}/${action}`);
    if (info) {
      agents.set(type, info);
      renderAgents();
      toast(`${type}: ${{ start: "started", stop: "stopped", learn: "learning cycle started" }[action]}.`);
    }
  }
  async function loadAgents() {
    const list = await api("GET", "api/v1/agents");
    if (list) for (const a of list) agents.set(a.type, a);
    renderAgents();
  }
  const agentsChannel = channel("agents");
  agentsChannel.on("snapshot", (m) => {
    for (const a of m.state.agents || []) agents.set(a.agent_type, { ...(agents.get(a.agent_type) || { type: a.agent_type }), status: a.status });
    renderAgents();
  });
  agentsChannel.on("agent_status_update", (m) => {
    const type = m.data.agent_type || m.agent_id.replace(/-\d+$/, "");
    const previous = agents.get(type) || { type };
    agents.set(type, { ...previous, status: m.status === "completed" || m.status === "error" ? previous.status : m.status });
    // Its stats need the API: only with a token (without one the status still shows).
    if ((m.status === "completed" || m.status === "idle") && sessionStorage.getItem(tokenKey)) refreshAgent(type);
    renderAgents();
  });
  async function refreshAgent(type) {
    const info = await api("GET", `api/v1/agents/${type}`);
    if (info) {
      agents.set(type, { ...info, status: agents.get(type)?.status || info.status });
      renderAgents();
    }
  }

  // -- tasks ----------------------------------------------------------------------
  // The table shows one page of the task list (newest first) as the API serves it; live
  // updates change the rows shown, and new tasks join the first page when they fit its
  // filters. Without a token only the live snapshot of active tasks can be shown.
  const PAGE = 20;
  const tasks = new Map();
  const view = { offset: 0, agent: "", status: "", q: "" };
  let history = false; // a page was loaded from the API
  const fromApi = (d) => ({
    task_id: d.taskId, agent_type: d.agentType, status: d.status, progress: d.progress,
    technique_used: d.techniqueUsed, latency_ms: d.metrics && d.metrics.latencyMs,
  });
  function taskCells(t) {
    const cell = (label, ...content) => el("td", { "data-label": label }, ...content);
    return [
      cell("Task", el("button", { type: "button", class: "link", "data-role": "open", onclick: () => showTask(t.task_id), "aria-label": `Details of ${t.task_id}` }, el("code", {}, t.task_id))),
      cell("Agent", t.agent_type || ""),
      cell("Status", el("span", { class: `badge ${t.status}`, "data-role": "status" }, t.status)),
      cell("Progress", el("progress", { max: "100", value: String(t.progress || 0), "aria-label": `Progress of ${t.task_id}` }), ` ${Math.round(t.progress || 0)}%`),
      cell("Technique", t.technique_used || ""),
      cell("Latency", t.latency_ms ? `${Math.round(t.latency_ms)} ms` : ""),
      cell("", ["pending", "running"].includes(t.status) ? el("button", { type: "button", class: "secondary", onclick: () => api("POST", `api/v1/tasks/${t.task_id}/cancel`), "aria-label": `Cancel ${t.task_id}` }, "Cancel") : ""),
    ];
  }
  const fitsFirstPage = (t) =>
    view.offset === 0 && !view.q && (!view.agent || t.agent_type === view.agent) && (!view.status || t.status === view.status);
  function renderTask(t) {
    const row = document.querySelector(`#tasks tr[data-task="${t.task_id}"]`);
    if (row) return row.replaceChildren(...taskCells(t));
    if (!fitsFirstPage(t)) return;
    const body = $("#tasks tbody");
    body.prepend(el("tr", { "data-task": t.task_id }, ...taskCells(t)));
    while (body.rows.length > PAGE) body.lastElementChild.remove();
    if (body.rows.length === PAGE && history) $("#tasks-older").disabled = false;
    showTasksEmpty();
  }
  function showTasksEmpty() {
    const filtered = view.agent || view.status || view.q;
    let text = "";
    if (!$("#tasks tbody").rows.length) {
      if (filtered && history) text = "No tasks match these filters.";
      else if (history || sessionStorage.getItem(tokenKey)) text = "No tasks yet: submit one above.";
      else text = "No active tasks. Paste a token above to load the history.";
    }
    $("#tasks-empty").textContent = text;
  }
  async function loadTasks() {
    const query = new URLSearchParams({ limit: String(PAGE + 1), offset: String(view.offset) });
    if (view.agent) query.set("agent_type", view.agent);
    if (view.status) query.set("status", view.status);
    if (view.q) query.set("q", view.q);
    const list = await api("GET", `api/v1/tasks?${query}`);
    if (!list) return;
    history = true;
    const page = list.slice(0, PAGE).map((d) => ({ ...tasks.get(d.taskId), ...fromApi(d) }));
    for (const t of page) tasks.set(t.task_id, t);
    $("#tasks tbody").replaceChildren(...page.map((t) => el("tr", { "data-task": t.task_id }, ...taskCells(t))));
    $("#tasks-older").disabled = list.length <= PAGE;
    $("#tasks-newer").disabled = view.offset === 0;
    $("#tasks-page").textContent = `Page ${view.offset / PAGE + 1}`;
    showTasksEmpty();
  }
  function filtersChanged() {
    view.agent = $("#filter-agent").value;
    view.status = $("#filter-status").value;
    view.q = $("#filter-q").value.trim();
    view.offset = 0;
    if (sessionStorage.getItem(tokenKey)) loadTasks();
  }
  let typing = null;
  $("#filter-agent").addEventListener("change", filtersChanged);
  $("#filter-status").addEventListener("change", filtersChanged);
  $("#filter-q").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(filtersChanged, 300);
  });
  $("#task-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    filtersChanged();
  });
  $("#tasks-older").addEventListener("click", () => {
    view.offset += PAGE;
    loadTasks();
  });
  $("#tasks-newer").addEventListener("click", () => {
    view.offset = Math.max(0, view.offset - PAGE);
    loadTasks();
  });
  const tasksChannel = channel("tasks");
  tasksChannel.on("snapshot", (m) => {
    for (const t of m.state.tasks || []) {
      tasks.set(t.task_id, t);
      renderTask(t);
    }
    showTasksEmpty();
  });
  tasksChannel.on("task_update", (m) => {
    toastFinished("Task", m.task_id, tasks.get(m.task_id)?.status, m.status);
    const t = { ...(tasks.get(m.task_id) || {}), task_id: m.task_id, status: m.status, progress: m.progress, agent_type: m.data.agent_type, technique_used: m.data.technique_used, latency_ms: m.data.latency_ms };
    tasks.set(m.task_id, t);
    renderTask(t);
    refreshDetail("task", m.task_id, m.status);
  });
  $("#task-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const task = await api("POST", "api/v1/tasks", { agentType: $("#task-agent").value, prompt: $("#task-prompt").value, parameters: {}, useRoundTable: $("#task-rt").checked });
    if (task) say(`Task ${task.taskId} submitted.`);
  });
  showTasksEmpty();

  // -- round table ----------------------------------------------------------------
  const order = ["generating", "scoring", "ab_testing", "completed"];
  let currentCompetition = null;
  function showStage(stage) {
    const reached = order.indexOf(stage);
    document.querySelectorAll("#rt-stages li").forEach((li, i) => {
      li.classList.toggle("done", i < reached || stage === "completed");
      li.classList.toggle("current", i === reached && stage !== "completed");
    });
  }
  const competitions = new Map();
  function renderCompetition(c, append = false) {
    const item = listItem("#competitions", "data-competition", c.competition_id, append);
    const winner = c.winner ? ` · winner ${c.winner.provider}` : "";
    item.replaceChildren(el("button", { type: "button", class: "link", "data-role": "open", onclick: () => showCompetition(c.competition_id) }, el("code", {}, c.competition_id)), " ", el("span", { class: `badge ${c.status}`, "data-role": "status" }, c.status), winner, " ", el("span", { class: "scores" }, (c.prompt || "").slice(0, 80)));
    $("#competitions-empty").textContent = "";
  }
  const loadCompetitions = () =>
    loadList("api/v1/round-table?limit=10", "#competitions", competitions, "competition_id", renderCompetition, "No competitions yet: start one above.");
  const rtChannel = channel("round_table");
  rtChannel.on("competition_update", (m) => {
    toastFinished("Competition", m.competition_id, competitions.get(m.competition_id)?.status, m.stage);
    const c = { ...(competitions.get(m.competition_id) || { competition_id: m.competition_id }), status: m.stage };
    competitions.set(m.competition_id, c);
    renderCompetition(c);
    refreshDetail("competition", m.competition_id, m.stage);
    if (currentCompetition && m.competition_id !== currentCompetition) return;
    currentCompetition = m.competition_id;
    showStage(m.stage);
  });
  $("#rt-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    currentCompetition = null;
    showStage("");
    $("#rt-result").replaceChildren(el("p", {}, "Competing…"));
    const record = await api("POST", "api/v1/round-table/compete", { prompt: $("#rt-prompt").value, task_id: null, providers: null });
    if (!record) return $("#rt-result").replaceChildren();
    currentCompetition = record.competition_id;
    competitions.set(record.competition_id, record);
    renderCompetition(record);
    showStage(record.status);
    $("#rt-result").replaceChildren(
      el("p", { "data-role": "winner" }, `Winner: ${record.winner ? record.winner.provider : "none"} (${record.status})`),
      el("p", { "data-role": "reasoning" }, record.ab_test ? `Judge (${record.ab_test.judge}, confidence ${record.ab_test.confidence}): ${record.ab_test.reasoning}` : record.error || ""),
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, ...["#", "Provider", "Total", "Relevance", "Quality", "Complete", "Efficiency", "Brand"].map((h) => el("th", { scope: "col" }, h)))),
        el(
          "tbody",
          {},
          ...record.entries.map((e) =>
            el("tr", {}, el("td", {}, e.rank), el("td", {}, e.provider), el("td", {}, e.error ? "failed" : e.total_score.toFixed(1)),
              ...["relevance", "quality", "completeness", "efficiency", "brand"].map((k) => el("td", {}, e.scores[k] !== undefined ? e.scores[k].toFixed(0) : ""))),
          ),
        ),
      ),
    );
  });

  // -- 3D pipeline ----------------------------------------------------------------
  const pipelines = new Map();
  function renderPipeline(p, append = false) {
    const item = listItem("#pipelines", "data-pipeline", p.pipeline_id, append);
    $("#pipelines-empty").textContent = "";
    const parts = [el("button", { type: "button", class: "link", "data-role": "open", onclick: () => showPipeline(p.pipeline_id) }, el("code", {}, p.pipeline_id)), " ", el("span", { class: `badge ${p.stage}`, "data-role": "status" }, p.stage), " ", el("progress", { max: "100", value: String(p.progress || 0), "aria-label": `Progress of ${p.pipeline_id}` })];
    if (p.stage === "completed") parts.push(" ", el("a", { href: new URL(`api/v1/3d-pipeline/${p.pipeline_id}/asset`, base).href, "data-role": "download", onclick: (e) => downloadAsset(e, p.pipeline_id) }, "Download GLB"));
    if (p.error) parts.push(" ", p.error);
    item.replaceChildren(...parts);
  }
  async function downloadAsset(event, id) {
    event.preventDefault();
    const token = sessionStorage.getItem(tokenKey);
    const response = await fetch(new URL(`api/v1/3d-pipeline/${id}/asset`, base), { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    if (!response.ok) return say(`Download failed (${response.status}).`, true);
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: `${id}.glb` });
    link.click();
    URL.revokeObjectURL(url);
  }
  const loadPipelines = () =>
    loadList("api/v1/3d-pipeline?limit=20", "#pipelines", pipelines, "pipeline_id", renderPipeline, "No pipelines yet: generate one above.");
  const pipelineChannel = channel("3d_pipeline");
  pipelineChannel.on("snapshot", (m) => (m.state.pipelines || []).forEach((p) => renderPipeline(p)));
  pipelineChannel.on("pipeline_update", (m) => {
    toastFinished("Pipeline", m.pipeline_id, pipelines.get(m.pipeline_id)?.stage, m.stage);
    const p = { ...(pipelines.get(m.pipeline_id) || {}), pipeline_id: m.pipeline_id, stage: m.stage, progress: m.progress, error: m.data.error };
    pipelines.set(m.pipeline_id, p);
    renderPipeline(p);
    refreshDetail("pipeline", m.pipeline_id, m.stage);
  });
  $("#pipeline-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const record = await api("POST", "api/v1/3d-pipeline", { prompt: $("#pipeline-prompt").value, format: "glb", quality: $("#pipeline-quality").value });
    if (record) say(`Pipeline ${record.pipeline_id} started.`);
  });

  // -- metrics --------------------------------------------------------------------
  // uPlot charts (vendored, static/uplot.*): time axes, units, values under the cursor.
  // They are filled from the history endpoint for the chosen range, then live samples
  // are appended; a missing value or a silence longer than three sampling steps is a
  // gap (null), never a zero.
  const RANGE_S = { "1h": 3600, "24h": 86400, "7d": 604800, "30d": 2592000 };
  const charts = {
    cpu: { label: "CPU", unit: "%", key: "cpu_percent", from: "health" },
    memory: { label: "Memory", unit: "%", key: "memory_percent", from: "health" },
    connections: { label: "Connections", unit: "", key: "active_connections", from: "performance" },
    rps: { label: "Requests/s", unit: "req/s", key: "requests_per_second", from: "performance" },
    latency: { label: "Latency", unit: "ms", key: "avg_latency_ms", from: "performance" },
  };
  let span = RANGE_S["1h"];
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const num = (v) => (v === null || v === undefined || Number.isNaN(v) ? null : Number(v));
  function withGaps(xs, ys) {
    const steps = xs.slice(1).map((x, i) => x - xs[i]).sort((p, q) => p - q);
    const step = steps.length ? steps[Math.floor(steps.length / 2)] : 0;
    const outX = [], outY = [];
    xs.forEach((x, i) => {
      if (i && step && x - xs[i - 1] > 3 * step) {
        outX.push(xs[i - 1] + step);
        outY.push(null);
      }
      outX.push(x);
      outY.push(ys[i]);
    });
    return [outX, outY];
  }
  function plot(name) {
    const c = charts[name];
    const box = $(`#chart-${name}`);
    const fg = css("--muted"), grid = css("--line");
    const unit = (v) => (c.unit === "%" ? `${v}%` : `${v}`);
    c.data = [[], []];
    c.plot = new uPlot({
      width: Math.max(box.clientWidth, 160),
      height: 130,
      scales: { x: { time: true } },
      series: [
        { value: (u, v) => (v === null ? "—" : new Date(v * 1000).toLocaleTimeString()) },
        { label: c.label, stroke: css("--accent"), width: 1.5, spanGaps: false,
          value: (u, v) => (v === null ? "—" : `${v.toFixed(1)}${c.unit ? ` ${c.unit}` : ""}`) },
      ],
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 48, values: (u, vals) => vals.map(unit) },
      ],
      cursor: { drag: { x: false, y: false } },
    }, c.data, box);
    new ResizeObserver(() => c.plot.setSize({ width: Math.max(box.clientWidth, 160), height: 130 })).observe(box);
  }
  function redraw(name) {
    const c = charts[name];
    const [xs, ys] = c.data;
    const from = Date.now() / 1000 - span;
    let cut = 0;
    while (cut < xs.length && xs[cut] < from) cut += 1;
    c.data = [xs.slice(cut), ys.slice(cut)];
    c.plot.setData(c.data);
    $(`#chart-${name}`).dataset.points = String(c.data[1].filter((v) => v !== null).length);
  }
  function addSample(s, at) {
    const t = at ? Date.parse(at) / 1000 : Date.now() / 1000;
    const values = { cpu: s.cpu_percent, memory: s.memory_percent, connections: s.active_connections, rps: s.requests_per_second, latency: s.avg_latency_ms };
    for (const [name, value] of Object.entries(values)) {
      const [xs, ys] = charts[name].data;
      if (xs.length && t <= xs[xs.length - 1]) continue; // already there (from history)
      const last = xs[xs.length - 1], step = last - xs[xs.length - 2];
      if (xs.length >= 2 && t - last > 3 * step) {
        xs.push(last + step); // silence: a gap
        ys.push(null);
      }
      xs.push(t);
      ys.push(num(value));
      redraw(name);
      $(`#now-${name}`).textContent = value === null || value === undefined ? "—" : Number(value).toFixed(1);
    }
  }
  async function loadHistory(range) {
    const report = await api("GET", `api/v1/monitoring/metrics?metrics=health,performance&time_range=${range}`);
    if (!report) return;
    span = RANGE_S[range];
    for (const [name, c] of Object.entries(charts)) {
      const points = report[c.from].series;
      const [xs, ys] = withGaps(points.map((p) => Date.parse(p.timestamp) / 1000), points.map((p) => num(p[c.key])));
      const [liveX, liveY] = c.data;
      const after = liveX.findIndex((x) => x > (xs[xs.length - 1] || 0));
      c.data = after < 0 ? [xs, ys] : [xs.concat(liveX.slice(after)), ys.concat(liveY.slice(after))];
      redraw(name);
    }
    $("#metrics-panel").dataset.range = range;
  }
  Object.keys(charts).forEach(plot);
  const metricsChannel = channel("metrics");
  metricsChannel.on("snapshot", (m) => m.state.metrics && addSample(m.state.metrics, m.state.metrics.timestamp));
  metricsChannel.on("metrics_update", (m) => addSample(m.metrics, m.timestamp));
  $("#range-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadHistory($("#range").value);
  });
  $("#range").addEventListener("change", () => loadHistory($("#range").value));

  // -- detail views ---------------------------------------------------------------
  // One dialog shows a task, a competition or a pipeline as the API returns it, and is
  // read again when the record it shows finishes.
  const detail = $("#detail");
  let shown = null;
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
  const fields = (pairs) =>
    el("dl", { class: "fields" }, ...pairs.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value === null || value === undefined || value === "" ? "—" : value)]));
  const block = (title, text, cls = "") => (text ? [el("h3", {}, title), el("pre", { class: cls, "data-role": title.toLowerCase() }, text)] : []);
  function showDetail(kind, id, title, ...body) {
    shown = { kind, id };
    $("#detail-title").textContent = title;
    $("#detail-body").replaceChildren(...body.flat());
    if (!detail.open) detail.showModal();
  }
  function refreshDetail(kind, id, status) {
    if (!detail.open || !shown || shown.kind !== kind || shown.id !== id) return;
    if (!["completed", "failed", "cancelled", "error", "running"].includes(status)) return;
    ({ task: showTask, competition: showCompetition, pipeline: showPipeline })[kind](id);
  }
  detail.addEventListener("close", () => (shown = null));
  async function showTask(id) {
    const t = await api("GET", `api/v1/tasks/${id}`);
    if (!t) return;
    const m = t.metrics || {};
    const cancel = $("#detail-cancel");
    cancel.hidden = false;
    cancel.disabled = !["pending", "running"].includes(t.status);
    cancel.onclick = async () => {
      if (await api("POST", `api/v1/tasks/${id}/cancel`)) showTask(id);
    };
    showDetail("task", id, `Task ${t.taskId}`,
      fields([
        ["Status", el("span", { class: `badge ${t.status}`, "data-role": "status" }, t.status)],
        ["Agent", t.agentType], ["Technique", t.techniqueUsed], ["Provider", m.provider],
        ["Tokens", m.tokensUsed], ["Cost", typeof m.costUsd === "number" ? `$${m.costUsd.toFixed(4)}` : null],
        ["Latency", typeof m.latencyMs === "number" ? `${Math.round(m.latencyMs)} ms` : null],
      ]),
      el("ol", { class: "timeline", "aria-label": "Status timeline" },
        el("li", {}, `created ${when(t.createdAt)}`),
        ...(t.status !== "pending" ? [el("li", {}, `started ${when(m.startTime)}`)] : []),
        ...(m.endTime ? [el("li", {}, `${t.status} ${when(m.endTime)}`)] : [])),
      block("Prompt", t.prompt), block("Result", t.result), block("Error", t.error, "error"));
  }
  async function showCompetition(id) {
    const c = await api("GET", `api/v1/round-table/${id}`);
    if (!c) return;
    $("#detail-cancel").hidden = true;
    const judge = c.ab_test;
    showDetail("competition", id, `Competition ${c.competition_id}`,
      fields([
        ["Status", el("span", { class: `badge ${c.status}`, "data-role": "status" }, c.status)],
        ["Winner", c.winner ? c.winner.provider : null], ["Cost", `$${(c.total_cost_usd || 0).toFixed(4)}`],
        ["Duration", `${Math.round(c.total_duration_ms || 0)} ms`], ["Created", when(c.created_at)],
      ]),
      block("Prompt", c.prompt),
      block("Judge", judge ? `${judge.judge} (confidence ${judge.confidence}): ${judge.reasoning}` : ""),
      block("Error", c.error, "error"),
      ...(c.entries || []).map((e) => [
        el("h3", { "data-role": "entry" }, `#${e.rank} ${e.provider} (${e.model}) — ${e.error ? "failed" : e.total_score.toFixed(1)}`),
        el("p", { class: "scores" }, Object.entries(e.scores || {}).map(([k, v]) => `${k} ${Number(v).toFixed(0)}`).join(" · ")),
        el("pre", { class: e.error ? "error" : "" }, e.error || e.response || ""),
      ]));
  }
  async function showPipeline(id) {
    const p = await api("GET", `api/v1/3d-pipeline/${id}`);
    if (!p) return;
    $("#detail-cancel").hidden = true;
    const v = p.validation || {};
    const download = p.stage === "completed" && p.asset_status === "available"
      ? el("a", { href: new URL(`api/v1/3d-pipeline/${id}/asset`, base).href, "data-role": "download", onclick: (e) => downloadAsset(e, id) }, "Download GLB")
      : null;
    showDetail("pipeline", id, `Pipeline ${p.pipeline_id}`,
      fields([
        ["Stage", el("span", { class: `badge ${p.stage}`, "data-role": "status" }, p.stage)],
        ["Progress", `${Math.round(p.progress || 0)}%`], ["Quality", p.quality], ["Format", p.format],
        ["Generator", p.generator], ["Created", when(p.created_at)], ["Completed", p.completed_at ? when(p.completed_at) : null],
        ["Asset", download || p.asset_status],
      ]),
      block("Prompt", p.prompt),
      block("Validation", p.validation ? [`${v.size_bytes ?? "?"} bytes, ${v.triangles ?? "?"} triangles`,
        `textures: ${(v.textures || []).map((x) => `${x.width}x${x.height}`).join(", ") || "none"}`,
        `errors: ${(v.errors || []).join("; ") || "none"}`].join("\n") : ""),
      block("Error", p.error, "error"));
  }

  for (const client of Object.values(channels)) client.connect();
  if (sessionStorage.getItem(tokenKey)) signIn();
  if (!sessionStorage.getItem(tokenKey)) {
    $("#pipelines-empty").textContent = "Paste a token above to load the history.";
    $("#competitions-empty").textContent = "Paste a token above to load the history.";
  }
  window.devskyyDashboard = { channels, agents, tasks, charts, withGaps };
})();
