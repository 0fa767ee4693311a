// The person's own account: passkeys (add, remove), devices (revoke), security events, and
// erasing their data. Each change asks for a fresh passkey assertion when the API wants one.

import { call, command, currentSession, forgetSession, get, post, withStepUp } from "../api.js";
import { errorBox, field, formatTime, h, mount, replace } from "../dom.js";
import { createPasskey } from "../webauthn.js";

function section(label, ...children) {
  return h("section", { class: "card", "aria-label": label }, h("h2", {}, label), children);
}

export async function render(main, { go, query }) {
  const me = await get("/v1/me");
  const problems = h("div", { "aria-live": "polite" });
  const done = h("div", { "aria-live": "polite" });
  if (query.get("done")) done.append(h("p", { class: "success", role: "status" }, query.get("done")));
  const session = currentSession();

  async function change(action, message) {
    problems.replaceChildren();
    done.replaceChildren();
    try {
      await withStepUp(action);
      go(`/account?done=${encodeURIComponent(message)}`);
    } catch (error) {
      problems.append(errorBox(error));
    }
  }

  const passkeyName = h("input", { name: "passkey_name", maxlength: 80, value: "security key" });
  const passkeys = h(
    "ul",
    { id: "passkeys" },
    me.passkeys.map((passkey) =>
      h(
        "li",
        { "data-credential-id": passkey.credential_id },
        `${passkey.name}${passkey.backed_up ? " (synced)" : ""} `,
        me.passkeys.length > 1
          ? h(
              "button",
              {
                type: "button",
                class: "secondary",
                "aria-label": `Remove passkey ${passkey.name}`,
                onclick: () =>
                  change(
                    () => call("DELETE", `/v1/passkeys/${encodeURIComponent(passkey.credential_id)}`, { command: true }),
                    "Passkey removed.",
                  ),
              },
              "Remove",
            )
          : null,
      ),
    ),
  );
  const addPasskey = h("button", { type: "button" }, "Add a passkey");
  addPasskey.addEventListener("click", () =>
    change(async () => {
      const ceremony = await post("/v1/passkeys/begin");
      const credential = await createPasskey(ceremony.options);
      await command("/v1/passkeys/finish", {
        ceremony_id: ceremony.ceremony_id,
        credential,
        name: passkeyName.value.trim() || "passkey",
      });
    }, "Passkey added."),
  );

  const devices = h(
    "ul",
    { id: "devices" },
    me.devices.map((device) =>
      h(
        "li",
        { "data-device-id": device.device_id },
        device.name,
        device.device_id === session.device_id ? " (this browser)" : "",
        device.revoked
          ? " (revoked)"
          : device.device_id === session.device_id
            ? null
            : [
                " ",
                h(
                  "button",
                  {
                    type: "button",
                    class: "secondary",
                    "aria-label": `Revoke device ${device.name}`,
                    onclick: () => change(() => command(`/v1/devices/${device.device_id}/revoke`), "Device revoked: its sessions ended."),
                  },
                  "Revoke",
                ),
              ],
      ),
    ),
  );

  const events = await get("/v1/security-events?limit=20");
  const confirm = h("input", { name: "confirm", autocomplete: "off" });
  const erase = h("button", { type: "button", class: "secondary" }, "Erase my data");
  erase.addEventListener("click", async () => {
    problems.replaceChildren();
    if (confirm.value.trim() !== "erase") {
      problems.append(errorBox(new Error('Type "erase" to confirm.')));
      return;
    }
    try {
      await withStepUp(() => command(`/v1/users/${me.user_id}/erase`));
      forgetSession();
      go("/signin");
    } catch (error) {
      problems.append(errorBox(error));
    }
  });

  mount(
    main,
    h("h1", {}, "Account"),
    h("p", {}, `${me.display_name} · ${me.email}`),
    h("p", { class: "hint" }, "Capabilities: ", me.capabilities.map((c, i) => [i ? ", " : "", h("code", {}, c)])),
    problems,
    done,
    section("Passkeys", passkeys, h("div", { class: "form" }, field("Name of the new passkey", passkeyName), addPasskey)),
    section("Devices", devices),
    section("Recovery codes", h("p", {}, "For the day you lose every passkey: ", h("a", { href: "#/recovery-codes" }, "your recovery codes"), ".")),
    section(
      "Security events",
      h(
        "ul",
        { id: "security-events" },
        events.items.map((event) =>
          h("li", {}, h("strong", {}, event.kind), ` ${event.outcome} `, h("time", { datetime: event.occurred_at }, formatTime(event.occurred_at))),
        ),
      ),
    ),
    section(
      "Erase my data",
      h("p", {}, "Your name, email and everything personal in your events become unreadable for good, and every session of yours ends. This cannot be undone."),
      h("div", { class: "form" }, field('Type "erase" to confirm', confirm), erase),
    ),
  );
}
