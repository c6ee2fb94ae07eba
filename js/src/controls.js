// The controls (class of interest, number of clusters, orders, outcome and model filters) and
// the view tabs: built once, their values refreshed from the traits on every render. Controls
// that change front-end state set a trait; re-clustering and switching class need the kernel
// and go through `request` (a command; app.js shows the busy state and refusals).

import { h, replace } from "./dom.js";
import { OUTCOMES, MODELS, ORDERS, INNER_ORDERS, VIEWS } from "./protocol.js";
import { outcomeChip, OUTCOME_TEXT } from "./parts.js";
import { explain } from "./glossary.js";

/** @typedef {import("./decode.js").Decoded} Decoded */
/** @typedef {import("./state.js").State} State */

const ORDER_TEXT = { imbalance: "imbalance |A − B|", importance: "importance", size: "size" };
const ORDER_TEXT_N = { ...ORDER_TEXT, imbalance: "spread of the means (max − min)" };  // 3+ models
const INNER_TEXT = { attribution: "attribution", centroid: "distance to centroid" };
const VIEW_TEXT = { clusters: "Concept clusters", histogram: "Cluster histogram", map: "Segment map" };

/**
 * @param {Object} deps
 * @param {{get: (name: string) => any}} deps.model   the anywidget model (traits)
 * @param {(name: string, value: any) => void} deps.setTrait
 * @param {(name: string, msg: any, text: string) => void} deps.request  a kernel-only action
 */
export function createControls({ model, setTrait, request }) {
  const controls = h("div", { class: "imacs-controls" });
  const tabs = h("div", { class: "imacs-tabs", attrs: { role: "tablist" } });

  const classSelect = h("select", { class: "imacs-select", data: { imacsControl: "class" }, attrs: { "aria-label": "class of interest" } });
  const nRange = h("input", { class: "imacs-range", type: "range", data: { imacsControl: "n-clusters" }, attrs: { "aria-label": "number of clusters" } });
  const nValue = h("output", { class: "imacs-range-value" });
  const orderSelect = h("select", { class: "imacs-select", data: { imacsControl: "order" }, attrs: { "aria-label": "cluster order" } },
    ORDERS.map((o) => h("option", { value: o, text: ORDER_TEXT[o] })));
  const innerSelect = h("select", { class: "imacs-select", data: { imacsControl: "inner-order" }, attrs: { "aria-label": "order within clusters" } },
    INNER_ORDERS.map((o) => h("option", { value: o, text: INNER_TEXT[o] })));
  const outcomeBoxes = OUTCOMES.map((o) => h("input", { type: "checkbox", value: o, attrs: { "aria-label": OUTCOME_TEXT[o] } }));
  const outcomeGroup = h("div", { class: "imacs-checks", data: { imacsControl: "outcomes" }, attrs: { role: "group", "aria-label": "outcomes shown" } },
    OUTCOMES.map((o, k) => h("label", { class: "imacs-check", title: OUTCOME_TEXT[o] }, [outcomeBoxes[k], outcomeChip(o)])));
  // one checkbox per model of the result (rebuilt when a payload brings other models)
  /** @type {string[]} */
  let modelKeys = [];
  /** @type {HTMLInputElement[]} */
  let modelBoxes = [];
  const modelGroup = h("div", { class: "imacs-checks", data: { imacsControl: "models" }, attrs: { role: "group", "aria-label": "models shown" } });
  /**
   * @param {readonly string[]} keys
   * @param {Object<string, string>} names
   */
  function buildModelBoxes(keys, names) {
    if (keys.join() === modelKeys.join()) return;
    modelKeys = keys.slice();
    modelBoxes = keys.map((m) => h("input", { type: "checkbox", value: m, attrs: { "aria-label": `model ${m}: ${names[m] ?? m}` } }));
    replace(modelGroup, ...keys.map((m, k) => h("label", { class: "imacs-check", title: names[m] ?? m }, [modelBoxes[k], h("span", { class: `imacs-chip imacs-chip-${m}` }, [h("span", { class: "imacs-swatch" }), h("span", { class: "imacs-chip-key", text: m })])])));
  }
  buildModelBoxes([...MODELS], {});
  /**
   * @param {string} label
   * @param {...HTMLElement} kids
   */
  const field = (label, ...kids) => h("div", { class: "imacs-field" }, [h("span", { class: "imacs-field-label", text: label }), h("div", { class: "imacs-field-body" }, kids)]);
  controls.append(
    field("Class of interest", classSelect),
    explain(field("Clusters", nRange, nValue), "n_clusters"),
    field("Order clusters by", orderSelect),
    field("Within a cluster", innerSelect),
    field("Outcomes", outcomeGroup),
    field("Models", modelGroup),
  );

  const tabButtons = VIEWS.map((v) => h("button", { class: "imacs-tab", type: "button", data: { imacsTab: v }, attrs: { role: "tab" }, text: VIEW_TEXT[v] }));
  tabs.append(...tabButtons);

  orderSelect.addEventListener("change", () => setTrait("order", orderSelect.value));
  innerSelect.addEventListener("change", () => setTrait("inner_order", innerSelect.value));
  outcomeGroup.addEventListener("change", () => setTrait("outcomes", OUTCOMES.filter((_, k) => outcomeBoxes[k].checked)));
  modelGroup.addEventListener("change", () => setTrait("models", modelKeys.filter((_, k) => modelBoxes[k].checked)));
  tabButtons.forEach((b, k) => b.addEventListener("click", () => setTrait("view", VIEWS[k])));
  nRange.addEventListener("input", () => { nValue.textContent = nRange.value; });
  nRange.addEventListener("change", () => {
    const n = Number(nRange.value);
    if (!Number.isInteger(n) || n === model.get("n_clusters")) return;
    request("_recluster", { n_clusters: n }, `Re-clustering into ${n} clusters…`);
  });
  classSelect.addEventListener("change", () => {
    const value = classSelect.value;
    if (value === String(model.get("target_class"))) return;
    request("_select_class", { target_class: value }, "Switching class of interest…");
  });

  /**
   * Show the traits `st` (and the payload's classes and slider range).
   * @param {State} st
   * @param {{data: Decoded | null, live: boolean, pending: string | null}} app
   *   the decoded payload, whether a kernel answers, the kernel action in progress
   */
  function render(st, { data: d, live, pending }) {
    const classes = d && Array.isArray(d.payload.classes) ? d.payload.classes.map(String) : [];
    const current = String(st.targetClass ?? (d ? d.payload.target_class : ""));
    if (!classes.includes(current) && current) classes.unshift(current);
    const optionsNow = [...classSelect.options].map((o) => o.value);
    if (optionsNow.join("\u0000") !== classes.join("\u0000")) {
      replace(classSelect, ...classes.map((c) => h("option", { value: c, text: c })));
    }
    classSelect.value = current;
    const blocked = !live || st.busy || pending !== null;
    classSelect.disabled = blocked || classes.length < 2;
    classSelect.title = !live ? "Switching class needs a running Python kernel" : classes.length < 2 ? "The result holds one class of interest" : "";
    const [lo, hi] = d && Array.isArray(d.payload.n_clusters_range) ? d.payload.n_clusters_range : [1, 1];
    nRange.min = String(lo); nRange.max = String(hi);
    const n = Number.isInteger(st.nClusters) ? st.nClusters : d ? d.payload.n_clusters : lo;
    if (pending === null) nRange.value = String(n); // keep the requested value while busy
    nValue.textContent = nRange.value;
    nRange.disabled = blocked || !d;
    nRange.title = !live ? "Re-clustering needs a running Python kernel" : "";
    orderSelect.value = st.order;
    innerSelect.value = st.innerOrder;
    outcomeBoxes.forEach((b, k) => { b.checked = st.outcomes.includes(OUTCOMES[k]); });
    if (d) buildModelBoxes(d.models, d.modelNames);
    modelBoxes.forEach((b, k) => { b.checked = st.models.includes(/** @type {any} */ (modelKeys[k])); });
    const orderText = d && d.models.length > 2 ? ORDER_TEXT_N : ORDER_TEXT;
    [...orderSelect.options].forEach((o) => { o.textContent = orderText[/** @type {keyof ORDER_TEXT} */ (o.value)]; });
    tabButtons.forEach((b, k) => {
      const on = VIEWS[k] === st.view;
      b.classList.toggle("imacs-tab-active", on);
      b.setAttribute("aria-selected", on ? "true" : "false");
    });
  }

  return { controls, tabs, render };
}
