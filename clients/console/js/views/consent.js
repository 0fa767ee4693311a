// An MCP client asks to act for the person: what it is, where it sends the answer, and the
// scopes it asks for. Allowing signs this request with a passkey; either answer sends the
// browser back to the client.

import { get, post } from "../api.js";
import { usePasskey } from "../webauthn.js";
import { errorBox, h, mount } from "../dom.js";

export async function render(main, { query }) {
  const id = query.get("request") || "";
  const request = await get(`/v1/oauth/requests/${encodeURIComponent(id)}`);
  const problems = h("div", { "aria-live": "polite" });
  const allow = h("button", { type: "button", class: "approve" }, "Allow with passkey");
  const deny = h("button", { type: "button", class: "deny" }, "Deny");
  async function decide(button, decision) {
    problems.replaceChildren();
    allow.disabled = deny.disabled = true;
    try {
      const answer = await decision();
      location.assign(answer.redirect_to);
    } catch (error) {
      problems.append(errorBox(error));
      allow.disabled = deny.disabled = false;
      button.focus();
    }
  }
  const base = `/v1/oauth/requests/${encodeURIComponent(id)}`;
  allow.addEventListener("click", () =>
    decide(allow, async () => {
      const ceremony = await post(`${base}/approve/begin`);
      const credential = await usePasskey(ceremony.options);
      return post(`${base}/approve`, { ceremony_id: ceremony.ceremony_id, credential });
    }),
  );
  deny.addEventListener("click", () => decide(deny, () => post(`${base}/deny`)));
  mount(
    main,
    h("h1", {}, `Allow ${request.client_name} to use Cairn?`),
    h(
      "div",
      { class: "card", id: "consent" },
      h("p", {}, "It will be able to:"),
      h("ul", { class: "scopes" }, request.scopes.map((s) => h("li", { "data-scope": s.scope }, s.text))),
      h("p", { class: "hint" }, "Client: ", h("code", {}, request.client_id)),
      h("p", { class: "hint" }, "Answers go to ", h("code", {}, request.redirect_uri)),
      h("p", {}, "It can never change your policies, keys or household. Revoke it any time under Account, devices."),
      problems,
      h("div", { class: "buttons" }, allow, deny),
    ),
  );
}
