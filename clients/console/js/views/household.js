// The household (for its administrators): members and their capabilities, and invitations.

import { call, command, get, withStepUp } from "../api.js";
import { errorBox, field, h, mount } from "../dom.js";

const COMMON_CAPABILITIES = [
  "calendar.write",
  "email.send",
  "notes.write",
  "reminders.write",
  "payments.up_to:50",
  "audit.read",
  "tenant.admin",
];

function member(user, detail, change) {
  const capability = h("input", { name: "capability", list: "capability-names", maxlength: 100, autocapitalize: "none" });
  const grant = h("button", { type: "button" }, "Grant");
  grant.addEventListener("click", () =>
    change(
      () => command(`/v1/users/${user.user_id}/capabilities`, { capability: capability.value.trim() }),
      `Granted ${capability.value.trim()}.`,
    ),
  );
  const name = detail ? detail.display_name : user.user_id;
  return h(
    "li",
    { class: "card member", "data-user-id": user.user_id, "aria-label": `Member ${name}` },
    h("h3", {}, name, user.erased ? " (erased)" : ""),
    detail ? h("p", { class: "hint" }, detail.email) : null,
    h(
      "ul",
      { class: "capabilities" },
      user.capabilities.map((held) =>
        h(
          "li",
          {},
          h("code", {}, held),
          " ",
          h(
            "button",
            {
              type: "button",
              class: "secondary small",
              "aria-label": `Revoke ${held} from ${name}`,
              onclick: () =>
                change(
                  () => call("DELETE", `/v1/users/${user.user_id}/capabilities/${encodeURIComponent(held)}`, { command: true }),
                  `Revoked ${held}.`,
                ),
            },
            "Revoke",
          ),
        ),
      ),
    ),
    h("div", { class: "inline-form" }, field(`Grant ${name} a capability`, capability), grant),
  );
}

export async function render(main, { go, query }) {
  // After a change, the list waits until it holds it (the command's position).
  const after = query.get("after");
  const page = await get(after ? `/v1/users?after=${encodeURIComponent(after)}` : "/v1/users");
  const details = await Promise.all(page.items.map((user) => get(`/v1/users/${user.user_id}`).catch(() => null)));
  const problems = h("div", { "aria-live": "polite" });
  const done = h("div", { "aria-live": "polite" });
  if (query.get("done")) done.append(h("p", { class: "success", role: "status" }, query.get("done")));

  async function change(action, message) {
    problems.replaceChildren();
    try {
      const answer = await withStepUp(action);
      const position = answer && answer.position ? `&after=${answer.position}` : "";
      go(`/household?done=${encodeURIComponent(message)}${position}`);
    } catch (error) {
      problems.append(errorBox(error));
    }
  }

  const email = h("input", { name: "email", type: "email", required: true, maxlength: 254 });
  const capabilities = h("input", { name: "capabilities", maxlength: 500, value: "calendar.write, notes.write, reminders.write" });
  const invitation = h("div", { id: "invitation", "aria-live": "polite" });
  async function oninvite(event) {
    event.preventDefault();
    invitation.replaceChildren();
    const body = {
      email: email.value.trim(),
      capabilities: capabilities.value.split(",").map((c) => c.trim()).filter(Boolean),
    };
    try {
      const invited = await withStepUp(() => command("/v1/invitations", body));
      const link = `${location.origin}/#/join?token=${encodeURIComponent(invited.invitation_token)}`;
      const linkField = h("input", { readonly: true, value: link, id: "invitation-link" });
      invitation.append(
        h("p", { class: "success", role: "status" }, `Invitation for ${body.email} made. Send them this link; it is shown only once.`),
        field("Invitation link", linkField),
      );
      linkField.select();
    } catch (error) {
      invitation.append(errorBox(error));
    }
  }

  mount(
    main,
    h("h1", {}, "Household"),
    h("datalist", { id: "capability-names" }, COMMON_CAPABILITIES.map((c) => h("option", { value: c }))),
    problems,
    done,
    h("ul", { class: "members", id: "members", "aria-label": "Members" }, page.items.map((user, i) => member(user, details[i], change))),
    h(
      "form",
      { class: "card form", onsubmit: oninvite, "aria-label": "Invite someone" },
      h("h2", {}, "Invite someone"),
      field("Their email", email),
      field("Capabilities", capabilities, "Comma-separated, for example calendar.write, payments.up_to:50."),
      h("button", { type: "submit" }, "Make an invitation"),
      invitation,
    ),
  );
}
