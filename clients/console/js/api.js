// The public HTTP API, and the signed-in session kept in this browser.

import { usePasskey } from "./webauthn.js";
//
// The session lives in localStorage so that every tab of the console shares it. Refresh
// tokens rotate and a reused one ends the whole session family, so a refresh runs under a
// Web Lock: one tab at a time, and a tab that waited takes the pair the other one stored.

const SESSION_KEY = "cairn.session";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

export function currentSession() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
}

export function saveSession(session) {
  localStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function forgetSession() {
  localStorage.removeItem(SESSION_KEY);
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && body.error;
  if (error && error.code) {
    return new ApiError(response.status, error.code, error.message, error.details);
  }
  return new ApiError(response.status, "http_" + response.status, response.statusText);
}

async function refreshed(staleAccessToken) {
  return navigator.locks.request("cairn.refresh", async () => {
    const session = currentSession();
    if (!session) throw new ApiError(401, "signed_out", "You are signed out.");
    if (session.access_token !== staleAccessToken) return session; // another tab did it
    const response = await fetch("/v1/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ refresh_token: session.refresh_token }),
    });
    if (!response.ok) {
      forgetSession();
      throw await errorOf(response);
    }
    const pair = await response.json();
    const next = { ...session, access_token: pair.access_token, refresh_token: pair.refresh_token };
    saveSession(next);
    return next;
  });
}

/**
 * Call the API. Commands (`command: true`) carry a fresh Idempotency-Key unless one is given,
 * so a retried click never acts twice. An expired access token is refreshed once.
 */
export async function call(method, path, options = {}) {
  const { body, anonymous = false, command = false } = options;
  const idempotencyKey = options.idempotencyKey || (command ? crypto.randomUUID() : null);
  for (let attempt = 0; ; attempt += 1) {
    const session = anonymous ? null : currentSession();
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (session) headers.Authorization = `Bearer ${session.access_token}`;
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.ok) return response.status === 204 ? null : response.json();
    const error = await errorOf(response);
    if (error.status === 401 && error.code === "token_expired" && session && attempt === 0) {
      await refreshed(session.access_token);
      continue;
    }
    if (error.status === 401 && session && !anonymous && error.code !== "step_up_required") {
      forgetSession();
    }
    throw error;
  }
}

export const get = (path) => call("GET", path);
export const post = (path, body, options = {}) => call("POST", path, { ...options, body });
export const command = (path, body, options = {}) =>
  call("POST", path, { ...options, body, command: true });

/** A fresh passkey assertion: the access token then counts as just signed in (step-up). */
export async function stepUp() {
  const ceremony = await post("/v1/auth/step-up/begin");
  const credential = await usePasskey(ceremony.options);
  const fresh = await post("/v1/auth/step-up/finish", { ceremony_id: ceremony.ceremony_id, credential });
  const session = currentSession();
  if (session) saveSession({ ...session, access_token: fresh.access_token });
}

/**
 * Run a sensitive change, `change(extra)`, where `extra` is merged into the change's body.
 * When the API answers `step_up_required`:
 * - with WebAuthn options in its details (a change that widens what runs without the person),
 *   sign those options, bound to exactly this change, and send the same change again with
 *   `extra = { approval: { ceremony_id, credential } }`;
 * - without options, make the access token fresh (step-up) and send it again.
 * Once: a second refusal is the answer.
 */
export async function withStepUp(change) {
  try {
    return await change({});
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== "step_up_required") throw error;
    const bound = error.details && error.details.options && error.details.ceremony_id;
    if (!bound) {
      await stepUp();
      return change({});
    }
    const credential = await usePasskey(error.details.options);
    return change({ approval: { ceremony_id: error.details.ceremony_id, credential } });
  }
}
