// Where providers send the browser back after consent: hand code, state and iss to the API
// (with this browser's session), then return to the connections screen.

import { command } from "./api.js";

const params = new URLSearchParams(location.search);
// The code leaves the address bar and the history at once.
history.replaceState(null, "", location.pathname);
const body = { state: params.get("state") || "" };
for (const name of ["code", "iss", "error"]) {
  if (params.get(name)) body[name] = params.get(name);
}
try {
  const done = await command("/v1/connections/callback", body);
  // An upstream MCP server's connection (mcp-<server id>) belongs to the MCP servers screen.
  const screen = done.provider.startsWith("mcp-") ? "mcp" : "connections";
  location.replace(`/#/${screen}?connected=${encodeURIComponent(done.provider)}`);
} catch (error) {
  location.replace(`/#/connections?failed=${encodeURIComponent(error.code || "error")}`);
}
