// Account recovery (decision 0022): make single-use recovery codes while signed in (shown
// once, approved with a passkey), and use one to add a new passkey after losing them all.

import { ApiError, command, get, post, withStepUp } from "../api.js";
import { errorBox, field, h, mount, replace } from "../dom.js";
import { createPasskey } from "../webauthn.js";
import { deviceName, remember } from "./welcome.js";

const REFUSED = {
  recovery_code_invalid: "This recovery code is not valid: check it for typos and try again.",
  recovery_code_used: "This recovery code was used already: each code works once. Try another of your codes.",
  recovery_code_replaced: "This code was replaced by a newer set of recovery codes: use one of the new ones.",
  login_locked: "Too many wrong codes: wait a while, then try again.",
};

function refusal(error) {
  const words = error instanceof ApiError ? REFUSED[error.code] : null;
  return words ? h("div", { class: "error", role: "alert" }, `${words} (${error.code})`) : errorBox(error);
}

function shownOnce(codes, replaced) {
  const text = `Cairn recovery codes (each works once)\n\n${codes.join("\n")}\n`;
  const download = h("a", { href: URL.createObjectURL(new Blob([text], { type: "text/plain" })), download: "cairn-recovery-codes.txt" }, "Download as a text file");
  return h(
    "section",
    { class: "card", "aria-labelledby": "new-codes-heading" },
    h("h2", { id: "new-codes-heading" }, "Your new recovery codes"),
    h("p", { role: "status" }, `Keep them somewhere safe, away from this device: they are shown this once. Each code works once.${replaced ? " Your earlier codes no longer work." : ""}`),
    h("ol", { class: "recovery-codes", id: "recovery-codes" }, codes.map((code) => h("li", {}, h("code", {}, code)))),
    h("p", {}, download),
  );
}

/** Signed in: how many codes are left, and a new set (approved with the passkey). */
export async function codes(main) {
  const status = await get("/v1/recovery-codes");
  const problems = h("div", { "aria-live": "polite" });
  const result = h("div");
  const make = h("button", { type: "button" }, status.count ? "Make new recovery codes" : "Make recovery codes");
  const line = (count, remaining) => (count ? `${remaining} of your ${count} codes are unused.` : "You have no recovery codes yet.");
  const statusLine = h("p", { id: "recovery-status" }, line(status.count, status.remaining));
  make.addEventListener("click", async () => {
    problems.replaceChildren();
    make.disabled = true;
    try {
      const made = await withStepUp((extra) => command("/v1/recovery-codes", { ...extra }));
      replace(result, shownOnce(made.codes, status.count > 0));
      status.count = made.codes.length;
      status.remaining = made.codes.length;
      statusLine.textContent = line(status.count, status.remaining);
      make.textContent = "Make new recovery codes";
    } catch (error) {
      problems.append(errorBox(error));
    } finally {
      make.disabled = false;
    }
  });
  mount(
    main,
    h("h1", {}, "Recovery codes"),
    h("p", {}, "If you lose every passkey, one recovery code lets you make a new passkey and sign in again. Making codes needs your passkey."),
    statusLine,
    h("div", { class: "card" }, make, problems),
    result,
  );
}

/** Signed out, every passkey lost: a code, then a new passkey on this device. */
export async function recover(main, { go }) {
  const code = h("input", { name: "recovery_code", required: true, maxlength: 64, autocomplete: "off", autocapitalize: "characters", spellcheck: "false" });
  const problems = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit" }, "Recover with a new passkey");
  async function onsubmit(event) {
    event.preventDefault();
    problems.replaceChildren();
    submit.disabled = true;
    const typed = code.value.trim();
    try {
      const ceremony = await post("/v1/recovery/begin", { code: typed }, { anonymous: true });
      const credential = await createPasskey(ceremony.options);
      const session = await command(
        "/v1/recovery/finish",
        { code: typed, ceremony_id: ceremony.ceremony_id, credential, device_name: deviceName() },
        { anonymous: true },
      );
      remember(session);
      go(`/account?done=${encodeURIComponent("Recovered: a new passkey was added and you are signed in. Make new recovery codes if few are left.")}`);
    } catch (error) {
      problems.append(refusal(error));
      submit.disabled = false;
    }
  }
  mount(
    main,
    h("h1", {}, "Recover your account"),
    h("p", {}, "Lost every passkey? Type one of the recovery codes you kept. This device then makes a new passkey, and you are signed in."),
    h(
      "form",
      { class: "card form", onsubmit, "aria-label": "Recover with a code" },
      field("Recovery code", code, "Like ABCDE-FGHIJ-KLMNO-PQRST; case and dashes do not matter."),
      problems,
      submit,
    ),
    h("p", {}, "Have a passkey after all? ", h("a", { href: "#/signin" }, "Sign in")),
  );
}
