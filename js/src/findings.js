// Findings first (issue 22): the panel that heads the widget and the static report — one plain
// sentence per significant difference between the models (payload.findings, computed by
// imacs_widget/engine/findings.py), each a button that opens its cluster — and how sure each
// cluster row is (payload.clusters[k]: significant, q_value, per model ci). These numbers are
// the kernel's, for the unfiltered view: the rows show them only when no outcome / model filter
// and no lasso selection is active (the browser recomputes the means under filters, not these).

import { h } from "./dom.js";
import { fmtSigned } from "./data.js";
import { explain, levelText } from "./glossary.js";

/** @typedef {import("./decode.js").Decoded} Decoded */
/** @typedef {import("./types.js").ClusterInfo} ClusterInfo */
/** @typedef {import("./types.js").Finding} Finding */

/** Findings listed before "N more findings" (the rest are in a closed <details>). */
export const FIRST_FINDINGS = 5;

/** @type {WeakMap<object, Map<number, ClusterInfo>>} */
const byPayload = new WeakMap();

/**
 * Cluster `id`'s statistics from the payload (null: the payload has none, e.g. a result built
 * without statistics, or an unknown id).
 * @param {Decoded} d
 * @param {number} id
 * @returns {ClusterInfo | null}
 */
export function clusterInfo(d, id) {
  const p = d.payload;
  let map = byPayload.get(p);
  if (!map) {
    map = new Map();
    for (const c of Array.isArray(p.clusters) ? p.clusters : []) {
      if (c && Number.isInteger(c.id) && typeof c.significant === "boolean") map.set(c.id, c);
    }
    byPayload.set(p, map);
  }
  return map.get(id) || null;
}

/**
 * Whether the payload carries the statistics at all (every cluster has `significant`).
 * @param {Decoded} d
 */
export function hasStatistics(d) {
  return d.clusterIds.length > 0 && d.clusterIds.every((id) => clusterInfo(d, id) !== null);
}

/**
 * The payload's findings that name a cluster it holds, in rank order.
 * @param {Decoded} d
 * @returns {Finding[]}
 */
export function findingsOf(d) {
  const list = Array.isArray(d.payload.findings) ? d.payload.findings : [];
  const known = new Set(d.clusterIds);
  return list.filter((f) => f && typeof f.sentence === "string" && known.has(f.cluster));
}

/**
 * "q < 0.001", "q = 0.008", "q = 0.420" (`letter` "p" for a p-value), as Python's sentences.
 * @param {number | null | undefined} q
 */
export function fmtQ(q, letter = "q") {
  if (typeof q !== "number" || !Number.isFinite(q)) return `${letter} n/a`;
  return q < 0.001 ? `${letter} < 0.001` : `${letter} = ${q.toFixed(3)}`;
}

/**
 * "[0.19, 0.29]" of a [low, high] interval, with the decimals of Python's sentences (2 when the
 * larger end is at least 0.1, 3 from 0.01, else 4); "" when there is none.
 * @param {[number, number] | null | undefined} ci
 */
export function fmtInterval(ci) {
  if (!Array.isArray(ci) || ci.length !== 2 || !ci.every((v) => typeof v === "number" && Number.isFinite(v))) return "";
  const big = Math.max(Math.abs(ci[0]), Math.abs(ci[1]));
  const d = big >= 0.1 ? 2 : big >= 0.01 ? 3 : 4;
  /** @param {number} v */
  const f = (v) => { const t = Math.abs(v).toFixed(d); return v < 0 && Number(t) !== 0 ? `−${t}` : t; };
  return `[${f(ci[0])}, ${f(ci[1])}]`;
}

/**
 * A signed value with the decimals of Python's sentences (2 from 0.1, 3 from 0.01, else 4).
 * @param {number | null | undefined} v
 */
export function fmtMean(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return "n/a";
  const big = Math.abs(v);
  return fmtSigned(v, big >= 0.1 ? 2 : big >= 0.01 ? 3 : 4);
}

/**
 * The findings panel: null when the payload has no statistics (nothing to say), else a
 * heading and one button per finding (data-imacs-finding = its cluster id; app.js opens the
 * cluster), or "No significant difference between the models" plainly.
 * @param {Decoded} d
 */
export function findingsPanel(d) {
  if (!hasStatistics(d)) return null;
  const list = findingsOf(d);
  const cls = String(d.payload.target_class ?? "");
  const level = d.payload.significance_level;
  const head = h("div", { class: "imacs-findings-head" }, [
    explain(h("strong", { text: list.length ? `Findings for “${cls}”` : "Findings" }), "findings", undefined, level),
    explain(h("span", {
      class: "imacs-muted",
      text: list.length
        ? ` · ${list.length} cluster${list.length === 1 ? "" : "s"} where the models differ more than noise would (click one to open it)`
        : "",
    }), "findings", undefined, level),
  ]);
  const tested = d.clusterIds.some((id) => typeof clusterInfo(d, id)?.q_value === "number");
  if (!tested) {
    return h("div", { class: "imacs-findings imacs-findings-none", data: { imacsFindings: "0" } }, [
      head,
      explain(h("div", {
        class: "imacs-finding-none", data: { imacsFindingNone: "untested" },
        text: "No test of the difference between the models could run (fewer than two models with sampled images).",
      }), "findings", undefined, level),
    ]);
  }
  if (!list.length) {
    return h("div", { class: "imacs-findings imacs-findings-none", data: { imacsFindings: "0" } }, [
      head,
      explain(h("div", {
        class: "imacs-finding-none", data: { imacsFindingNone: "" },
        text: `No significant difference between the models: in no cluster of “${cls}” does the models' attribution differ more than chance would explain (no q-value below the level, ${levelText(level)}).`,
      }), "findings", undefined, level),
    ]);
  }
  /** @param {Finding} f */
  const item = (f) => h("li", {}, [
    explain(h("button", {
      class: "imacs-finding", type: "button", data: { imacsFinding: f.cluster }, text: f.sentence,
    }), "finding", `Open cluster ${f.cluster} (${fmtQ(f.q_value)})`),
  ]);
  const rest = list.slice(FIRST_FINDINGS);
  return h("div", { class: "imacs-findings", data: { imacsFindings: String(list.length) } }, [
    head,
    h("ol", { class: "imacs-findings-list" }, list.slice(0, FIRST_FINDINGS).map(item)),
    rest.length ? h("details", { class: "imacs-findings-more" }, [
      explain(h("summary", { text: `${rest.length} more finding${rest.length === 1 ? "" : "s"}` }), "findings", undefined, level),
      h("ol", { class: "imacs-findings-list", attrs: { start: String(FIRST_FINDINGS + 1) } }, rest.map(item)),
    ]) : null,
  ]);
}

/**
 * Whether the rows show the kernel's statistics: no outcome or model filter, no lasso.
 * @param {{outcomes: readonly string[], models: readonly string[], allModels?: readonly string[], selection?: Set<number> | null}} ctx
 * @param {number} nOutcomes  how many outcomes there are
 */
export function unfiltered(ctx, nOutcomes) {
  return ctx.outcomes.length === nOutcomes && ctx.models.length === (ctx.allModels || ctx.models).length && !ctx.selection;
}

/**
 * The badge of a cluster row: "n.s." (not significant) or its q-value; null without statistics
 * or without a test (q-value null).
 * @param {ClusterInfo | null} info
 * @param {unknown} [level]  the result's significance level (payload significance_level)
 */
export function significanceBadge(info, level) {
  if (!info || typeof info.q_value !== "number") return null; // untested: nothing to say
  const q = fmtQ(info.q_value);
  return info.significant
    ? explain(h("span", { class: "imacs-stat imacs-sig", data: { imacsSignificant: "true" }, text: q }), "significance",
      `the models' attribution per image in this cluster differs more than noise would: permutation test ${fmtQ(info.p_value, "p")}, ${q}`, level)
    : explain(h("span", { class: "imacs-stat imacs-ns", data: { imacsSignificant: "false" }, text: "n.s." }), "significance",
      `not significant (${fmtQ(info.p_value, "p")}, ${q}): the difference between the models here could be noise`, level);
}

/**
 * " [0.19, 0.29]" after model `m`'s mean: its 95 % bootstrap interval over images.
 * @param {ClusterInfo | null} info
 * @param {string} m
 * @param {string} name  the model's display name
 */
export function intervalText(info, m, name) {
  const text = info && info.ci ? fmtInterval(info.ci[m]) : "";
  if (!text || !info) return null;
  return explain(h("span", { class: "imacs-ci", data: { imacsCi: m }, text: ` ${text}` }), "ci",
    `${name}'s mean attribution here lies in ${text} (95 %); its attribution per image ${fmtSigned(info.mass ? info.mass[m] : null)} ${fmtInterval(info.mass_ci ? info.mass_ci[m] : null)} is what the test compares (${fmtQ(info.q_value)})`);
}
