// How a run reads to a person: the plan with every step and parameter, the policy decision
// with the policies that decided it and why, the execution, the result.

import { formatTime, h } from "../dom.js";

export const FINAL = new Set(["completed", "failed", "denied", "cancelled", "expired"]);

const OUTCOME_WORDS = {
  APPROVE: "Approved: runs without asking you",
  ESCALATE: "Needs your approval",
  DENY: "Denied",
};

function valueText(value) {
  if (Array.isArray(value)) return value.map(valueText).join(", ");
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function pairs(object) {
  return h(
    "dl",
    { class: "pairs" },
    Object.entries(object || {}).map(([key, value]) => [h("dt", {}, key), h("dd", {}, valueText(value))]),
  );
}

function policyList(policies) {
  if (!policies || policies.length === 0) return h("span", {}, "none");
  return policies.map((id, index) => [index ? ", " : "", h("code", {}, id)]);
}

export function renderPlan(plan, headingLevel = "h2") {
  if (!plan) return null;
  return h(
    "section",
    { class: "card", "aria-label": "Plan" },
    h(headingLevel, {}, "Plan"),
    h("p", {}, plan.summary),
    h(
      "ol",
      { class: "steps" },
      plan.steps.map((step) =>
        h(
          "li",
          { class: "step" },
          h("p", { class: "step-title" }, h("code", {}, step.action), ` via ${step.provider} (${step.step_id})`),
          pairs(step.parameters),
        ),
      ),
    ),
  );
}

/** Amounts and recipients, as the policy saw them: what a person checks before approving. */
export function renderStakes(decision) {
  const steps = (decision && decision.input && decision.input.steps) || [];
  const lines = steps
    .filter((step) => step.amount || (step.recipients && step.recipients.length))
    .map((step) =>
      h(
        "li",
        {},
        h("code", {}, step.action),
        step.amount ? [": ", h("strong", { class: "amount" }, `${step.amount} ${step.currency}`)] : null,
        step.recipients && step.recipients.length
          ? [" to ", h("strong", { class: "recipients" }, step.recipients.join(", "))]
          : null,
      ),
    );
  if (lines.length === 0) return null;
  return h("div", { class: "stakes" }, h("p", {}, "Amounts and recipients"), h("ul", {}, lines));
}

function verdict(label, result) {
  if (!result) return null;
  const word = result.allowed ? "allowed" : "not allowed";
  return h("li", {}, `${label}: ${word} by `, policyList(result.policies));
}

export function renderDecision(decision, headingLevel = "h2") {
  if (!decision) return null;
  return h(
    "section",
    { class: "card", "aria-label": "Policy decision" },
    h(headingLevel, {}, "Policy decision"),
    h("p", { class: `outcome outcome-${decision.outcome.toLowerCase()}` }, OUTCOME_WORDS[decision.outcome] || decision.outcome),
    h("p", {}, "Decided by: ", policyList(decision.policies)),
    decision.denied_by_default ? h("p", {}, "No policy permits this plan: denied by default.") : null,
    renderStakes(decision),
    h(
      "ul",
      { class: "why" },
      decision.steps.map((step) =>
        h(
          "li",
          {},
          h("code", {}, step.action),
          ` (${step.step_id}): ${step.outcome}`,
          h("ul", {}, verdict("on its own", step.autonomous), verdict("with your approval", step.with_approval)),
          step.errors && step.errors.length ? h("p", { class: "error-text" }, step.errors.join("; ")) : null,
        ),
      ),
    ),
    decision.input
      ? h(
          "p",
          { class: "hint" },
          `Decided at ${formatTime(decision.input.clock_utc)} with policy version `,
          h("code", {}, String(decision.input.policy_version).slice(0, 12)),
        )
      : null,
  );
}

export function renderExecution(run) {
  const entries = Object.entries(run.steps || {});
  if (entries.length === 0) return null;
  return h(
    "section",
    { class: "card", "aria-label": "Execution" },
    h("h2", {}, "Execution"),
    h(
      "ul",
      { class: "steps" },
      entries.map(([stepId, step]) =>
        h(
          "li",
          { class: "step" },
          h("p", { class: "step-title" }, `${stepId}: ${step.state}`, step.attempts > 1 ? ` (attempt ${step.attempts})` : ""),
          step.result ? pairs(step.result) : null,
          step.error ? h("p", { class: "error-text" }, step.error) : null,
        ),
      ),
    ),
  );
}

export function isExpired(run, now = Date.now()) {
  if (run.status === "expired") return true;
  return run.status === "escalated" && run.escalation_expires_at !== null
    && Date.parse(run.escalation_expires_at) <= now;
}

export function statusWord(run) {
  if (isExpired(run)) return "expired";
  return run.status;
}

export function statusBadge(run) {
  const word = statusWord(run);
  return h("span", { class: `badge badge-${word}`, "data-status": word }, word);
}

export function renderResult(run) {
  const word = statusWord(run);
  let text = `The run is ${word}.`;
  if (word === "escalated") {
    text = `Waiting for your approval until ${formatTime(run.escalation_expires_at)}.`;
  }
  return h(
    "section",
    { class: "card", "aria-label": "Result" },
    h("h2", {}, "Result"),
    h("p", { class: "result", "data-status": word }, statusBadge(run), " ", text),
    run.failure ? h("p", { class: "error-text" }, run.failure) : null,
  );
}

export function renderTimeline(run) {
  return h(
    "section",
    { class: "card", "aria-label": "Timeline" },
    h("h2", {}, "Timeline"),
    h(
      "ol",
      { class: "timeline", id: "timeline" },
      run.timeline.map((entry) =>
        h("li", { "data-event": entry.type }, h("span", { class: "event" }, entry.type), " ", h("time", { datetime: entry.at }, formatTime(entry.at))),
      ),
    ),
  );
}
