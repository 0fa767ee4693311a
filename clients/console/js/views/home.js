// State an intent. Until the household has a model key, say so and how to add one.

import { command, get } from "../api.js";
import { errorBox, field, h, mount } from "../dom.js";

export async function render(main, { go }) {
  const [{ providers }, waiting] = await Promise.all([get("/v1/provider-keys"), get("/v1/approvals?limit=50")]);
  const text = h("textarea", { name: "text", required: true, maxlength: 4000, rows: 3 });
  const problems = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit" }, "Send");
  let idempotencyKey = crypto.randomUUID(); // one intent, however often the click is retried
  text.addEventListener("input", () => {
    idempotencyKey = crypto.randomUUID();
  });
  async function onsubmit(event) {
    event.preventDefault();
    problems.replaceChildren();
    submit.disabled = true;
    try {
      const accepted = await command("/v1/intents", { text: text.value.trim() }, { idempotencyKey });
      go(`/runs/${accepted.run_id}?after=${accepted.position ?? ""}`);
    } catch (error) {
      problems.append(errorBox(error));
      submit.disabled = false;
    }
  }
  mount(main, 
    h("h1", {}, "What should Cairn do?"),
    providers.length === 0
      ? h(
          "div",
          { class: "card notice", role: "note" },
          h("h2", {}, "First, add a model key"),
          h("p", {}, "Cairn asks a language model to propose a plan for each intent. Add a key for OpenAI, Anthropic, Gemini or Azure OpenAI; it is stored encrypted and never shown again."),
          h("a", { class: "button", href: "#/keys" }, "Add a model key"),
        )
      : null,
    waiting.items.length
      ? h(
          "p",
          { class: "card notice", id: "waiting-approvals" },
          `${waiting.items.length} plan${waiting.items.length === 1 ? " waits" : "s wait"} for your approval. `,
          h("a", { href: "#/approvals" }, "Open the approvals inbox"),
        )
      : null,
    h(
      "form",
      { class: "card form", onsubmit, "aria-label": "State an intent" },
      field("Your intent", text, "For example: schedule a meeting with Sarah next Tuesday at 2pm."),
      problems,
      submit,
    ),
    h("p", {}, "A model proposes a plan, your policies decide, and Cairn acts; you follow each step live."),
  );
}
