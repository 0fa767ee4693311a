// The person's upstream MCP servers: register one, see each tool's state (pending, approved,
// quarantined) and approve a tool exactly as listed, with a fresh passkey. A tool's text is
// the server's, shown as text only (never markup): read it before approving.

import { call, command, get, post, withStepUp } from "../api.js";
import { announce, errorBox, field, h, mount, replace } from "../dom.js";

const STATE = {
  pending: "Waiting for your approval",
  approved: "Approved",
  quarantined: "Quarantined: changed since you approved it",
};

function toolItem(server, tool, problems, refresh) {
  const approve = async () => {
    problems.replaceChildren();
    const path = `/v1/mcp/servers/${server.server_id}/tools/${encodeURIComponent(tool.name)}/approve`;
    try {
      await withStepUp(() => post(path, { hash: tool.hash }));
      announce(`Approved ${tool.name}.`);
      await refresh();
    } catch (error) {
      problems.append(errorBox(error));
    }
  };
  return h(
    "li",
    { "data-tool": tool.name, "data-state": tool.state },
    h("strong", {}, tool.name),
    " ",
    h("span", { class: `tool-state ${tool.state}` }, STATE[tool.state] || tool.state),
    h("p", { class: "tool-description" }, tool.description || "(no description)"),
    h("p", { class: "hint" }, `Text hash ${tool.hash.slice(0, 12)}…`),
    tool.state === "approved"
      ? null
      : h("button", { type: "button", class: "small", onclick: approve },
        tool.state === "quarantined" ? `Approve ${tool.name} again` : `Approve ${tool.name}`),
  );
}

function serverCard(server, problems, refresh) {
  const relist = async () => {
    problems.replaceChildren();
    try {
      await get(`/v1/mcp/servers/${server.server_id}/tools`);
      await refresh();
    } catch (error) {
      problems.append(errorBox(error));
    }
  };
  const connect = async () => {
    problems.replaceChildren();
    try {
      const path = `/v1/connections/${encodeURIComponent(server.connect_provider)}/connect`;
      const started = await command(path, { scopes: [] });
      location.assign(started.authorization_url);
    } catch (error) {
      problems.append(errorBox(error));
    }
  };
  return h(
    "section",
    { class: "card", "data-server": server.server_id, "aria-label": server.name },
    h("h2", {}, server.name),
    h("p", { class: "hint" }, server.url),
    server.auth === "oauth"
      ? h("p", {}, "This server signs you in with its own account. ",
        h("button", { type: "button", class: "small", onclick: connect }, `Connect ${server.name}`))
      : null,
    h("ul", { class: "tools" },
      server.tools.length ? server.tools.map((t) => toolItem(server, t, problems, refresh)) : h("li", {}, "No tools.")),
    h("button", { type: "button", class: "small secondary", onclick: relist }, `List ${server.name}'s tools again`),
  );
}

export async function render(main, { query }) {
  const servers = h("div", { id: "mcp-servers" });
  const problems = h("div", { "aria-live": "polite" });

  async function refresh() {
    const found = await get("/v1/mcp/servers");
    replace(
      servers,
      found.servers.length
        ? found.servers.map((s) => serverCard(s, problems, refresh))
        : h("p", {}, "No MCP server yet."),
    );
  }

  const name = h("input", { name: "name", maxlength: 100, required: true, placeholder: "Weather" });
  const url = h("input", { name: "url", type: "url", maxlength: 500, required: true,
    placeholder: "https://mcp.example/mcp" });
  async function onRegister(event) {
    event.preventDefault();
    problems.replaceChildren();
    try {
      await call("POST", "/v1/mcp/servers", { body: { name: name.value.trim(), url: url.value.trim() } });
      name.value = "";
      url.value = "";
      announce("Server registered. Approve the tools you want Cairn to use.");
      await refresh();
    } catch (error) {
      problems.append(errorBox(error));
    }
  }

  mount(
    main,
    h("h1", {}, "MCP servers"),
    query.get("connected") ? h("p", { class: "success", role: "status" }, "Connected. List its tools to see them.") : null,
    h("p", {}, "Tools of MCP servers you register here can be planned like any action. Each tool is pinned to the text you approve; if its server changes that text, the tool is quarantined until you approve it again. Your policies decide every call; by default each one waits for your approval."),
    h("form", { class: "card form", onsubmit: onRegister, "aria-label": "Register an MCP server" },
      h("h2", {}, "Register a server"),
      field("Server name", name),
      field("Server URL", url, "https, or http on this machine"),
      h("button", { type: "submit" }, "Register")),
    problems,
    servers,
  );
  await refresh();
}
