// Audit: one run's events in stream order, straight from the event store, downloadable as
// NDJSON (one event's JSON per line).

import { get } from "../api.js";
import { formatTime, h, mount } from "../dom.js";

async function allEvents(aggregateId) {
  const events = [];
  let after = 0;
  for (;;) {
    const page = await get(`/v1/audit/events?aggregate_id=${aggregateId}&after=${after}&limit=500`);
    events.push(...page.events);
    if (page.next_after === null) return events;
    after = page.next_after;
  }
}

export async function render(main, { params }) {
  const runId = params[0];
  const events = await allEvents(runId);
  const ndjson = events.map((event) => JSON.stringify(event)).join("\n") + "\n";
  const href = URL.createObjectURL(new Blob([ndjson], { type: "application/x-ndjson" }));
  mount(
    main,
    h("h1", {}, "Audit"),
    h("p", {}, "The events of run ", h("a", { href: `#/runs/${runId}` }, h("code", {}, runId)), ", in the order the event store holds them."),
    h("a", { class: "button", href, download: `run-${runId}.ndjson`, id: "download" }, "Download as NDJSON"),
    h(
      "ol",
      { class: "audit", id: "audit-events" },
      events.map((event) =>
        h(
          "li",
          { class: "card", "data-position": event.position },
          h("p", { class: "step-title" }, `#${event.position} `, h("code", {}, event.event)),
          h(
            "dl",
            { class: "pairs" },
            h("dt", {}, "recorded"),
            h("dd", {}, h("time", { datetime: event.recorded_at }, formatTime(event.recorded_at))),
            h("dt", {}, "actor"),
            h("dd", {}, event.actor || "system"),
            h("dt", {}, "correlation"),
            h("dd", {}, event.correlation_id || ""),
          ),
          h("details", {}, h("summary", {}, "Stored state"), h("pre", { tabindex: 0 }, JSON.stringify(event.state, null, 2))),
        ),
      ),
    ),
  );
  return () => URL.revokeObjectURL(href);
}
