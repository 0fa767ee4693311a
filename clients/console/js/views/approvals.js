// The approvals inbox: each escalated run with its exact plan, amounts and recipients;
// approve with a passkey bound to that plan, or deny with a reason.

import { ApiError, command, get, post } from "../api.js";
import { errorBox, field, formatTime, h, mount, replace } from "../dom.js";
import { usePasskey } from "../webauthn.js";
import { isExpired, renderDecision, renderPlan, statusBadge } from "./plan.js";

// Answers that mean someone (another tab, another device, the clock) decided first.
const ALREADY_DECIDED = new Set(["conflict", "invalid_transition"]);

function alreadyDecided(item, run) {
  replace(
    item.actions,
    h(
      "p",
      { class: "decided", role: "alert" },
      `Already decided: this run is ${run ? run.status : "no longer waiting"}. Nothing more was done.`,
    ),
  );
}

async function answered(item, runId, error) {
  if (error instanceof ApiError && ALREADY_DECIDED.has(error.code)) {
    let run = null;
    try {
      run = await get(`/v1/runs/${runId}`);
    } catch {
      run = null;
    }
    alreadyDecided(item, run);
    return;
  }
  item.problems.replaceChildren(errorBox(error));
}

function approvalItem(run) {
  const expired = isExpired(run);
  const problems = h("div", { "aria-live": "polite" });
  const actions = h("div", { class: "actions" });
  const item = { problems, actions };
  const reasonId = `reason-${run.run_id}`;
  const reason = h("input", { id: reasonId, name: "reason", maxlength: 500, placeholder: "Not now" });
  const approve = h("button", { type: "button", class: "approve" }, "Approve with passkey");
  const deny = h("button", { type: "button", class: "deny secondary" }, "Deny");

  approve.addEventListener("click", async () => {
    problems.replaceChildren();
    approve.disabled = true;
    deny.disabled = true;
    try {
      const ceremony = await post(`/v1/approvals/${run.run_id}/approve/begin`);
      const credential = await usePasskey(ceremony.options);
      await command(`/v1/approvals/${run.run_id}/approve`, { ceremony_id: ceremony.ceremony_id, credential });
      replace(actions, h("p", { class: "success", role: "status" }, "Approved. ", h("a", { href: `#/runs/${run.run_id}` }, "Follow the run")));
    } catch (error) {
      approve.disabled = false;
      deny.disabled = false;
      await answered(item, run.run_id, error);
    }
  });
  deny.addEventListener("click", async () => {
    problems.replaceChildren();
    approve.disabled = true;
    deny.disabled = true;
    try {
      const body = reason.value.trim() ? { reason: reason.value.trim() } : {};
      await command(`/v1/approvals/${run.run_id}/deny`, body);
      replace(actions, h("p", { class: "success", role: "status" }, "Denied: this plan will never run."));
    } catch (error) {
      approve.disabled = false;
      deny.disabled = false;
      await answered(item, run.run_id, error);
    }
  });

  if (expired) {
    replace(actions, h("p", { class: "expired" }, `Expired at ${formatTime(run.escalation_expires_at)}: it can no longer be approved, and it will not run.`));
  } else {
    replace(actions, field("Reason, if you deny", reason), h("div", { class: "buttons" }, approve, deny));
  }
  return h(
    "li",
    { class: "card approval", "data-run-id": run.run_id, "aria-label": `Approval: ${run.text}` },
    h("h2", {}, run.text, " ", statusBadge(run)),
    run.escalation_expires_at && !expired ? h("p", { class: "hint" }, `Answer before ${formatTime(run.escalation_expires_at)}.`) : null,
    renderPlan(run.plan, "h3"),
    renderDecision(run.decision, "h3"),
    h("p", { class: "hint" }, "Your passkey signs this exact plan (", h("code", {}, String(run.plan_hash).slice(0, 16)), "…): it cannot approve anything else."),
    actions,
    problems,
  );
}

export async function render(main) {
  const [waiting, expired] = await Promise.all([get("/v1/approvals"), get("/v1/runs?status=expired&limit=10")]);
  const runs = await Promise.all(waiting.items.map((row) => get(`/v1/runs/${row.run_id}`)));
  const expiredRuns = await Promise.all(expired.items.map((row) => get(`/v1/runs/${row.run_id}`)));
  mount(main, 
    h("h1", {}, "Approvals"),
    h("p", {}, "Plans your policies would not run on their own. Read each one; approving signs that exact plan with your passkey."),
    runs.length
      ? h("ul", { class: "approvals", id: "approvals" }, runs.map(approvalItem))
      : h("p", { id: "approvals-empty" }, "Nothing is waiting for you."),
    expiredRuns.length
      ? h(
          "section",
          { "aria-labelledby": "expired-heading" },
          h("h2", { id: "expired-heading" }, "Expired"),
          h("ul", { class: "approvals expired-list" }, expiredRuns.map(approvalItem)),
        )
      : null,
  );
}
