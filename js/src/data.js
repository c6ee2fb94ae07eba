// Pure data helpers: decoding, filtering, ordering, binning, summaries. No DOM here.
// Definitions mirror imacs_widget/summary.py (imbalance, importance, order ties, bins).

import { PAYLOAD_VERSION } from "./types.js";

/** @typedef {import("./types.js").Payload} Payload */
/** @typedef {import("./types.js").Segment} Segment */

export const OUTCOMES = /** @type {const} */ (["TP", "TN", "FP", "FN"]);
export const MODELS = /** @type {const} */ (["A", "B"]);
export const ORDERS = /** @type {const} */ (["imbalance", "importance", "size"]);
export const INNER_ORDERS = /** @type {const} */ (["attribution", "centroid"]);
export const VIEWS = /** @type {const} */ (["clusters", "histogram"]);

const isNum = (v) => typeof v === "number" && Number.isFinite(v);

/**
 * Check the payload's shape and decode it into records.
 * @param {any} p
 * @returns {{ok: true, data: Decoded} | {ok: false, error: string}}
 */
export function decodePayload(p) {
  if (!p || typeof p !== "object" || !p.segments) return { ok: false, error: "" }; // not loaded yet
  if (p.version !== PAYLOAD_VERSION) {
    return { ok: false, error: `payload version ${p.version} is not ${PAYLOAD_VERSION}; rebuild the front end` };
  }
  const s = p.segments;
  const n = p.n_segments;
  const cols = ["model", "image", "segment", "rank", "cluster", "outcome", "attribution", "centroid_distance"];
  if (!Number.isInteger(n) || n < 0) return { ok: false, error: "bad n_segments" };
  for (const c of cols) {
    if (!Array.isArray(s[c]) || s[c].length !== n) return { ok: false, error: `segments.${c} has the wrong length` };
  }
  if (!Array.isArray(s.box) || s.box.length !== 4 * n) return { ok: false, error: "segments.box has the wrong length" };
  const im = p.images || {};
  const m = Array.isArray(im.index) ? im.index.length : -1;
  for (const c of ["index", "label", "pred_a", "pred_b", "score_a", "score_b", "width", "height"]) {
    if (!Array.isArray(im[c]) || im[c].length !== m) return { ok: false, error: `images.${c} has the wrong length` };
  }
  /** @type {Segment[]} */
  const segments = new Array(n);
  for (let i = 0; i < n; i++) {
    const img = s.image[i];
    if (!Number.isInteger(img) || img < 0 || img >= m) return { ok: false, error: `segment ${i} refers to a missing image` };
    segments[i] = {
      i,
      model: s.model[i] === 1 ? "B" : "A",
      image: img,
      segment: s.segment[i],
      rank: s.rank[i],
      cluster: s.cluster[i],
      outcome: OUTCOMES[s.outcome[i]] || "TP",
      attribution: isNum(s.attribution[i]) ? s.attribution[i] : null,
      distance: isNum(s.centroid_distance[i]) ? s.centroid_distance[i] : null,
      box: [s.box[4 * i] / 1000, s.box[4 * i + 1] / 1000, s.box[4 * i + 2] / 1000, s.box[4 * i + 3] / 1000],
    };
  }
  const images = new Array(m);
  for (let j = 0; j < m; j++) {
    images[j] = {
      index: im.index[j], label: im.label[j], predA: im.pred_a[j], predB: im.pred_b[j],
      scoreA: isNum(im.score_a[j]) ? im.score_a[j] : null, scoreB: isNum(im.score_b[j]) ? im.score_b[j] : null,
      width: im.width[j], height: im.height[j],
    };
  }
  const present = new Set(segments.map((d) => d.cluster));
  const listed = Array.isArray(p.clusters) ? p.clusters.map((c) => c && c.id).filter(Number.isInteger) : [];
  const clusterIds = [...listed, ...[...present].filter((c) => !listed.includes(c)).sort((a, b) => a - b)];
  const attrs = segments.map((d) => d.attribution).filter(isNum);
  const edges = Array.isArray(p.bin_edges) && p.bin_edges.length >= 2 && p.bin_edges.every(isNum)
    ? p.bin_edges.slice() : sharedBinEdges(attrs);
  let maxAbs = 0;
  for (const a of attrs) maxAbs = Math.max(maxAbs, Math.abs(a));
  return {
    ok: true,
    data: {
      payload: p, segments, images, clusterIds, edges, maxAbs: maxAbs || 1,
      classNames: Array.isArray(p.class_names) ? p.class_names.map(String) : [],
      modelNames: { A: String((p.model_names || {}).A ?? "A"), B: String((p.model_names || {}).B ?? "B") },
    },
  };
}

/**
 * @typedef {Object} Decoded
 * @property {Payload} payload
 * @property {Segment[]} segments
 * @property {Array<Object>} images
 * @property {number[]} clusterIds
 * @property {number[]} edges
 * @property {number} maxAbs
 * @property {string[]} classNames
 * @property {{A: string, B: string}} modelNames
 */

/** Mirror of summary.shared_bin_edges: n equal bins over the values, range includes 0. */
export function sharedBinEdges(values, nBins = 12) {
  let lo = 0, hi = 0;
  for (const v of values) if (isNum(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
  return Array.from({ length: nBins + 1 }, (_, k) => lo + ((hi - lo) * k) / nBins);
}

/**
 * Bin of value v for edges (numpy.histogram after clipping to the range: the last bin is
 * closed on the right). Returns -1 for missing values.
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

/** Histogram counts of segments' attributions on the shared edges. */
export function histogram(segments, edges) {
  const counts = new Array(edges.length - 1).fill(0);
  for (const s of segments) {
    const b = binIndex(edges, s.attribution);
    if (b >= 0) counts[b] += 1;
  }
  return counts;
}

/** Segments whose outcome and model are among the shown ones. */
export function filterSegments(segments, outcomes, models) {
  const o = new Set(outcomes), m = new Set(models);
  return segments.filter((s) => o.has(s.outcome) && m.has(s.model));
}

function mean(xs) {
  const v = xs.filter(isNum);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

/**
 * Per-cluster summaries (mirror of summary.summarize_clusters) of the given segments.
 * @returns {Map<number, ClusterStats>}
 */
export function clusterStats(segments, clusterIds, edges) {
  const by = new Map(clusterIds.map((id) => [id, { A: [], B: [] }]));
  for (const s of segments) {
    if (!by.has(s.cluster)) by.set(s.cluster, { A: [], B: [] });
    by.get(s.cluster)[s.model].push(s);
  }
  const out = new Map();
  for (const [id, g] of by) {
    const meanA = mean(g.A.map((s) => s.attribution));
    const meanB = mean(g.B.map((s) => s.attribution));
    const ma = meanA ?? 0, mb = meanB ?? 0;
    out.set(id, {
      id,
      size: g.A.length + g.B.length,
      count: { A: g.A.length, B: g.B.length },
      mean: { A: meanA, B: meanB },
      histogram: { A: histogram(g.A, edges), B: histogram(g.B, edges) },
      imbalance: Math.abs(ma - mb),
      importance: Math.max(ma, mb),
      segments: g,
    });
  }
  return out;
}
/**
 * @typedef {Object} ClusterStats
 * @property {number} id
 * @property {number} size
 * @property {{A: number, B: number}} count
 * @property {{A: number | null, B: number | null}} mean
 * @property {{A: number[], B: number[]}} histogram
 * @property {number} imbalance
 * @property {number} importance
 * @property {{A: Segment[], B: Segment[]}} segments
 */

/** Cluster ids sorted by `order`, largest first, ties by id (summary.order_clusters). */
export function orderClusters(stats, order) {
  const key = ORDERS.includes(order) ? order : "imbalance";
  return [...stats.values()].sort((a, b) => (b[key] - a[key]) || (a.id - b.id)).map((c) => c.id);
}

/** Segments in display order (summary.order_within); missing values go last. */
export function orderWithin(segments, innerOrder) {
  const byDist = innerOrder === "centroid";
  const val = (s) => (byDist ? s.distance : s.attribution);
  return [...segments].sort((a, b) => {
    const va = val(a), vb = val(b);
    if (va === null || vb === null) {
      if (va !== vb) return va === null ? 1 : -1;
    } else if (va !== vb) {
      return byDist ? va - vb : vb - va;
    }
    return (a.image - b.image) || (a.segment - b.segment) || (a.i - b.i);
  });
}

/** The largest mean attribution of any model in any cluster (reference bar); 0 if none. */
export function maxMeanAttribution(stats) {
  let best = null;
  for (const c of stats.values()) {
    for (const m of MODELS) if (c.mean[m] !== null) best = best === null ? c.mean[m] : Math.max(best, c.mean[m]);
  }
  return best ?? 0;
}

/**
 * Tiles of one histogram: per bin the first `maxPerBin` segments (in the given order) and how
 * many more there are (§5.1 truncation).
 */
export function histogramStacks(orderedSegments, edges, maxPerBin = 5) {
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
 */
export function locationHeatmap(segments, n = 8) {
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

/** Split one model's segments of a cluster by outcome (§5.3 confusion matrix cells). */
export function confusionSplit(segments) {
  const out = {};
  for (const m of MODELS) out[m] = { TP: [], FN: [], FP: [], TN: [] };
  for (const s of segments) out[s.model][s.outcome].push(s);
  return out;
}

/** Position of atlas cell k: sheet, column, row. */
export function atlasCell(atlas, k) {
  const sheet = Math.floor(k / atlas.per_sheet);
  const r = k % atlas.per_sheet;
  return { sheet, col: r % atlas.cols, row: Math.floor(r / atlas.cols) };
}

/** Rows of a given sheet (the last sheet may be partly filled). */
export function sheetRows(atlas, sheet) {
  const inSheet = Math.min(atlas.per_sheet, atlas.count - sheet * atlas.per_sheet);
  return Math.ceil(inSheet / atlas.cols);
}

/** Number formatting for attributions and scores. */
export function fmtSigned(v, digits = 3) {
  if (!isNum(v)) return "n/a";
  const s = Math.abs(v).toFixed(digits);
  if (Number(s) === 0) return s;
  return v > 0 ? `+${s}` : `−${s}`;
}

export function fmtScore(v) {
  return isNum(v) ? v.toFixed(2) : "n/a";
}

/** Validate a message from the kernel; returns the message or null. */
export function parseIncoming(msg) {
  if (!msg || typeof msg !== "object" || typeof msg.type !== "string") return null;
  if (msg.type === "pong") return { type: "pong", version: Number(msg.version) };
  if (msg.type === "notice") {
    const level = ["info", "warning", "error"].includes(msg.level) ? msg.level : "info";
    return { type: "notice", level, text: String(msg.text ?? "") };
  }
  return null;
}

/** Nice tick values (multiples of 1, 2, 2.5 or 5 x 10^k) inside [lo, hi], about `count` of them. */
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
