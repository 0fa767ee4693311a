// The person's runs, newest first, with a status filter.

import { get } from "../api.js";
import { field, formatTime, h, mount, replace } from "../dom.js";
import { statusBadge } from "./plan.js";

const STATUSES = ["", "submitted", "planned", "escalated", "executing", "completed", "failed", "denied", "cancelled", "expired"];

export async function render(main, { query, go }) {
  const status = h(
    "select",
    { name: "status" },
    STATUSES.map((value) => h("option", { value, selected: value === (query.get("status") || "") }, value || "any")),
  );
  status.addEventListener("change", () => go(status.value ? `/runs?status=${status.value}` : "/runs"));
  const list = h("ul", { class: "run-list", id: "run-list" });
  const more = h("div");

  async function load(cursor) {
    const params = new URLSearchParams({ limit: "20" });
    if (query.get("status")) params.set("status", query.get("status"));
    if (cursor) params.set("cursor", cursor);
    const page = await get(`/v1/runs?${params}`);
    for (const run of page.items) {
      list.append(
        h(
          "li",
          { class: "card run-item" },
          h("a", { href: `#/runs/${run.run_id}` }, run.text),
          " ",
          statusBadge(run),
          run.created_at ? h("p", { class: "hint" }, formatTime(run.created_at)) : null,
        ),
      );
    }
    if (!list.children.length) list.append(h("li", {}, "No runs yet."));
    replace(more, page.next_cursor ? h("button", { type: "button", onclick: () => load(page.next_cursor) }, "Show more") : null);
  }

  mount(main, 
    h("h1", {}, "Runs"),
    h("form", { class: "filters", "aria-label": "Filter runs", onsubmit: (e) => e.preventDefault() }, field("Status", status)),
    list,
    more,
  );
  await load(null);
}
