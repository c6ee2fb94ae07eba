// Pure data helpers: decoding, filtering, ordering, binning, summaries. No DOM here.
// The cluster statistics and orders are a port of imacs_widget/engine/summary.py (the one
// definition), pinned by js/tests/summary.test.js against fixtures computed by Python.

import { PAYLOAD_VERSION } from "./types.js";

/** @typedef {import("./types.js").Payload} Payload */
/** @typedef {import("./types.js").Segment} Segment */

export const OUTCOMES = /** @type {const} */ (["TP", "TN", "FP", "FN"]);
export const MODELS = /** @type {const} */ (["A", "B"]);  // the keys of a pair of models
export const MODEL_KEYS = /** @type {const} */ (["A", "B", "C", "D", "E", "F", "G", "H"]);  // up to eight
export const CONSENSUS_FRACTION = 0.25;  // summary.CONSENSUS_FRACTION
export const ORDERS = /** @type {const} */ (["imbalance", "importance", "size"]);
export const INNER_ORDERS = /** @type {const} */ (["attribution", "centroid"]);
export const VIEWS = /** @type {const} */ (["clusters", "histogram", "map"]);

const isNum = (v) => typeof v === "number" && Number.isFinite(v);

const DTYPES = { uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, int32: Int32Array, float64: Float64Array };

/**
 * A column of the payload: a JSON list, or `{dtype, buffer, length}` naming a little-endian
 * typed array in `buffers` (ArrayBuffer / DataView / typed array). Returns an array-like or null.
 */
export function column(ref, buffers) {
  if (Array.isArray(ref)) return ref;
  if (!ref || typeof ref !== "object" || !DTYPES[ref.dtype] || !Number.isInteger(ref.buffer)) return null;
  const buf = Array.isArray(buffers) ? buffers[ref.buffer] : undefined;
  if (!buf) return null;
  const T = DTYPES[ref.dtype];
  const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : ArrayBuffer.isView(buf) ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : null;
  if (!bytes || bytes.byteLength % T.BYTES_PER_ELEMENT) return null;
  const copy = new Uint8Array(bytes.byteLength); // aligned copy
  copy.set(bytes);
  const out = new T(copy.buffer);
  return Number.isInteger(ref.length) && ref.length !== out.length ? null : out;
}

/**
 * Check the payload's shape and decode it into records.
 * @param {any} p
 * @param {Array<ArrayBuffer | DataView>} [buffers]   the buffers the columns name
 * @param {Decoded | null} [reuse]  the previous decode when only the columns re-clustering
 *   changes are new (the widget's `_images` did not change): its records are updated in place
 *   instead of rebuilt (100,000 of them at scale)
 * @returns {{ok: true, data: Decoded} | {ok: false, error: string}}
 */
export function decodePayload(p, buffers = [], reuse = null) {
  if (!p || typeof p !== "object" || !p.segments) return { ok: false, error: "" }; // not loaded yet
  if (p.version !== PAYLOAD_VERSION) {
    return { ok: false, error: `payload version ${p.version} is not ${PAYLOAD_VERSION}; rebuild the front end` };
  }
  const n = p.n_segments;
  const names = ["model", "image", "segment", "rank", "cluster", "outcome", "attribution", "by_attribution", "by_centroid"];
  if (!Number.isInteger(n) || n < 0) return { ok: false, error: "bad n_segments" };
  const s = {};
  for (const c of names) {
    s[c] = column(p.segments[c], buffers);
    if (!s[c] || s[c].length !== n) return { ok: false, error: `segments.${c} has the wrong length` };
  }
  s.box = column(p.segments.box, buffers);
  if (!s.box || s.box.length !== 4 * n) return { ok: false, error: "segments.box has the wrong length" };
  let removal = null; // faithfulness: each row's cluster removal, when the result has it
  if (p.segments.removal !== undefined) {
    removal = column(p.segments.removal, buffers);
    if (!removal || removal.length !== n) return { ok: false, error: "segments.removal has the wrong length" };
  }
  const removalAt = (i) => (removal === null ? undefined : isNum(removal[i]) ? removal[i] : null);
  let map = null; // the segment map, when the result has one: x, y in 0..1
  if (p.segments.map !== undefined) {
    const raw = column(p.segments.map, buffers);
    if (!raw || raw.length !== 2 * n) return { ok: false, error: "segments.map has the wrong length" };
    map = decodeMap(raw);
  }
  const edges = p.bin_edges;
  if (!Array.isArray(edges) || edges.length < 2 || !edges.every(isNum) || edges.some((e, k) => k > 0 && !(e > edges[k - 1]))) {
    return { ok: false, error: "bin_edges must be at least two increasing numbers" };
  }
  const clusterIds = Array.isArray(p.clusters) ? p.clusters.map((c) => c && c.id) : [];
  if (!clusterIds.every(Number.isInteger) || new Set(clusterIds).size !== clusterIds.length) {
    return { ok: false, error: "clusters must list distinct integer ids" };
  }
  const known = new Set(clusterIds);
  const models = p.models;
  if (!Array.isArray(models) || models.length < 2 || models.length > MODEL_KEYS.length || models.some((k, j) => k !== MODEL_KEYS[j])) {
    return { ok: false, error: "models must list the keys A, B, ... of 2 to 8 models" };
  }
  const im = {};
  let m = -1;
  const perModel = models.flatMap((k) => [`pred_${k.toLowerCase()}`, `score_${k.toLowerCase()}`]);
  for (const c of ["index", "label", ...perModel, "width", "height"]) {
    im[c] = column((p.images || {})[c], buffers);
    if (m < 0 && im[c]) m = im[c].length;
    if (!im[c] || im[c].length !== m) return { ok: false, error: `images.${c} has the wrong length` };
  }
  const dsIndex = (p.images || {}).dataset_index === undefined ? null : column(p.images.dataset_index, buffers);
  if (dsIndex !== null && (!dsIndex || dsIndex.length !== m)) return { ok: false, error: "images.dataset_index has the wrong length" };
  if (reuse && reuse.segments.length === n && reuse.images.length === m) {
    for (let i = 0; i < n; i++) {  // only what a re-cluster changes
      if (!known.has(s.cluster[i])) return { ok: false, error: `segment ${i} is in an unlisted cluster` };
    }
    for (let i = 0; i < n; i++) {
      const d = reuse.segments[i];
      d.cluster = s.cluster[i];
      d.byAttribution = s.by_attribution[i];
      d.byCentroid = s.by_centroid[i];
      d.removal = removalAt(i);
    }
    return { ok: true, data: { ...reuse, payload: p, clusterIds, edges: edges.slice(), map: map || reuse.map } };
  }
  /** @type {Segment[]} */
  const segments = new Array(n);
  for (let i = 0; i < n; i++) {
    const img = s.image[i];
    if (!Number.isInteger(img) || img < 0 || img >= m) return { ok: false, error: `segment ${i} refers to a missing image` };
    if (!known.has(s.cluster[i])) return { ok: false, error: `segment ${i} is in an unlisted cluster` };
    if (!(s.model[i] >= 0 && s.model[i] < models.length)) return { ok: false, error: `segment ${i} has an unknown model` };
    const a = s.attribution[i];
    segments[i] = {
      i,
      model: models[s.model[i]],
      image: img,
      segment: s.segment[i],
      rank: s.rank[i],
      cluster: s.cluster[i],
      outcome: OUTCOMES[s.outcome[i]] || "TP",
      attribution: isNum(a) ? a : null,
      byAttribution: s.by_attribution[i],
      byCentroid: s.by_centroid[i],
      removal: removalAt(i),
      box: [s.box[4 * i] / 1000, s.box[4 * i + 1] / 1000, s.box[4 * i + 2] / 1000, s.box[4 * i + 3] / 1000],
    };
  }
  const images = new Array(m);
  for (let j = 0; j < m; j++) {
    const pred = {}, score = {};
    for (const k of models) {
      const l = k.toLowerCase(), v = im[`score_${l}`][j];
      pred[k] = im[`pred_${l}`][j];
      score[k] = isNum(v) ? v : null;
    }
    images[j] = { index: im.index[j], label: im.label[j], pred, score, width: im.width[j], height: im.height[j], datasetIndex: dsIndex ? dsIndex[j] : null };
  }
  let maxAbs = 0;
  for (const d of segments) if (d.attribution !== null) maxAbs = Math.max(maxAbs, Math.abs(d.attribution));
  return {
    ok: true,
    data: {
      payload: p, segments, images, clusterIds, edges: edges.slice(), maxAbs: maxAbs || 1,
      classNames: Array.isArray(p.class_names) ? p.class_names.map(String) : [],
      map,
      models: models.slice(),
      modelNames: Object.fromEntries(models.map((k) => [k, String((p.model_names || {})[k] ?? k)])),
    },
  };
}

/** The segment map from its uint16 column (or a "_map" answer's buffer): Float32Array(2n) in 0..1. */
export function decodeMap(raw) {
  const out = new Float32Array(raw.length);
  for (let k = 0; k < raw.length; k++) out[k] = raw[k] / 65535;
  return out;
}

/**
 * @typedef {Object} Decoded
 * @property {Payload} payload
 * @property {Segment[]} segments
 * @property {Array<Object>} images
 * @property {number[]} clusterIds     every cluster id, in the result's order
 * @property {number[]} edges          the result's attribution bin edges
 * @property {number} maxAbs
 * @property {string[]} classNames
 * @property {Float32Array | null} map  the segment map, x, y (0..1, y up) per segment
 * @property {string[]} models        the model keys ("A", "B", ... up to "H")
 * @property {Object<string, string>} modelNames
 */

// ---- cluster statistics: a port of imacs_widget/engine/summary.py (see its docstring for the
// definitions), checked number by number against js/tests/fixtures/summary_cases.json, which
// scripts/make_js_fixture.py computes with the Python module. Change both or neither.

/**
 * Exactly rounded sum of finite numbers: CPython's math.fsum (Shewchuk's algorithm with the
 * final half-even correction), so every mean has the same bits as in Python.
 */
export function fsum(values) {
  const partials = [];
  for (let x of values) {
    let i = 0;
    for (let y of partials) {
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
  let hi = partials[--n], lo = 0;
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

/** summary.mean_attribution: exact mean of the finite values, null when there are none. */
export function meanAttribution(values) {
  const v = values.filter(isNum);
  return v.length ? fsum(v) / v.length : null;
}

/**
 * Bin of value v (summary.histogram: edges[k] <= v < edges[k + 1], the last bin closed, values
 * outside fall into the first / last bin). Returns -1 for missing values.
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

/** summary.histogram of segments' attributions on the shared edges. */
export function histogram(segments, edges) {
  const counts = new Array(edges.length - 1).fill(0);
  for (const s of segments) {
    const b = binIndex(edges, s.attribution);
    if (b >= 0) counts[b] += 1;
  }
  return counts;
}

/** summary.filter_segments: segments whose outcome and model are among the shown ones. */
export function filterSegments(segments, outcomes, models) {
  const o = new Set(outcomes), m = new Set(models);
  return segments.filter((s) => o.has(s.outcome) && m.has(s.model));
}

/**
 * summary.summarize_clusters of the given segments, one entry per cluster id (plus the
 * segments of each model, for the views).
 * @returns {Map<number, ClusterStats>}
 */
export function clusterStats(segments, clusterIds, edges, models = MODELS) {
  const perModel = (f) => Object.fromEntries(models.map((m) => [m, f(m)]));
  const by = new Map(clusterIds.map((id) => [id, perModel(() => [])]));
  for (const s of segments) {
    const g = by.get(s.cluster);
    if (g && g[s.model]) g[s.model].push(s);
  }
  const out = new Map();
  for (const [id, g] of by) {
    const means = perModel((m) => meanAttribution(g[m].map((s) => s.attribution)));
    const present = models.filter((m) => means[m] !== null);
    const vals = present.map((m) => means[m]);
    const outcomes = perModel((m) => {
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
      consensus: null,
      removal: perModel((m) => removalMean(g[m])),
      segments: g,
    });
  }
  const ref = maxMeanAttribution(out);
  for (const c of out.values()) c.consensus = consensus(c.mean_attribution, ref);
  return out;
}

/** summary._removal: mean cluster removal over the distinct images of one model's segments
 * (first row of each image in table order); null without the column or segments. */
export function removalMean(segs) {
  if (!segs.length || segs[0].removal === undefined) return null;
  const first = new Map();
  for (const s of segs) {
    const f = first.get(s.image);
    if (f === undefined || s.i < f.i) first.set(s.image, s);
  }
  return meanAttribution([...first.values()].map((s) => s.removal));
}

/** summary.consensus: the models whose mean exceeds CONSENSUS_FRACTION of the reference bar. */
export function consensus(means, reference) {
  const cut = CONSENSUS_FRACTION * reference;
  const pos = Object.keys(means).filter((m) => means[m] !== null && reference > 0 && means[m] > cut);
  return { models: pos, n: pos.length, of: Object.keys(means).length, strength: pos.length ? fsum(pos.map((m) => means[m])) / pos.length : null };
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

/** summary._order_key, behind "empty clusters last". */
function orderKey(c, order) {
  const head = c.size === 0 ? 1 : 0;
  if (order === "size") return [head, -c.size, c.id];
  if (order === "importance") {
    const v = c.importance;
    return [head, v === null ? 1 : 0, v === null ? 0 : -v, c.id];
  }
  if (c.one_sided !== null) return [head, 0, -Math.abs(c.mean_attribution[c.one_sided]), c.id];
  if (c.imbalance !== null) return [head, 1, -c.imbalance, c.id];
  return [head, 2, 0, c.id];
}

function compareKeys(a, b) {
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  return 0;
}

/** summary.order_clusters: cluster ids by `order` (unknown orders: "imbalance"). */
export function orderClusters(stats, order) {
  const key = ORDERS.includes(order) ? order : "imbalance";
  return [...stats.values()].map((c) => [orderKey(c, key), c.id]).sort((a, b) => compareKeys(a[0], b[0])).map((e) => e[1]);
}

/**
 * summary.order_within: segments in display order. The payload carries each segment's position
 * in Python's order of all segments; the order of any subset is that order restricted to it.
 */
export function orderWithin(segments, innerOrder) {
  const key = innerOrder === "centroid" ? "byCentroid" : "byAttribution";
  return [...segments].sort((a, b) => a[key] - b[key]);
}

/** summary.max_mean_attribution: the largest mean of any model in any cluster; 0 if none. */
export function maxMeanAttribution(stats) {
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
export function confusionSplit(segments, models = MODELS) {
  const out = {};
  for (const m of models) out[m] = { TP: [], FN: [], FP: [], TN: [] };
  for (const s of segments) if (out[s.model]) out[s.model][s.outcome].push(s);
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

/**
 * Validate a command's answer from the kernel (ImacsWidget: {"ok": bool, "error"?: str, ...}).
 * @returns {{ok: boolean, error: string | null}}
 */
export function parseAnswer(answer) {
  if (!answer || typeof answer !== "object" || typeof answer.ok !== "boolean") {
    return { ok: false, error: "the kernel sent a malformed answer" };
  }
  return { ok: answer.ok, error: answer.ok ? null : String(answer.error ?? "the kernel refused") };
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
