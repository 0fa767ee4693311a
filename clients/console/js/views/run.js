// One run, followed live over Server-Sent Events (GET /v1/stream?run_id=): each of the run's
// events triggers one read of the run at that event's position; nothing polls.

import { ApiError, command, currentSession, get } from "../api.js";
import { announce, errorBox, h, mount, replace } from "../dom.js";
import {
  FINAL,
  renderDecision,
  renderExecution,
  renderPlan,
  renderResult,
  renderTimeline,
  statusWord,
} from "./plan.js";

// A run may be cancelled until it starts executing.
const CANCELLABLE = new Set(["submitted", "planned", "escalated"]);

const RUN_EVENTS = [
  "IntentSubmitted",
  "PlanProposed",
  "PolicyDecided",
  "EscalationRequested",
  "EscalationApproved",
  "EscalationDenied",
  "EscalationExpired",
  "StepStarted",
  "StepSucceeded",
  "StepFailed",
  "RunCompleted",
  "RunFailed",
  "RunCancelled",
];

/** The run as the runs view has it once it applied `position` (the view may lag briefly). */
async function readRun(runId, position) {
  const suffix = position ? `?after=${position}` : "";
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await get(`/v1/runs/${runId}${suffix}`);
    } catch (error) {
      if (!(error instanceof ApiError) || error.code !== "projection_behind" || attempt >= 5) throw error;
    }
  }
}

export async function render(main, { params, query }) {
  const runId = params[0];
  let run = await readRun(runId, Number(query.get("after")) || null);
  let source = null;
  let stopped = false;
  let applied = run.position || 0;
  let queue = Promise.resolve();
  let retries = 0; // consecutive resubscriptions without an event in between
  const live = h("p", { class: "live", id: "live-state", "aria-live": "polite" });
  const body = h("div", { class: "run-body" });

  function draw() {
    replace(
      body,
      h("section", { class: "card", "aria-label": "Intent" }, h("h2", {}, "What you asked"), h("p", { class: "intent-text" }, run.text)),
      renderPlan(run.plan),
      renderDecision(run.decision),
      run.status === "escalated" && statusWord(run) === "escalated"
        ? h("p", { class: "notice card" }, "This plan needs your approval. ", h("a", { href: "#/approvals" }, "Open the approvals inbox"))
        : null,
      renderExecution(run),
      renderResult(run),
      CANCELLABLE.has(statusWord(run)) ? cancelButton() : null,
      renderTimeline(run),
    );
  }

  function cancelButton() {
    const problems = h("div", { "aria-live": "polite" });
    const button = h("button", { type: "button", class: "secondary" }, "Cancel this run");
    button.addEventListener("click", async () => {
      button.disabled = true;
      problems.replaceChildren();
      try {
        await command(`/v1/runs/${runId}/cancel`);
      } catch (error) {
        problems.append(errorBox(error));
        button.disabled = false;
      }
    });
    return h("div", { class: "buttons" }, button, problems);
  }

  function close() {
    stopped = true;
    if (source) source.close();
    source = null;
  }

  function follow() {
    if (stopped || FINAL.has(run.status)) {
      live.textContent = `Finished: ${statusWord(run)}.`;
      close();
      return;
    }
    const session = currentSession();
    if (!session) return;
    const url = new URL("/v1/stream", location.origin);
    url.searchParams.set("run_id", runId);
    url.searchParams.set("access_token", session.access_token);
    url.searchParams.set("last_event_id", String(applied));
    source = new EventSource(url);
    live.textContent = "Following this run live…";
    const onEvent = (message) => {
      const position = Number(message.lastEventId);
      queue = queue.then(async () => {
        if (stopped || position <= applied) return;
        retries = 0;
        run = await readRun(runId, position);
        applied = Math.max(position, run.position || 0);
        draw();
        announce(`The run is ${statusWord(run)}.`);
        if (FINAL.has(run.status)) follow();
      }).catch((error) => {
        live.textContent = `Could not update the run: ${error.message}`;
      });
    };
    for (const name of RUN_EVENTS) source.addEventListener(`Run.${name}`, onEvent);
    // The server ends a stream when the token expires or the session changes: a fresh read
    // (which refreshes the token) and a new subscription from the last applied position.
    const resubscribe = () => {
      if (source) source.close();
      retries += 1;
      if (retries > 5) {
        live.textContent = "Stopped following this run: reload the page to try again.";
        return;
      }
      queue = queue.then(async () => {
        await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** (retries - 1)));
        if (stopped) return;
        run = await readRun(runId, applied);
        draw();
        follow();
      }).catch((error) => {
        live.textContent = `Stopped following: ${error.message}`;
      });
    };
    source.addEventListener("closed", resubscribe);
    // EventSource retries dropped connections itself; it gives up only on an answer that is
    // not a stream (an expired token's 401): then read (refreshing the token) and resubscribe.
    source.addEventListener("error", () => {
      if (source && source.readyState === EventSource.CLOSED) resubscribe();
    });
    source.addEventListener("resync_required", () => {
      source.close();
      applied = 0;
      follow();
    });
  }

  mount(main, 
    h("h1", {}, "Run"),
    h("p", { class: "hint" }, "Run ", h("code", {}, runId), " · ", h("a", { href: `#/audit/${runId}` }, "Audit: its events")),
    live,
    body,
  );
  draw();
  follow();
  return close;
}
