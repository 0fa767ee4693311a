// Approving a device's sign-in (`cairn login`, RFC 8628): the code the terminal shows, what
// asks to sign in and with which scopes; approve with a passkey bound to that code, or deny.

import { ApiError, command, post } from "../api.js";
import { errorBox, field, formatTime, h, mount, replace } from "../dom.js";
import { usePasskey } from "../webauthn.js";

// What each scope lets the device do, in words.
const SCOPE_WORDS = {
  api: "use Cairn as you: state intents, read your runs, deny plans",
  "autonomy:write": "change what runs without you (policies, model keys); widening changes still need your passkey",
};

function explained(error) {
  if (error instanceof ApiError && error.code === "device_code_decided") {
    return "Already decided: this code was approved or denied before. Nothing more was done.";
  }
  if (error instanceof ApiError && error.code === "user_code_not_found") {
    return "This code has expired or is unknown: start again in your terminal (cairn login).";
  }
  if (error instanceof ApiError && error.code === "invalid_user_code") {
    return "That is not a code Cairn shows: it has 8 letters, like BCDF-GHJK.";
  }
  return null;
}

function problem(box, error) {
  const words = explained(error);
  box.replaceChildren(words ? h("div", { class: "error", role: "alert" }, words) : errorBox(error));
}

function decision(main, ceremony) {
  const problems = h("div", { "aria-live": "polite" });
  const result = h("div", { "aria-live": "polite" });
  const approve = h("button", { type: "button", class: "approve" }, "Approve with passkey");
  const deny = h("button", { type: "button", class: "deny secondary" }, "Deny");
  const buttons = h("div", { class: "buttons" }, approve, deny);

  async function decide(kind) {
    problems.replaceChildren();
    approve.disabled = true;
    deny.disabled = true;
    try {
      if (kind === "approve") {
        const begun = await post("/v1/device/approve/begin", { user_code: ceremony.user_code });
        const credential = await usePasskey(begun.options);
        await command("/v1/device/approve", { user_code: begun.user_code, ceremony_id: begun.ceremony_id, credential });
        replace(result, h("p", { class: "success", role: "status" }, "Approved: go back to your terminal, it is signed in."));
      } else {
        await command("/v1/device/deny", { user_code: ceremony.user_code });
        replace(result, h("p", { class: "success", role: "status" }, "Denied: that device is not signed in."));
      }
      buttons.remove();
    } catch (error) {
      approve.disabled = false;
      deny.disabled = false;
      problem(problems, error);
      if (explained(error)) buttons.remove();
    }
  }
  approve.addEventListener("click", () => decide("approve"));
  deny.addEventListener("click", () => decide("deny"));

  const scopes = ceremony.scopes.length ? ceremony.scopes : ["api"];
  mount(
    main,
    h(
      "section",
      { class: "card device-approval", "aria-labelledby": "device-heading" },
      h("h2", { id: "device-heading" }, `${ceremony.client_name} wants to sign in as you`),
      h("p", {}, "Code ", h("code", { class: "user-code" }, ceremony.user_code), ": check that your terminal shows the same code."),
      h("p", {}, "It asks to:"),
      h("ul", { class: "scopes" }, scopes.map((scope) => h("li", {}, h("code", {}, scope), ": ", SCOPE_WORDS[scope] || scope))),
      h("p", { class: "hint" }, `Answer before ${formatTime(ceremony.expires_at)}. It becomes a device of yours, listed on your account and revocable there.`),
      buttons,
      problems,
      result,
    ),
  );
}

export async function render(main, { query, go }) {
  const code = (query.get("user_code") || "").trim();
  mount(main, h("h1", {}, "Sign in a device"));
  if (!code) {
    const input = h("input", { name: "user_code", required: true, maxlength: 12, autocapitalize: "characters", autocomplete: "off", spellcheck: "false" });
    const onsubmit = (event) => {
      event.preventDefault();
      go(`/device?user_code=${encodeURIComponent(input.value.trim())}`);
    };
    mount(
      main,
      h(
        "form",
        { class: "card form", onsubmit, "aria-label": "Enter the code" },
        field("Code from your terminal", input, "8 letters, like BCDF-GHJK."),
        h("button", { type: "submit" }, "Continue"),
      ),
    );
    return;
  }
  const problems = h("div", { "aria-live": "polite" });
  mount(main, problems);
  try {
    // Starting a ceremony records nothing; it tells what asks to sign in.
    decision(main, await post("/v1/device/approve/begin", { user_code: code }));
  } catch (error) {
    if (error.status === 401) throw error;
    problem(problems, error);
  }
}
