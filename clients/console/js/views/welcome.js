// First run (create the household and its first person with a passkey) and sign-in.

import { command, post, saveSession } from "../api.js";
import { errorBox, field, h, mount } from "../dom.js";
import { createPasskey, passkeysSupported, usePasskey } from "../webauthn.js";

export function deviceName() {
  const platform = (navigator.userAgentData && navigator.userAgentData.platform) || navigator.platform;
  return `Browser on ${platform || "this device"}`.slice(0, 60);
}

function slugOf(name) {
  return name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63);
}

// This browser's device id outlives sign-out, so signing in again reuses the device instead of
// registering a new one each time (an unknown or revoked id gets a new device).
const DEVICE_KEY = "cairn.device";

/** Where to go after signing in: the screen that asked for it (a hash route), else home. */
export function nextScreen(query) {
  const next = query ? query.get("next") || "" : "";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function remember(session) {
  localStorage.setItem(DEVICE_KEY, session.device_id);
  saveSession({
    tenant_id: session.tenant_id,
    user_id: session.user_id,
    device_id: session.device_id,
    session_id: session.session_id,
    access_token: session.access_token,
    refresh_token: session.refresh_token,
  });
}

function unsupported() {
  return h("p", { role: "alert", class: "error" }, "This browser cannot use passkeys, which Cairn needs to sign you in.");
}

export async function signUp(main, { go }) {
  const household = h("input", { name: "tenant_name", required: true, maxlength: 120, autocomplete: "organization" });
  const slug = h("input", { name: "tenant_slug", required: true, minlength: 2, maxlength: 63, pattern: "[a-z0-9][a-z0-9\\-]{1,62}", autocapitalize: "none" });
  const name = h("input", { name: "display_name", required: true, maxlength: 120, autocomplete: "name" });
  const email = h("input", { name: "email", type: "email", required: true, maxlength: 254, autocomplete: "email" });
  const problems = h("div", { "aria-live": "polite" });
  let slugEdited = false;
  household.addEventListener("input", () => {
    if (!slugEdited) slug.value = slugOf(household.value);
  });
  slug.addEventListener("input", () => {
    slugEdited = true;
  });
  const submit = h("button", { type: "submit" }, "Create with a passkey");
  async function onsubmit(event) {
    event.preventDefault();
    problems.replaceChildren();
    submit.disabled = true;
    const body = {
      tenant_name: household.value.trim(),
      tenant_slug: slug.value.trim(),
      display_name: name.value.trim(),
      email: email.value.trim(),
    };
    try {
      const ceremony = await post("/v1/signup/begin", body, { anonymous: true });
      const credential = await createPasskey(ceremony.options);
      const session = await command(
        "/v1/signup/finish",
        { ...body, ceremony_id: ceremony.ceremony_id, credential, device_name: deviceName() },
        { anonymous: true },
      );
      remember(session);
      go("/keys?welcome=1");
    } catch (error) {
      problems.append(errorBox(error));
      submit.disabled = false;
    }
  }
  mount(main, 
    h("h1", {}, "Create your household"),
    h("p", {}, "Your household is where your people, policies and runs live. You will be its first member and its administrator, signed in with a passkey: no password."),
    passkeysSupported() ? null : unsupported(),
    h(
      "form",
      { class: "card form", onsubmit, "aria-label": "Create your household" },
      field("Household name", household),
      field("Short name", slug, "Lowercase letters, digits and dashes; it names your household in links."),
      field("Your name", name),
      field("Your email", email),
      problems,
      submit,
    ),
    h("p", {}, "Already have a household? ", h("a", { href: "#/signin" }, "Sign in")),
  );
}

export async function signIn(main, { go, query }) {
  const problems = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "button" }, "Sign in with a passkey");
  button.addEventListener("click", async () => {
    problems.replaceChildren();
    button.disabled = true;
    try {
      const ceremony = await post("/v1/auth/login/begin", undefined, { anonymous: true });
      const credential = await usePasskey(ceremony.options);
      const session = await command(
        "/v1/auth/login/finish",
        {
          ceremony_id: ceremony.ceremony_id,
          credential,
          device_name: deviceName(),
          device_id: localStorage.getItem(DEVICE_KEY) || undefined,
        },
        { anonymous: true },
      );
      remember(session);
      go(nextScreen(query));
    } catch (error) {
      problems.append(errorBox(error));
      button.disabled = false;
    }
  });
  mount(main, 
    h("h1", {}, "Sign in"),
    h("p", {}, "Use the passkey you made when you joined: your phone, this computer or a security key."),
    passkeysSupported() ? null : unsupported(),
    h("div", { class: "card" }, button, problems),
    h("p", {}, "New to Cairn? ", h("a", { href: "#/signup" }, "Create a household")),
    h("p", {}, "Lost every passkey? ", h("a", { href: "#/recover" }, "Recover with a code")),
  );
}

/** Accept an invitation: the link's token, the person's name, a new passkey. */
export async function join(main, { go, query }) {
  const token = query.get("token") || "";
  const name = h("input", { name: "display_name", required: true, maxlength: 120, autocomplete: "name" });
  const problems = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit" }, "Join with a passkey");
  async function onsubmit(event) {
    event.preventDefault();
    problems.replaceChildren();
    submit.disabled = true;
    const body = { invitation_token: token, display_name: name.value.trim() };
    try {
      const ceremony = await post("/v1/invitations/accept/begin", body, { anonymous: true });
      const credential = await createPasskey(ceremony.options);
      const session = await command(
        "/v1/invitations/accept/finish",
        { ...body, ceremony_id: ceremony.ceremony_id, credential, device_name: deviceName() },
        { anonymous: true },
      );
      remember(session);
      go("/");
    } catch (error) {
      problems.append(errorBox(error));
      submit.disabled = false;
    }
  }
  mount(
    main,
    h("h1", {}, "Join a household"),
    token
      ? h(
          "form",
          { class: "card form", onsubmit, "aria-label": "Join a household" },
          h("p", {}, "You were invited to a Cairn household. Say how others should call you, then make a passkey on this device."),
          field("Your name", name),
          problems,
          submit,
        )
      : h("p", { role: "alert", class: "error" }, "This link has no invitation in it: ask for a new one."),
  );
}
