// Names, notes and what-if tests of a cluster (issue 22), from payload.clusters[k] (the
// kernel's result.clusters and result.interventions): the user's name, else the suggested name
// marked as a suggestion; the note; with a kernel, the ✎ button (an inline form; app.js sends
// "_rename_cluster" / "_annotate_cluster") and the "What-if test" button ("_intervene"); the
// test's results per model (flip rates with intervals, score changes). Names and notes are not
// statistics: they show under every filter.

import { h } from "./dom.js";
import { fmtSigned } from "./data.js";
import { explain } from "./glossary.js";
import { modelChip } from "./parts.js";
import { progressInfo } from "./state.js";

/** @typedef {import("./decode.js").Decoded} Decoded */
/** @typedef {import("./types.js").ClusterInfo} ClusterInfo */
/** @typedef {import("./types.js").InterventionRow} InterventionRow */

/**
 * What the app holds about names and tests while the views render.
 * @typedef {Object} ClusterUi
 * @property {boolean} live                 a kernel answers (buttons shown)
 * @property {number | null} editing        the cluster whose name / note form is open
 * @property {{name: string, note: string}} draft   the form's text (kept across renders)
 * @property {number | null} running        the cluster whose what-if test runs
 * @property {Map<number, string>} errors   the last refusal of a what-if test, by cluster
 * @property {import("./state.js").Progress | null} [progress]  how far the running test is
 */

/** "1,024" @param {number} n */
const count = (n) => n.toLocaleString("en-US");

/** @type {WeakMap<object, Map<number, ClusterInfo>>} */
const byPayload = new WeakMap();

/**
 * Cluster `id`'s entry of the payload (any fields), or null.
 * @param {Decoded} d
 * @param {number} id
 * @returns {ClusterInfo | null}
 */
export function clusterMeta(d, id) {
  const p = d.payload;
  let map = byPayload.get(p);
  if (!map) {
    map = new Map();
    for (const c of Array.isArray(p.clusters) ? p.clusters : []) if (c && Number.isInteger(c.id)) map.set(c.id, c);
    byPayload.set(p, map);
  }
  return map.get(id) || null;
}

/**
 * The cluster's name: the user's (data-imacs-name), else the suggestion, marked as one
 * (data-imacs-suggested); null without either.
 * @param {ClusterInfo | null} meta
 * @param {number} id
 */
export function nameLabel(meta, id) {
  if (!meta) return null;
  if (typeof meta.name === "string" && meta.name) {
    return explain(h("span", { class: "imacs-cluster-label", data: { imacsName: id }, text: `“${meta.name}”` }), "name", `your name of cluster ${id}: ${meta.name}`);
  }
  if (typeof meta.suggested_name === "string" && meta.suggested_name) {
    const by = typeof meta.suggested_by === "string" && meta.suggested_by ? ` (by ${meta.suggested_by})` : "";
    return explain(h("span", { class: "imacs-suggested", data: { imacsSuggested: id } }, [
      h("span", { class: "imacs-suggested-mark", text: "suggested: " }), h("span", { text: meta.suggested_name }),
    ]), "suggested_name", `suggested name of cluster ${id}${by}: ${meta.suggested_name}`);
  }
  return null;
}

/**
 * The user's note (data-imacs-note), or null.
 * @param {ClusterInfo | null} meta
 * @param {number} id
 */
export function noteLine(meta, id) {
  if (!meta || typeof meta.note !== "string" || !meta.note) return null;
  return explain(h("div", { class: "imacs-note", data: { imacsNote: id }, text: meta.note }), "note");
}

/**
 * The buttons of a cluster with a kernel: ✎ (name and note) and "What-if test".
 * @param {number} id
 * @param {ClusterUi} ui
 */
export function clusterActions(id, ui) {
  if (!ui.live) return null;
  const running = ui.running === id;
  return h("span", { class: "imacs-cluster-actions" }, [
    h("button", { class: "imacs-more", type: "button", data: { imacsEdit: id }, text: "✎ name / note", title: "Name this cluster and note what it shows (saved with the result: result.rename_cluster / annotate_cluster)" }),
    markRunning(h("button", {
      class: "imacs-more", type: "button", data: { imacsIntervene: id }, disabled: ui.running !== null,
      text: "What-if test", title: WHAT_IF_TITLE,
    }), running, ui.progress ?? null),
  ]);
}

/** The what-if button's tooltip. */
const WHAT_IF_TITLE = "Does each model use this cluster? Paste its segments onto images of other classes and remove them from their own images (result.intervene; runs the models in the kernel)";

/**
 * Show on a what-if button that its test runs, with the kernel's count when there is one
 * (then the button explains it: data-imacs-measure="progress").
 * @param {HTMLButtonElement} button
 * @param {boolean} running
 * @param {import("./state.js").Progress | null} p
 */
export function markRunning(button, running, p) {
  if (!running) return button;
  button.textContent = runningText(p);
  if (p) return explain(button, "progress", progressDetail(p));
  button.removeAttribute("data-imacs-measure");
  button.title = WHAT_IF_TITLE;
  return button;
}

/**
 * The running test's button text: "running what-if test… 412 / 1,024".
 * @param {import("./state.js").Progress | null} p
 */
export function runningText(p) {
  return p ? `running what-if test… ${count(p.done)} / ${count(p.total)}` : "running what-if test…";
}

/**
 * The inline form of the cluster being named (data-imacs-form).
 * @param {number} id
 * @param {ClusterInfo | null} meta
 * @param {ClusterUi} ui
 */
export function editForm(id, meta, ui) {
  if (!ui.live || ui.editing !== id) return null;
  const hint = meta && typeof meta.suggested_name === "string" && meta.suggested_name ? meta.suggested_name : "e.g. watermark";
  return h("div", { class: "imacs-form", data: { imacsForm: id } }, [
    h("label", { class: "imacs-form-row" }, [
      h("span", { class: "imacs-field-label", text: "Name" }),
      h("input", { class: "imacs-input", type: "text", value: ui.draft.name, maxLength: 200, placeholder: hint, data: { imacsDraft: "name" }, attrs: { "aria-label": `name of cluster ${id}` } }),
    ]),
    h("label", { class: "imacs-form-row" }, [
      h("span", { class: "imacs-field-label", text: "Note" }),
      h("textarea", { class: "imacs-input", rows: 2, value: ui.draft.note, placeholder: "what the tiles show, what to do about it", data: { imacsDraft: "note" }, attrs: { "aria-label": `note on cluster ${id}` } }),
    ]),
    h("div", { class: "imacs-form-row" }, [
      h("button", { class: "imacs-more", type: "button", data: { imacsEditSave: id }, text: "Save" }),
      h("button", { class: "imacs-more", type: "button", data: { imacsEditCancel: id }, text: "Cancel" }),
      h("span", { class: "imacs-muted", text: "an empty name clears it (the suggestion shows again)" }),
    ]),
  ]);
}

/**
 * "What-if test: 412 / 1,024 images" of a progress state (the task's first words, capitalised:
 * "what-if test, cluster 4" -> "What-if test").
 * @param {import("./state.js").Progress} p
 */
export function progressText(p) {
  const head = p.task.split(",")[0].trim() || "Working";
  return `${head.charAt(0).toUpperCase()}${head.slice(1)}: ${count(p.done)} / ${count(p.total)} images`;
}

/**
 * The progress of the kernel's long command (data-imacs-progress="done/total"): its text and a
 * bar, with the glossary's tooltip; null without a valid state.
 * @param {any} raw  the `_progress` trait
 */
export function progressView(raw) {
  const p = progressInfo(raw);
  if (!p) return null;
  const share = p.done / p.total;
  const bar = h("div", { class: "imacs-progress-bar", attrs: { role: "progressbar", "aria-valuemin": "0", "aria-valuemax": String(p.total), "aria-valuenow": String(p.done), "aria-label": p.task } }, [
    h("div", { class: "imacs-progress-fill", style: { width: `${(100 * share).toFixed(1)}%` } }),
  ]);
  return explain(h("div", { class: "imacs-progress", data: { imacsProgress: `${p.done}/${p.total}` } }, [
    h("span", { class: "imacs-progress-text", text: progressText(p) }), bar,
  ]), "progress", progressDetail(p));
}

/**
 * "what-if test, cluster 1: 412 of 1,024 images scored (40 %)", a progress tooltip's first line.
 * @param {import("./state.js").Progress} p
 */
export function progressDetail(p) {
  return `${p.task}: ${count(p.done)} of ${count(p.total)} images scored (${Math.round((100 * p.done) / p.total)} %)`;
}

/** "62 %" of a rate in 0..1. @param {number} v */
const pct = (v) => `${Math.round(100 * v)} %`;

/**
 * "62 % [45, 77] of 30" of a rate, its interval and denominator; "n/a" when nothing could flip.
 * @param {number | null | undefined} rate
 * @param {[number, number] | null | undefined} ci
 * @param {number | undefined} n
 */
function rateText(rate, ci, n) {
  if (typeof rate !== "number" || !Number.isFinite(rate)) return `n/a (no image could flip${typeof n === "number" ? `, n = ${n}` : ""})`;
  const iv = Array.isArray(ci) && ci.length === 2 ? ` [${Math.round(100 * ci[0])}, ${Math.round(100 * ci[1])}]` : "";
  return `${pct(rate)}${iv} of ${n ?? "?"}`;
}

/**
 * The what-if test's results on the cluster (data-imacs-whatif), or its refusal
 * (data-imacs-whatif-error); null when there is neither.
 * @param {ClusterInfo | null} meta
 * @param {number} id
 * @param {Decoded} d
 * @param {ClusterUi} ui
 */
export function whatIfPanel(meta, id, d, ui) {
  const error = ui.errors.get(id);
  const rec = meta && meta.intervention && Array.isArray(meta.intervention.rows) ? meta.intervention : null;
  if (!rec && !error) return null;
  const cls = String(d.payload.target_class ?? "");
  const out = h("div", { class: "imacs-whatif", data: rec ? { imacsWhatif: id } : {} });
  if (rec) {
    out.append(explain(h("div", { class: "imacs-whatif-head" }, [
      h("strong", { text: "What-if test" }),
      h("span", { class: "imacs-muted", text: ` · up to ${rec.n_images} images each, seed ${rec.seed}` }),
    ]), "intervention", `cluster ${id}: its segments pasted onto images of other classes, and removed from their own images`));
    for (const row of /** @type {InterventionRow[]} */ (rec.rows)) {
      const m = String(row.model);
      const name = d.modelNames[m] ?? row.name ?? m;
      out.append(h("div", { class: "imacs-whatif-row", data: { imacsWhatifModel: m } }, [
        modelChip(m),
        explain(h("span", { data: { imacsFlipTo: m }, text: `pasted: switches to “${cls}” ${rateText(row.flip_to_target, row.flip_to_target_ci, row.n_paste)}` }), "flip_to",
          `${name}: ${rateText(row.flip_to_target, row.flip_to_target_ci, row.n_paste)} images switch to “${cls}” once the cluster's segments are pasted on them`),
        explain(h("span", { class: "imacs-muted", text: ` · score ${fmtSigned(row.paste_score_change)}` }), "score_change",
          `${name}'s score for “${cls}” changes by ${fmtSigned(row.paste_score_change)} on average when the segments are pasted`),
        h("span", { class: "imacs-whatif-sep", text: " | " }),
        explain(h("span", { data: { imacsFlipFrom: m }, text: `removed: loses “${cls}” ${rateText(row.flip_from_target, row.flip_from_target_ci, row.n_remove)}` }), "flip_from",
          `${name}: ${rateText(row.flip_from_target, row.flip_from_target_ci, row.n_remove)} images predicted as “${cls}” lose it once the cluster's segments are removed`),
        explain(h("span", { class: "imacs-muted", text: ` · score ${fmtSigned(row.remove_score_change)}` }), "score_change",
          `${name}'s score for “${cls}” changes by ${fmtSigned(row.remove_score_change)} on average when the segments are removed`),
      ]));
    }
  }
  if (error) out.append(explain(h("div", { class: "imacs-whatif-error", data: { imacsWhatifError: id }, attrs: { role: "alert" }, text: error }), "intervention", "the what-if test could not run: the kernel's answer"));
  return out;
}
