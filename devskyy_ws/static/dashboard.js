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
            el("button", { type: "button", onclick: () => agentAction(a.type, "start"), "aria-label": `Start ${a.type}` }, "Start"),
            el("button", { type: "button", onclick: () => agentAction(a.type, "stop"), "aria-label": `Stop ${a.type}` }, "Stop"),
            el("button", { type: "button", onclick: () => agentAction(a.type, "learn"), "aria-label": `Learn ${a.type}` }, "Learn"),
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
  async function agentAction(type, action) {
    const info = await api("POST", `api/v1/agents/${type}/${action}`);
    if (info) {
      agents.set(type, info);
      renderAgents();
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
    if (m.status === "completed" || m.status === "idle") refreshAgent(type);
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
    return [
      el("td", {}, el("code", {}, t.task_id)),
      el("td", {}, t.agent_type || ""),
      el("td", {}, el("span", { class: `badge ${t.status}`, "data-role": "status" }, t.status)),
      el("td", {}, el("progress", { max: "100", value: String(t.progress || 0), "aria-label": `Progress of ${t.task_id}` }), ` ${Math.round(t.progress || 0)}%`),
      el("td", {}, t.technique_used || ""),
      el("td", {}, t.latency_ms ? `${Math.round(t.latency_ms)} ms` : ""),
      el("td", {}, ["pending", "running"].includes(t.status) ? el("button", { type: "button", class: "secondary", onclick: () => api("POST", `api/v1/tasks/${t.task_id}/cancel`), "aria-label": `Cancel ${t.task_id}` }, "Cancel") : ""),
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
    const t = { ...(tasks.get(m.task_id) || {}), task_id: m.task_id, status: m.status, progress: m.progress, agent_type: m.data.agent_type, technique_used: m.data.technique_used, latency_ms: m.data.latency_ms };
    tasks.set(m.task_id, t);
    renderTask(t);
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
    let item = document.querySelector(`#competitions li[data-competition="${c.competition_id}"]`);
    if (!item) {
      item = el("li", { "data-competition": c.competition_id });
      if (append) $("#competitions").append(item);
      else $("#competitions").prepend(item);
    }
    const winner = c.winner ? ` · winner ${c.winner.provider}` : "";
    item.replaceChildren(el("code", {}, c.competition_id), " ", el("span", { class: `badge ${c.status}`, "data-role": "status" }, c.status), winner, " ", el("span", { class: "scores" }, (c.prompt || "").slice(0, 80)));
    $("#competitions-empty").textContent = "";
  }
  async function loadCompetitions() {
    const page = await api("GET", "api/v1/round-table?limit=10");
    if (!page) return;
    $("#competitions").replaceChildren();
    for (const c of page.items) {
      competitions.set(c.competition_id, c);
      renderCompetition(c, true);
    }
    $("#competitions-empty").textContent = page.items.length ? "" : "No competitions yet: start one above.";
  }
  const rtChannel = channel("round_table");
  rtChannel.on("competition_update", (m) => {
    const c = { ...(competitions.get(m.competition_id) || { competition_id: m.competition_id }), status: m.stage };
    competitions.set(m.competition_id, c);
    renderCompetition(c);
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
    let item = document.querySelector(`#pipelines li[data-pipeline="${p.pipeline_id}"]`);
    if (!item) {
      item = el("li", { "data-pipeline": p.pipeline_id });
      if (append) $("#pipelines").append(item);
      else $("#pipelines").prepend(item);
    }
    $("#pipelines-empty").textContent = "";
    const parts = [el("code", {}, p.pipeline_id), " ", el("span", { class: `badge ${p.stage}`, "data-role": "status" }, p.stage), " ", el("progress", { max: "100", value: String(p.progress || 0), "aria-label": `Progress of ${p.pipeline_id}` })];
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
  async function loadPipelines() {
    const page = await api("GET", "api/v1/3d-pipeline?limit=20");
    if (!page) return;
    $("#pipelines").replaceChildren();
    for (const p of page.items) {
      pipelines.set(p.pipeline_id, p);
      renderPipeline(p, true);
    }
    $("#pipelines-empty").textContent = page.items.length ? "" : "No pipelines yet: generate one above.";
  }
  const pipelineChannel = channel("3d_pipeline");
  pipelineChannel.on("snapshot", (m) => (m.state.pipelines || []).forEach((p) => renderPipeline(p)));
  pipelineChannel.on("pipeline_update", (m) => {
    const p = { ...(pipelines.get(m.pipeline_id) || {}), pipeline_id: m.pipeline_id, stage: m.stage, progress: m.progress, error: m.data.error };
    pipelines.set(m.pipeline_id, p);
    renderPipeline(p);
  });
  $("#pipeline-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const record = await api("POST", "api/v1/3d-pipeline", { prompt: $("#pipeline-prompt").value, format: "glb", quality: $("#pipeline-quality").value });
    if (record) say(`Pipeline ${record.pipeline_id} started.`);
  });

  // -- metrics --------------------------------------------------------------------
  const series = { cpu: [], memory: [], connections: [], rps: [], latency: [] };
  const keep = 60;
  function draw(svg, values) {
    const max = Math.max(1, ...values);
    const step = values.length > 1 ? 300 / (values.length - 1) : 0;
    const points = values.map((v, i) => `${(i * step).toFixed(1)},${(78 - (v / max) * 74).toFixed(1)}`).join(" ");
    svg.replaceChildren(document.createElementNS("http://www.w3.org/2000/svg", "polyline"));
    svg.firstChild.setAttribute("points", points);
    svg.dataset.points = String(values.length);
  }
  const metricsChannel = channel("metrics");
  function addSample(s) {
    const values = { cpu: s.cpu_percent, memory: s.memory_percent, connections: s.active_connections, rps: s.requests_per_second, latency: s.avg_latency_ms };
    for (const [key, value] of Object.entries(values)) {
      series[key].push(value);
      if (series[key].length > keep) series[key].shift();
      draw($(`#chart-${key}`), series[key]);
      $(`#now-${key}`).textContent = Number(value).toFixed(1);
    }
  }
  metricsChannel.on("snapshot", (m) => m.state.metrics && addSample(m.state.metrics));
  metricsChannel.on("metrics_update", (m) => addSample(m.metrics));
  $("#range-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const report = await api("GET", `api/v1/monitoring/metrics?metrics=health&time_range=${$("#range").value}`);
    if (report) draw($("#chart-history"), report.health.series.map((p) => p.cpu_percent || 0));
  });

  for (const client of Object.values(channels)) client.connect();
  if (sessionStorage.getItem(tokenKey)) signIn();
  if (!sessionStorage.getItem(tokenKey)) {
    $("#pipelines-empty").textContent = "Paste a token above to load the history.";
    $("#competitions-empty").textContent = "Paste a token above to load the history.";
  }
  window.devskyyDashboard = { channels, agents, tasks };
})();
