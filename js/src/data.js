// Pure data helpers: filtering, ordering, binning, summaries, formatting. No DOM here.
// The cluster statistics and orders are a port of imacs_widget/engine/summary.py (the one
// definition), pinned by js/tests/summary.test.js against fixtures computed by Python. Decoding
// the payload is decode.js (re-exported here).

import { OUTCOMES, MODELS, MODEL_KEYS, CONSENSUS_FRACTION, ORDERS, INNER_ORDERS, VIEWS } from "./protocol.js";
import { isNum } from "./decode.js";

/** @typedef {import("./types.js").Segment} Segment */
/** @typedef {import("./decode.js").Decoded} Decoded */
/** @typedef {import("./types.js").Atlas} Atlas */

// the shared constants (protocol.json), re-exported for the modules and tests that take them here
export { OUTCOMES, MODELS, MODEL_KEYS, CONSENSUS_FRACTION, ORDERS, INNER_ORDERS, VIEWS };
export { column, decodePayload, decodeMap } from "./decode.js";

// ---- cluster statistics: a port of imacs_widget/engine/summary.py (see its docstring for the
// definitions), checked number by number against js/tests/fixtures/summary_cases.json, which
// scripts/make_js_fixture.py computes with the Python module. Change both or neither.

/**
 * Exactly rounded sum of finite numbers: CPython's math.fsum (Shewchuk's algorithm with the
 * final half-even correction), so every mean has the same bits as in Python.
 * @param {Iterable<number>} values
 * @returns {number}
 */
export function fsum(values) {
  /** @type {number[]} */
  const partials = [];
  for (let x of values) {
    let i = 0;
    for (let /** @type {number} */ y of partials) {
      if (Math.abs(x) < Math.abs(y)) { const t = x; x = y; y = t; }
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[i++] = lo;
      x = hi;
    }
    partials.length = i;
    partials.push(x);
  }
  let n = partials.length;
  if (n === 0) return 0;
  let /** @type {number} */ hi = partials[--n], lo = 0;
  while (n > 0) {
    const x = hi, y = partials[--n];
    hi = x + y;
    lo = y - (hi - x);
    if (lo !== 0) break;
  }
  if (n > 0 && ((lo < 0 && partials[n - 1] < 0) || (lo > 0 && partials[n - 1] > 0))) {
    const y = lo * 2, x = hi + y;
    if (y === x - hi) hi = x;
  }
  return hi;
}

/**
 * summary.mean_attribution: exact mean of the finite values, null when there are none.
 * @param {Array<number | null | undefined>} values
 */
export function meanAttribution(values) {
  const v = values.filter(isNum);
  return v.length ? fsum(v) / v.length : null;
}

/**
 * Bin of value v (summary.histogram: edges[k] <= v < edges[k + 1], the last bin closed, values
 * outside fall into the first / last bin). Returns -1 for missing values.
 * @param {number[]} edges
 * @param {number | null | undefined} v
 */
export function binIndex(edges, v) {
  if (!isNum(v)) return -1;
  const nb = edges.length - 1;
  if (v <= edges[0]) return 0;
  if (v >= edges[nb]) return nb - 1;
  let lo = 0, hi = nb; // edges[lo] <= v < edges[hi]
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (v >= edges[mid]) lo = mid; else hi = mid;
  }
  return lo;
}

/**
 * summary.histogram of segments' attributions on the shared edges.
 * @param {Segment[]} segments
 * @param {number[]} edges
 * @returns {number[]}
 */
export function histogram(segments, edges) {
  const counts = new Array(edges.length - 1).fill(0);
  for (const s of segments) {
    const b = binIndex(edges, s.attribution);
    if (b >= 0) counts[b] += 1;
  }
  return counts;
}

/**
 * summary.filter_segments: segments whose outcome and model are among the shown ones.
 * @param {Segment[]} segments
 * @param {readonly string[]} outcomes
 * @param {readonly string[]} models
 */
export function filterSegments(segments, outcomes, models) {
  const o = new Set(outcomes), m = new Set(models);
  return segments.filter((s) => o.has(s.outcome) && m.has(s.model));
}

/**
 * summary.summarize_clusters of the given segments, one entry per cluster id (plus the
 * segments of each model, for the views).
 * @param {Segment[]} segments
 * @param {number[]} clusterIds
 * @param {number[]} edges
 * @param {readonly string[]} [models]  the model keys (default: a pair)
 * @returns {Map<number, ClusterStats>}
 */
export function clusterStats(segments, clusterIds, edges, models = MODELS) {
  /** @type {<T>(f: (m: string) => T) => Record<string, T>} */
  const perModel = (f) => Object.fromEntries(models.map((m) => [m, f(m)]));
  const by = new Map(clusterIds.map((id) => [id, perModel(() => /** @type {Segment[]} */ ([]))]));
  for (const s of segments) {
    const g = by.get(s.cluster);
    if (g && g[s.model]) g[s.model].push(s);
  }
  /** @type {Map<number, ClusterStats>} */
  const out = new Map();
  for (const [id, g] of by) {
    const means = perModel((m) => meanAttribution(g[m].map((s) => s.attribution)));
    const present = models.filter((m) => means[m] !== null);
    const vals = present.map((m) => /** @type {number} */ (means[m]));
    const outcomes = perModel((m) => {
      /** @type {Record<string, number>} */
      const o = Object.fromEntries(OUTCOMES.map((k) => [k, 0]));
      for (const s of g[m]) o[s.outcome] += 1;
      return o;
    });
    out.set(id, {
      id,
      size: models.reduce((t, m) => t + g[m].length, 0),
      count: perModel((m) => g[m].length),
      mean_attribution: means,
      histogram: perModel((m) => histogram(g[m], edges)),
      outcomes,
      one_sided: present.length === 1 ? present[0] : null,
      imbalance: present.length >= 2 ? Math.max(...vals) - Math.min(...vals) : null,
      importance: present.length ? Math.max(...vals) : null,
      consensus: { models: [], n: 0, of: models.length, strength: null }, // set below
      removal: perModel((m) => removalMean(g[m])),
      segments: g,
    });
  }
  const ref = maxMeanAttribution(out);
  for (const c of out.values()) c.consensus = consensus(c.mean_attribution, ref);
  return out;
}

/**
 * summary._removal: mean cluster removal over the distinct images of one model's segments
 * (first row of each image in table order); null without the column or segments.
 * @param {Segment[]} segs
 */
export function removalMean(segs) {
  if (!segs.length || segs[0].removal === undefined) return null;
  /** @type {Map<number, Segment>} */
  const first = new Map();
  for (const s of segs) {
    const f = first.get(s.image);
    if (f === undefined || s.i < f.i) first.set(s.image, s);
  }
  return meanAttribution([...first.values()].map((s) => s.removal));
}

/**
 * summary.consensus: the models whose mean exceeds CONSENSUS_FRACTION of the reference bar.
 * @param {Record<string, number | null>} means
 * @param {number} reference
 * @returns {{models: string[], n: number, of: number, strength: number | null}}
 */
export function consensus(means, reference) {
  const cut = CONSENSUS_FRACTION * reference;
  /** @type {(m: string) => number} */
  const mean = (m) => means[m] ?? NaN;
  const pos = Object.keys(means).filter((m) => means[m] !== null && reference > 0 && mean(m) > cut);
  return { models: pos, n: pos.length, of: Object.keys(means).length, strength: pos.length ? fsum(pos.map(mean)) / pos.length : null };
}
/**
 * @typedef {Object} ClusterStats   every per-model entry is keyed by model key ("A", "B", ...)
 * @property {number} id
 * @property {number} size
 * @property {Object<string, number>} count
 * @property {Object<string, number | null>} mean_attribution
 * @property {Object<string, number[]>} histogram
 * @property {Object<string, Object<string, number>>} outcomes
 * @property {string | null} one_sided
 * @property {number | null} imbalance     spread max - min of the means (|A - B| for a pair)
 * @property {number | null} importance
 * @property {{models: string[], n: number, of: number, strength: number | null}} consensus
 * @property {Object<string, number | null>} removal   score drop when the cluster is blurred
 * @property {Object<string, Segment[]>} segments
 */

/**
 * summary._order_key, behind "empty clusters last".
 * @param {ClusterStats} c
 * @param {string} order
 * @returns {number[]}
 */
function orderKey(c, order) {
  const head = c.size === 0 ? 1 : 0;
  if (order === "size") return [head, -c.size, c.id];
  if (order === "importance") {
    const v = c.importance;
    return [head, v === null ? 1 : 0, v === null ? 0 : -v, c.id];
  }
  if (c.one_sided !== null) return [head, 0, -Math.abs(c.mean_attribution[c.one_sided] ?? 0), c.id];
  if (c.imbalance !== null) return [head, 1, -c.imbalance, c.id];
  return [head, 2, 0, c.id];
}

/** @param {number[]} a @param {number[]} b */
function compareKeys(a, b) {
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  return 0;
}

/**
 * summary.order_clusters: cluster ids by `order` (unknown orders: "imbalance").
 * @param {Map<number, ClusterStats>} stats
 * @param {string} order
 * @returns {number[]}
 */
export function orderClusters(stats, order) {
  const key = /** @type {readonly string[]} */ (ORDERS).includes(order) ? order : "imbalance";
  /** @type {Array<[number[], number]>} */
  const keyed = [...stats.values()].map((c) => [orderKey(c, key), c.id]);
  return keyed.sort((a, b) => compareKeys(a[0], b[0])).map((e) => e[1]);
}

/**
 * summary.order_within: segments in display order. The payload carries each segment's position
 * in Python's order of all segments; the order of any subset is that order restricted to it.
 * @param {Segment[]} segments
 * @param {string} innerOrder
 */
export function orderWithin(segments, innerOrder) {
  const key = innerOrder === "centroid" ? "byCentroid" : "byAttribution";
  return [...segments].sort((a, b) => a[key] - b[key]);
}

/**
 * summary.max_mean_attribution: the largest mean of any model in any cluster; 0 if none.
 * @param {Map<number, ClusterStats>} stats
 */
export function maxMeanAttribution(stats) {
  /** @type {number | null} */
  let best = null;
  for (const c of stats.values()) {
    for (const m of Object.keys(c.mean_attribution)) {
      const v = c.mean_attribution[m];
      if (v !== null) best = best === null ? v : Math.max(best, v);
    }
  }
  return best ?? 0;
}

/**
 * Tiles of one histogram: per bin the first `maxPerBin` segments (in the given order) and how
 * many more there are (§5.1 truncation).
 * @param {Segment[]} orderedSegments
 * @param {number[]} edges
 */
export function histogramStacks(orderedSegments, edges, maxPerBin = 5) {
  /** @type {Array<{shown: Segment[], extra: number}>} */
  const bins = Array.from({ length: edges.length - 1 }, () => ({ shown: [], extra: 0 }));
  for (const s of orderedSegments) {
    const b = binIndex(edges, s.attribution);
    if (b < 0) continue;
    if (bins[b].shown.length < maxPerBin) bins[b].shown.push(s); else bins[b].extra += 1;
  }
  return bins;
}

/**
 * Where segments come from: counts of bbox centres on an n x n grid over the (normalised)
 * image; returns row-major counts and their maximum.
 * @param {Segment[]} segments
 * @returns {{n: number, counts: number[], max: number}}
 */
export function locationHeatmap(segments, n = 8) {
  /** @type {number[]} */
  const counts = new Array(n * n).fill(0);
  for (const s of segments) {
    const cx = (s.box[0] + s.box[2]) / 2, cy = (s.box[1] + s.box[3]) / 2;
    if (!isNum(cx) || !isNum(cy)) continue;
    const c = Math.min(n - 1, Math.max(0, Math.floor(cx * n)));
    const r = Math.min(n - 1, Math.max(0, Math.floor(cy * n)));
    counts[r * n + c] += 1;
  }
  return { n, counts, max: Math.max(0, ...counts) };
}

/**
 * Split one model's segments of a cluster by outcome (§5.3 confusion matrix cells).
 * @param {Segment[]} segments
 * @param {readonly string[]} [models]  the model keys (default: a pair)
 */
export function confusionSplit(segments, models = MODELS) {
  /** @type {Record<string, Record<string, Segment[]>>} */
  const out = {};
  for (const m of models) out[m] = { TP: [], FN: [], FP: [], TN: [] };
  for (const s of segments) if (out[s.model]) out[s.model][s.outcome].push(s);
  return out;
}

/**
 * Position of atlas cell k: sheet, column, row.
 * @param {Atlas} atlas
 * @param {number} k
 */
export function atlasCell(atlas, k) {
  const sheet = Math.floor(k / atlas.per_sheet);
  const r = k % atlas.per_sheet;
  return { sheet, col: r % atlas.cols, row: Math.floor(r / atlas.cols) };
}

/**
 * Rows of a given sheet (the last sheet may be partly filled).
 * @param {Atlas} atlas
 * @param {number} sheet
 */
export function sheetRows(atlas, sheet) {
  const inSheet = Math.min(atlas.per_sheet, atlas.count - sheet * atlas.per_sheet);
  return Math.ceil(inSheet / atlas.cols);
}

/**
 * Number formatting for attributions and scores.
 * @param {any} v
 */
export function fmtSigned(v, digits = 3) {
  if (!isNum(v)) return "n/a";
  const s = Math.abs(v).toFixed(digits);
  if (Number(s) === 0) return s;
  return v > 0 ? `+${s}` : `−${s}`;
}

/** @param {any} v */
export function fmtScore(v) {
  return isNum(v) ? v.toFixed(2) : "n/a";
}

/**
 * Validate a command's answer from the kernel (ImacsWidget: {"ok": bool, "error"?: str, ...}).
 * @param {any} answer
 * @returns {{ok: boolean, error: string | null}}
 */
export function parseAnswer(answer) {
  if (!answer || typeof answer !== "object" || typeof answer.ok !== "boolean") {
    return { ok: false, error: "the kernel sent a malformed answer" };
  }
  return { ok: answer.ok, error: answer.ok ? null : String(answer.error ?? "the kernel refused") };
}

/**
 * Nice tick values (multiples of 1, 2, 2.5 or 5 x 10^k) inside [lo, hi], about `count` of them.
 * @param {number} lo
 * @param {number} hi
 * @returns {number[]}
 */
export function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((st) => st >= raw * 0.999) || raw;
  const out = [];
  for (let k = Math.ceil(lo / step - 1e-9); k <= Math.floor(hi / step + 1e-9); k++) {
    out.push(k === 0 ? 0 : Number((k * step).toPrecision(12)));
  }
  return out;
}
