// The person's Cedar policies: read, edit (refusals shown on their lines), and a dry run of a
// plan against them ("what would be decided for this plan").

import { ApiError, call, get, post, withStepUp } from "../api.js";
import { errorBox, field, h, mount, replace } from "../dom.js";
import { renderDecision } from "./plan.js";

const EXAMPLE_PLAN = {
  summary: "Pay Bob 20 EUR",
  steps: [
    {
      step_id: "s1",
      action: "payments.send",
      provider: "bank",
      parameters: { recipient: "bob", amount: "20.00", currency: "EUR" },
    },
  ],
};

/** The 1-based line where the policy with this @id starts, or null. */
export function lineOfPolicy(text, policyId) {
  if (!policyId) return null;
  const lines = text.split("\n");
  const index = lines.findIndex((line) => line.includes(`@id("${policyId}")`));
  return index < 0 ? null : index + 1;
}

function selectLine(textarea, line) {
  const lines = textarea.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((sum, text) => sum + text.length + 1, 0);
  textarea.focus();
  textarea.setSelectionRange(start, start + lines[line - 1].length);
}

export async function render(main) {
  const current = await get("/v1/policies");
  const text = h("textarea", { name: "policies", rows: 24, wrap: "off", spellcheck: "false", class: "code", "aria-describedby": "policy-problems" });
  text.value = current.text;
  const version = h("p", { class: "hint", id: "policy-version" });
  const showVersion = (v, isDefault) =>
    replace(version, "Version ", h("code", {}, v.slice(0, 12)), isDefault ? " (the household's defaults)" : "");
  showVersion(current.version, current.is_default);
  const problems = h("ul", { id: "policy-problems", class: "problems", "aria-live": "polite" });
  const saved = h("div", { "aria-live": "polite" });
  const save = h("button", { type: "submit" }, "Save policies");

  async function onsave(event) {
    event.preventDefault();
    problems.replaceChildren();
    saved.replaceChildren();
    text.removeAttribute("aria-invalid");
    save.disabled = true;
    try {
      const changed = await withStepUp((extra) =>
        call("PUT", "/v1/policies", { body: { text: text.value, ...extra }, command: true }),
      );
      showVersion(changed.policy_version, false);
      saved.append(h("p", { class: "success", role: "status" }, "Saved: new runs are decided by these policies."));
    } catch (error) {
      if (error instanceof ApiError && error.code === "invalid_policies") {
        text.setAttribute("aria-invalid", "true");
        for (const problem of error.details.problems || []) {
          const line = lineOfPolicy(text.value, problem.policy);
          problems.append(
            h(
              "li",
              { class: "error-text", "data-line": line || "" },
              line
                ? h("button", { type: "button", class: "link-inline", onclick: () => selectLine(text, line) }, `Line ${line}`)
                : "The text",
              problem.policy ? [" (", h("code", {}, problem.policy), ")"] : null,
              `: ${problem.message}`,
            ),
          );
        }
      } else {
        problems.append(h("li", {}, errorBox(error)));
      }
    } finally {
      save.disabled = false;
    }
  }

  const plan = h("textarea", { name: "plan", rows: 12, spellcheck: "false", class: "code" });
  plan.value = JSON.stringify(EXAMPLE_PLAN, null, 2);
  const outcome = h("div", { id: "dry-run", "aria-live": "polite" });
  async function ondryrun(event) {
    event.preventDefault();
    outcome.replaceChildren();
    let parsed;
    try {
      parsed = JSON.parse(plan.value);
    } catch (error) {
      outcome.append(errorBox(new Error(`The plan is not JSON: ${error.message}`)));
      return;
    }
    try {
      const decision = await post("/v1/policies/evaluate", { plan: parsed });
      outcome.append(renderDecision(decision, "h3"));
    } catch (error) {
      outcome.append(errorBox(error));
    }
  }

  mount(
    main,
    h("h1", {}, "Policies"),
    h("p", {}, "Cedar policies decide every plan: approve, ask you, or deny. Forbid wins; nothing permitted is denied."),
    h(
      "form",
      { class: "card form", onsubmit: onsave, "aria-label": "Your policies" },
      field("Your policies (Cedar)", text),
      version,
      problems,
      save,
      saved,
    ),
    current.household
      ? h(
          "section",
          { class: "card", "aria-label": "Household guardrails" },
          h("h2", {}, "Household guardrails"),
          h("p", { class: "hint" }, "Your household's rules apply on top of yours: a forbid there wins over any permit here."),
          h("pre", { id: "household-guardrails", tabindex: 0 }, current.household.text),
        )
      : null,
    h(
      "form",
      { class: "card form", onsubmit: ondryrun, "aria-label": "Dry run" },
      h("h2", {}, "Dry run"),
      field("A plan (JSON)", plan, "What would be decided for this plan now, by the saved policies. Nothing is recorded."),
      h("button", { type: "submit" }, "Evaluate"),
      outcome,
    ),
  );
}
