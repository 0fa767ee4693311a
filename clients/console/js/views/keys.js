// Bring your own model key (OpenAI, Anthropic, Gemini, Azure OpenAI), or use a local model:
// an OpenAI-compatible endpoint (Ollama, llama.cpp server) by its base URL and model name.

import { command, get, withStepUp } from "../api.js";
import { errorBox, field, h, mount, replace } from "../dom.js";

const PROVIDERS = [
  ["openai", "OpenAI"],
  ["anthropic", "Anthropic"],
  ["gemini", "Google Gemini"],
  ["azure", "Azure OpenAI"],
  ["local", "Local model (OpenAI-compatible)"],
];

export async function render(main, { query }) {
  const configured = h("ul", { id: "configured-keys" });
  async function refresh() {
    const { providers } = await get("/v1/provider-keys");
    const names = Object.fromEntries(PROVIDERS);
    replace(
      configured,
      providers.length
        ? providers.map((p) => h("li", { "data-provider": p }, `${names[p] || p}: key stored`))
        : h("li", {}, "No key yet: intents cannot be planned until you add one."),
    );
    return providers;
  }
  const provider = h("select", { name: "provider" }, PROVIDERS.map(([value, label]) => h("option", { value }, label)));
  const apiKey = h("input", { name: "api_key", type: "password", required: true, minlength: 8, maxlength: 500, autocomplete: "off" });
  const apiBase = h("input", { name: "api_base", type: "url", maxlength: 300, placeholder: "https://example.openai.azure.com" });
  const apiVersion = h("input", { name: "api_version", maxlength: 50, placeholder: "2024-10-21" });
  const miniDeployment = h("input", { name: "deployment_mini", maxlength: 100, placeholder: "gpt-4.1-mini" });
  const fullDeployment = h("input", { name: "deployment_full", maxlength: 100, placeholder: "gpt-4.1" });
  const azure = h(
    "fieldset",
    { class: "azure", hidden: true },
    h("legend", {}, "Azure OpenAI resource"),
    field("Endpoint", apiBase),
    field("API version", apiVersion),
    field("Deployment of gpt-4.1-mini", miniDeployment, "Leave empty if it is named gpt-4.1-mini."),
    field("Deployment of gpt-4.1", fullDeployment, "Leave empty if it is named gpt-4.1."),
  );
  const localBase = h("input", { name: "local_api_base", type: "url", maxlength: 300, placeholder: "http://192.168.1.20:11434/v1" });
  const localModel = h("input", { name: "local_model", maxlength: 200, placeholder: "llama3.2", autocomplete: "off" });
  const local = h(
    "fieldset",
    { class: "local", hidden: true },
    h("legend", {}, "Your model's server"),
    field("Base URL", localBase, "Where the server answers OpenAI's API, often ending in /v1. Loopback and private addresses work only if this Cairn's operator allows them."),
    field("Model name", localModel, "As the server names it, e.g. llama3.2."),
  );
  provider.addEventListener("change", () => {
    const kind = provider.value;
    azure.hidden = kind !== "azure";
    apiBase.required = kind === "azure";
    apiVersion.required = kind === "azure";
    local.hidden = kind !== "local";
    localBase.required = kind === "local";
    localModel.required = kind === "local";
    // Most local servers need no key.
    apiKey.required = kind !== "local";
    apiKeyLabel.textContent = kind === "local" ? "API key (if your server needs one)" : "API key";
  });
  const apiKeyField = field("API key", apiKey, "Replaces any key stored for that provider.");
  const apiKeyLabel = apiKeyField.querySelector("label");
  const problems = h("div", { "aria-live": "polite" });
  const done = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit" }, "Save key");
  async function onsubmit(event) {
    event.preventDefault();
    problems.replaceChildren();
    done.replaceChildren();
    submit.disabled = true;
    const body = { provider: provider.value };
    if (apiKey.value.trim()) body.api_key = apiKey.value.trim();
    if (provider.value === "local") {
      body.api_base = localBase.value.trim();
      body.model = localModel.value.trim();
    }
    if (provider.value === "azure") {
      body.api_base = apiBase.value.trim();
      body.api_version = apiVersion.value.trim();
      const deployments = {};
      if (miniDeployment.value.trim()) deployments["gpt-4.1-mini"] = miniDeployment.value.trim();
      if (fullDeployment.value.trim()) deployments["gpt-4.1"] = fullDeployment.value.trim();
      body.deployments = deployments;
    }
    try {
      // Setting a key may need the person's passkey, bound to exactly this key and endpoint.
      await withStepUp((extra) => command("/v1/provider-keys", { ...body, ...extra }));
      apiKey.value = "";
      await refresh();
      done.append(
        h("p", { class: "success", role: "status" }, "Key saved. ", h("a", { href: "#/" }, "State your first intent")),
      );
    } catch (error) {
      problems.append(errorBox(error));
    } finally {
      submit.disabled = false;
    }
  }
  mount(main, 
    h("h1", {}, "Model keys"),
    query.get("welcome") ? h("p", { class: "success" }, "Your household is ready. One more step: add a model key.") : null,
    h("p", {}, "Cairn asks a model to propose plans. The key is stored encrypted in your household's vault, used only for those calls, and never shown again. Or use a local model: a server of yours that speaks OpenAI's API."),
    h("section", { class: "card", "aria-label": "Stored keys" }, h("h2", {}, "Stored keys"), configured),
    h(
      "form",
      { class: "card form", onsubmit, "aria-label": "Add a model key" },
      h("h2", {}, "Add a model key"),
      field("Provider", provider),
      apiKeyField,
      azure,
      local,
      problems,
      submit,
      done,
    ),
  );
  await refresh();
}
