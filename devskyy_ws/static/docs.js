/* Renders the OpenAPI and AsyncAPI documents as a readable page, with no libraries. */
"use strict";
(async function () {
  // The page is <mount>/api/docs; the documents are beside it, <mount>/api/v1/..., so
  // they resolve from wherever the server is mounted (a prefix, behind a proxy).
  const base = new URL(".", window.location.href);
  const el = (tag, text, cls) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  };
  const show = (schema) => el("pre", JSON.stringify(schema, null, 1));
  let openapi, asyncapi;
  try {
    [openapi, asyncapi] = await Promise.all(
      ["v1/openapi.json", "v1/asyncapi.json"].map(async (p) => {
        const response = await fetch(new URL(p, base));
        if (!response.ok) throw new Error(`${p}: HTTP ${response.status}`);
        return response.json();
      }),
    );
  } catch (error) {
    for (const id of ["rest", "channels"]) {
      document.getElementById(id).replaceChildren(el("p", `Could not load the API documents (${error.message}).`, "error"));
    }
    return;
  }
  const rest = document.getElementById("rest");
  rest.replaceChildren();
  for (const [path, item] of Object.entries(openapi.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const box = el("details");
      box.dataset.operation = `${method.toUpperCase()} ${path}`;
      const scope = (op.security && op.security[0] && op.security[0].bearerAuth) || [];
      box.append(el("summary", `${method.toUpperCase()} ${path} — ${op.summary}${scope.length ? ` [${scope.join(" ")}]` : " [no auth]"}`));
      if (op.parameters) box.append(el("h4", "Parameters"), show(op.parameters));
      if (op.requestBody) box.append(el("h4", "Body"), show(op.requestBody.content["application/json"].schema));
      box.append(el("h4", "Responses"), el("p", Object.keys(op.responses).join(", ")));
      rest.append(box);
    }
  }
  const schemas = el("details");
  schemas.append(el("summary", "Schemas"), show(openapi.components.schemas));
  rest.append(schemas);
  const channels = document.getElementById("channels");
  channels.replaceChildren();
  for (const [name, channel] of Object.entries(asyncapi.channels)) {
    const box = el("details");
    box.append(el("summary", `${channel.address} — ${Object.keys(channel.messages).length} messages`));
    box.append(el("p", channel.description), el("h4", "Close codes"), show(channel["x-close-codes"]));
    for (const ref of Object.values(channel.messages)) {
      const key = ref.$ref.split("/").pop();
      const message = asyncapi.components.messages[key];
      const payload = asyncapi.components.schemas[message.payload.$ref.split("/").pop()];
      const item = el("details");
      item.dataset.message = key;
      item.append(el("summary", key), show(payload));
      box.append(item);
    }
    channels.append(box);
  }
})();
