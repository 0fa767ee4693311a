// The console's router: one page, screens chosen by the URL's hash (#/runs/<id>, ...).

import { command, currentSession, forgetSession } from "./api.js";
import { h, replace } from "./dom.js";
import * as account from "./views/account.js";
import * as approvals from "./views/approvals.js";
import * as audit from "./views/audit.js";
import * as connections from "./views/connections.js";
import * as device from "./views/device.js";
import * as consent from "./views/consent.js";
import * as household from "./views/household.js";
import * as home from "./views/home.js";
import * as keys from "./views/keys.js";
import * as mcp from "./views/mcp.js";
import * as memories from "./views/memories.js";
import * as policies from "./views/policies.js";
import * as recovery from "./views/recovery.js";
import * as run from "./views/run.js";
import * as runs from "./views/runs.js";
import * as welcome from "./views/welcome.js";

const ROUTES = [
  { pattern: /^\/signup$/, view: welcome.signUp, open: true },
  { pattern: /^\/signin$/, view: welcome.signIn, open: true },
  { pattern: /^\/keys$/, view: keys.render },
  { pattern: /^\/connections$/, view: connections.render },
  { pattern: /^\/memories$/, view: memories.render },
  { pattern: /^\/mcp$/, view: mcp.render },
  { pattern: /^\/runs$/, view: runs.render },
  { pattern: /^\/runs\/([0-9a-f-]{36})$/, view: run.render },
  { pattern: /^\/approvals$/, view: approvals.render },
  { pattern: /^\/policies$/, view: policies.render },
  { pattern: /^\/account$/, view: account.render },
  { pattern: /^\/household$/, view: household.render },
  { pattern: /^\/audit\/([0-9a-f-]{36})$/, view: audit.render },
  { pattern: /^\/join$/, view: welcome.join, open: true },
  { pattern: /^\/device$/, view: device.render },
  { pattern: /^\/recover$/, view: recovery.recover, open: true },
  { pattern: /^\/recovery-codes$/, view: recovery.codes },
  { pattern: /^\/consent$/, view: consent.render },
  { pattern: /^\/$/, view: home.render },
];

let cleanup = null;

function parseHash() {
  const raw = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
  const [path, query = ""] = raw.split("?");
  return { path, query: new URLSearchParams(query) };
}

// Signed out on a screen that needs a session: sign in, then come back to it.
function signInFirst() {
  const here = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
  go(here === "/" ? "/signin" : `/signin?next=${encodeURIComponent(here)}`);
}

export function go(path) {
  if (location.hash === `#${path}`) route();
  else location.hash = path;
}

async function signOut() {
  try {
    await command("/v1/auth/logout");
  } catch {
    // Signed out here either way; the server ends the session when its token expires.
  }
  forgetSession();
  go("/signin");
}

function navLink(path, label, current) {
  return h("a", { href: `#${path}`, "aria-current": current === path ? "page" : null }, label);
}

function drawNav(path) {
  const nav = document.getElementById("nav");
  if (currentSession()) {
    replace(
      nav,
      navLink("/", "Intent", path),
      navLink("/runs", "Runs", path),
      navLink("/approvals", "Approvals", path),
      navLink("/policies", "Policies", path),
      navLink("/memories", "Memories", path),
      navLink("/keys", "Model keys", path),
      navLink("/connections", "Connections", path),
      navLink("/mcp", "MCP servers", path),
      navLink("/household", "Household", path),
      navLink("/account", "Account", path),
      h("button", { type: "button", class: "link-button", onclick: signOut }, "Sign out"),
    );
  } else {
    replace(nav, navLink("/signin", "Sign in", path), navLink("/signup", "Create a household", path));
  }
}

async function route() {
  // The skip link's own target is not a screen.
  if (location.hash === "#main") return;
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const { path, query } = parseHash();
  const main = document.getElementById("main");
  let found = ROUTES.find((r) => r.pattern.test(path));
  if (!found) found = ROUTES[ROUTES.length - 1];
  if (!found.open && !currentSession()) {
    signInFirst();
    return;
  }
  drawNav(path);
  replace(main);
  const match = path.match(found.pattern) || [];
  try {
    cleanup = (await found.view(main, { params: match.slice(1), query, go })) || null;
  } catch (error) {
    if (error.status === 401) {
      signInFirst();
      return;
    }
    replace(main, h("h1", {}, "Something went wrong"), h("p", { role: "alert" }, String(error.message)));
  }
  const heading = main.querySelector("h1");
  if (heading) {
    document.title = `${heading.textContent} · Cairn`;
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("storage", (event) => {
  // Signed out in another tab: this one follows.
  if (event.key === "cairn.session" && !event.newValue) go("/signin");
});
// `cairn login` shows `<origin>/device?user_code=...` (RFC 8628's verification URI): the
// same screen under the hash router.
if (location.pathname === "/device") location.replace(`/#/device${location.search}`);
else route();
