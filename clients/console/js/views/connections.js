// Connected accounts: each provider's connection with its health; connect, reconnect,
// disconnect. Connecting leaves the console for the provider's consent page, which sends the
// browser back to connections-callback.html.

import { command, get } from "../api.js";
import { errorBox, h, mount, replace } from "../dom.js";

const HEALTH = {
  ok: "Working",
  refresh_failing: "The provider is not answering; Cairn keeps retrying",
  reauth_required: "Needs you to connect again",
  none: "Not connected",
};

async function startConnect(provider, again, problems) {
  problems.replaceChildren();
  try {
    const path = `/v1/connections/${encodeURIComponent(provider)}/${again ? "reconnect" : "connect"}`;
    const started = await command(path, { scopes: [] });
    location.assign(started.authorization_url);
  } catch (error) {
    problems.append(errorBox(error));
  }
}

function row(connection, problems, refresh) {
  const { provider, status, health } = connection;
  const actions = [];
  if (status === "active" || status === "reauth_required") {
    actions.push(
      h("button", { type: "button", onclick: () => startConnect(provider, true, problems) }, "Reconnect"),
      h("button", {
        type: "button",
        class: "danger",
        onclick: async () => {
          problems.replaceChildren();
          try {
            await command(`/v1/connections/${encodeURIComponent(provider)}/disconnect`);
            await refresh();
          } catch (error) {
            problems.append(errorBox(error));
          }
        },
      }, "Disconnect"),
    );
  } else {
    actions.push(h("button", { type: "button", onclick: () => startConnect(provider, false, problems) }, "Connect"));
  }
  return h(
    "li",
    { "data-provider": provider, "data-status": status, "data-health": health },
    h("strong", {}, provider),
    " ",
    h("span", { class: "health" }, HEALTH[health] || health),
    connection.account_email ? h("span", {}, ` · ${connection.account_email}`) : null,
    connection.scopes.length ? h("small", {}, ` · ${connection.scopes.join(" ")}`) : null,
    " ",
    ...actions,
  );
}

export async function render(main, { query }) {
  const list = h("ul", { id: "connections" });
  const problems = h("div", { "aria-live": "polite" });
  async function refresh() {
    const { connections } = await get("/v1/connections");
    replace(
      list,
      connections.length
        ? connections.map((c) => row(c, problems, refresh))
        : h("li", {}, "No provider is configured for this Cairn."),
    );
  }
  const connected = query.get("connected");
  mount(
    main,
    h("h1", {}, "Connected accounts"),
    connected ? h("p", { class: "success", role: "status" }, `Connected ${connected}.`) : null,
    query.get("failed") ? h("p", { role: "alert" }, `Not connected: ${query.get("failed")}`) : null,
    h("p", {}, "Cairn acts on your calendar and mail only through accounts you connect here. Their tokens are kept encrypted and never shown."),
    problems,
    list,
  );
  await refresh();
}
