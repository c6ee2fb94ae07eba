// The widget's state as the views read it: model traits sanitised (anything may arrive from the
// kernel or from embedded state), and the view data derived from them (filters, statistics,
// cluster order, shared scales). Pure: no DOM, no kernel.

import { filterSegments, clusterStats, orderClusters, maxMeanAttribution } from "./data.js";
import { OUTCOMES, MODELS, MODEL_KEYS, ORDERS, INNER_ORDERS, VIEWS, MAP_COLORS } from "./protocol.js";

/** @typedef {import("./decode.js").Decoded} Decoded */

/**
 * The traits of `model`, each checked against its choices (a bad value falls back to the default).
 * @param {{get: (name: string) => any}} model
 */
export function readState(model) {
  /** @type {<T>(v: any, allowed: readonly T[], dflt: T) => T} */
  const pick = (v, allowed, dflt) => (allowed.includes(v) ? v : dflt);
  /** @type {<T>(v: any, allowed: readonly T[]) => T[]} */
  const subset = (v, allowed) => (Array.isArray(v) ? allowed.filter((x) => v.includes(x)) : [...allowed]);
  const sel = model.get("selected_cluster");
  const lasso = model.get("selection");
  return {
    order: pick(model.get("order"), ORDERS, "imbalance"),
    innerOrder: pick(model.get("inner_order"), INNER_ORDERS, "attribution"),
    outcomes: subset(model.get("outcomes"), OUTCOMES),
    models: subset(model.get("models"), MODEL_KEYS),
    /** @type {number | null} */
    selected: Number.isInteger(sel) ? sel : null,
    view: pick(model.get("view"), VIEWS, "clusters"),
    /** @type {number[]} */
    selection: Array.isArray(lasso) ? lasso.filter(Number.isInteger) : [],
    mapColor: pick(model.get("map_color"), MAP_COLORS, "cluster"),
    targetClass: model.get("target_class"),
    nClusters: model.get("n_clusters"),
    busy: model.get("_busy") === true,
    progress: progressInfo(model.get("_progress")),
  };
}

/**
 * How far the kernel's long command is (the `_progress` trait).
 * @typedef {{task: string, done: number, total: number}} Progress
 */

/**
 * The `_progress` trait, checked (anything may arrive from the kernel): `{task, done, total}`
 * with whole counts, 0 <= done <= total, total > 0; else null.
 * @param {any} p
 * @returns {Progress | null}
 */
export function progressInfo(p) {
  if (!p || typeof p !== "object" || typeof p.task !== "string") return null;
  const { done, total } = p;
  if (!Number.isInteger(total) || total <= 0 || !Number.isInteger(done) || done < 0) return null;
  return { task: p.task, done: Math.min(done, total), total };
}

/** @typedef {ReturnType<typeof readState>} State */

/**
 * What the views take besides the derived data.
 * @typedef {Object} ViewExtra
 * @property {import("./tiles.js").PictureStore} [pictures]  the pictures held
 * @property {boolean} [live]          a kernel answers: rows are not bounded by the pictures held
 * @property {() => void} [onWindow]   a virtualised row shows other tiles (fetch them)
 * @property {Map<string, any>} [memo]  sorted rows and heatmaps of this context, by key
 * @property {import("./clusternotes.js").ClusterUi} [ui]  names, notes and what-if tests in progress
 */

/**
 * Derived view data: filtered segments, per-cluster stats, cluster order, shared scales.
 * @param {Decoded} data
 * @param {State} st
 * @param {Set<number>} expanded   clusters whose rows are expanded
 * @param {ViewExtra} [extra]      more fields for the views
 */
export function deriveContext(data, st, expanded, extra = {}) {
  const all = data.models || MODELS;
  const models = st.models.filter((m) => all.includes(m));
  const base = filterSegments(data.segments, st.outcomes, models);
  // a lasso on the segment map is one more filter: the cluster views show only its segments
  const selection = st.selection && st.selection.length ? new Set(st.selection) : null;
  const shown = selection ? base.filter((s) => selection.has(s.i)) : base;
  const stats = clusterStats(shown, data.clusterIds, data.edges, all);
  const order = orderClusters(stats, st.order).filter((id) => (stats.get(id)?.size ?? 0) > 0);
  let sizeMax = 0, lo = 0, hi = 0;
  for (const id of order) {
    const c = stats.get(id);
    if (!c) continue; // every ordered id has its statistics
    sizeMax = Math.max(sizeMax, c.size);
    for (const m of models) if (c.mean_attribution[m] !== null) { lo = Math.min(lo, c.mean_attribution[m]); hi = Math.max(hi, c.mean_attribution[m]); }
  }
  const refMean = maxMeanAttribution(stats);
  hi = Math.max(hi, refMean);
  if (hi - lo < 1e-12) hi = lo + 1;
  return {
    data, base, shown, selection, stats, order, hidden: data.clusterIds.length - order.length, sizeMax,
    meanDomain: [lo, hi], refMean, models, allModels: all, outcomes: st.outcomes,
    innerOrder: st.innerOrder, selected: st.selected, expanded, ...extra,
  };
}

/** The view data: deriveContext()'s. @typedef {ReturnType<typeof deriveContext>} Ctx */
