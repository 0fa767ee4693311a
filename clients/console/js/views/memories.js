// What Cairn remembers about the person: note, search, correct and forget memories.

import { call, command, get } from "../api.js";
import { announce, errorBox, field, formatTime, h, mount, replace } from "../dom.js";

const forget = (id) => call("DELETE", `/v1/context/memories/${id}`, { command: true });

export async function render(main) {
  const list = h("ul", { id: "memory-list", class: "memories" });
  const problems = h("div", { "aria-live": "polite" });
  const results = h("ul", { id: "memory-results" });

  async function refresh(after) {
    const suffix = after ? `?after=${after}` : "";
    const page = await get(`/v1/context/memories${suffix}`);
    replace(
      list,
      page.items.length
        ? page.items.map(item)
        : h("li", {}, "Nothing yet. Cairn remembers what you note here."),
    );
  }

  function item(memory) {
    const text = h("p", { class: "memory-text" }, memory.text);
    const editor = h("textarea", { name: "text", maxlength: 4000, rows: 2, required: true });
    const save = h("button", { type: "submit" }, "Save correction");
    const correct = h(
      "form",
      { hidden: true, "aria-label": "Correct this memory", onsubmit: onCorrect },
      field("Corrected text", editor),
      save,
    );
    async function onCorrect(event) {
      event.preventDefault();
      problems.replaceChildren();
      try {
        const done = await command(`/v1/context/memories/${memory.memory_id}/correct`, {
          text: editor.value.trim(),
        });
        announce("Memory corrected.");
        await refresh(done.position);
      } catch (error) {
        problems.append(errorBox(error));
      }
    }
    async function onForget() {
      if (!window.confirm("Forget this memory for good? It cannot be brought back.")) return;
      problems.replaceChildren();
      try {
        const done = await forget(memory.memory_id);
        announce("Memory forgotten.");
        await refresh(done.position);
      } catch (error) {
        problems.append(errorBox(error));
      }
    }
    const edit = h("button", { type: "button", class: "small", onclick: () => {
      editor.value = memory.text;
      correct.hidden = !correct.hidden;
    } }, "Correct");
    return h(
      "li",
      { "data-memory": memory.memory_id },
      text,
      h("p", { class: "hint" }, `Noted ${formatTime(memory.noted_at)}`),
      edit,
      " ",
      h("button", { type: "button", class: "small secondary", onclick: onForget }, "Forget"),
      correct,
    );
  }

  const note = h("textarea", { name: "note", maxlength: 4000, rows: 2, required: true,
    placeholder: "Sarah Lee is my dentist, sarah@smile.example" });
  async function onNote(event) {
    event.preventDefault();
    problems.replaceChildren();
    try {
      const done = await command("/v1/context/memories", { text: note.value.trim() });
      note.value = "";
      announce("Noted.");
      await refresh(done.position);
    } catch (error) {
      problems.append(errorBox(error));
    }
  }

  const query = h("input", { name: "q", type: "search", maxlength: 500, required: true });
  async function onSearch(event) {
    event.preventDefault();
    problems.replaceChildren();
    try {
      const found = await get(`/v1/context/search?q=${encodeURIComponent(query.value.trim())}`);
      replace(
        results,
        found.items.length
          ? found.items.map((hit) => h("li", { "data-kind": hit.kind }, `${hit.kind}: ${hit.text}`))
          : h("li", {}, "Nothing found."),
      );
    } catch (error) {
      problems.append(errorBox(error));
    }
  }

  mount(
    main,
    h("h1", {}, "Memories"),
    h("p", {}, "What Cairn knows about you and the people in your life, as you told it. The planner is given the few that matter for each intent. Forgetting is final: the text is deleted and its key destroyed."),
    h("form", { class: "card form", onsubmit: onNote, "aria-label": "Note a memory" },
      h("h2", {}, "Remember"), field("Memory", note), h("button", { type: "submit" }, "Remember")),
    h("form", { class: "card form", onsubmit: onSearch, "aria-label": "Search memories" },
      h("h2", {}, "Search"), field("Search", query), h("button", { type: "submit" }, "Search"), results),
    problems,
    h("section", { class: "card", "aria-label": "Your memories" }, h("h2", {}, "Your memories"), list),
  );
  await refresh();
}
