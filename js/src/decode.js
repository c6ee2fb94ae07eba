// Decoding the payload: its typed-array columns (binary buffers, or JSON lists in the static
// fixture) into records the views read, checked on the way (anything may arrive from the kernel
// or from embedded state). No DOM here. The shape: types.js (imacs_widget/widget/payload.py).

import { PAYLOAD_VERSION, OUTCOMES, MODEL_KEYS, BOX_SCALE, MAP_SCALE } from "./protocol.js";

/** @typedef {import("./types.js").Payload} Payload */
/** @typedef {import("./types.js").Segment} Segment */

/** A finite number. @param {any} v @returns {v is number} */
export const isNum = (v) => typeof v === "number" && Number.isFinite(v);

const DTYPES = { uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, int32: Int32Array, float64: Float64Array };

/**
 * A column of the payload: a JSON list, or `{dtype, buffer, length}` naming a little-endian
 * typed array in `buffers` (ArrayBuffer / DataView / typed array). Returns an array-like or null.
 * Untrusted input: the values are checked where they are used.
 * @param {any} ref
 * @param {any[]} [buffers]
 * @returns {ArrayLike<any> | null}
 */
export function column(ref, buffers) {
  if (Array.isArray(ref)) return ref;
  // own keys only: a dtype such as "constructor" must not reach Object's prototype
  if (!ref || typeof ref !== "object" || !Object.prototype.hasOwnProperty.call(DTYPES, ref.dtype) || !Number.isInteger(ref.buffer)) return null;
  const buf = Array.isArray(buffers) ? buffers[ref.buffer] : undefined;
  if (!buf) return null;
  const T = DTYPES[/** @type {keyof typeof DTYPES} */ (ref.dtype)];
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
  /** @type {Record<string, ArrayLike<any>>} */
  const s = {};
  for (const c of names) {
    const values = column(p.segments[c], buffers);
    if (!values || values.length !== n) return { ok: false, error: `segments.${c} has the wrong length` };
    s[c] = values;
  }
  const box = column(p.segments.box, buffers);
  if (!box || box.length !== 4 * n) return { ok: false, error: "segments.box has the wrong length" };
  s.box = box;
  /** @type {ArrayLike<any> | null} */
  let removal = null; // faithfulness: each row's cluster removal, when the result has it
  if (p.segments.removal !== undefined) {
    removal = column(p.segments.removal, buffers);
    if (!removal || removal.length !== n) return { ok: false, error: "segments.removal has the wrong length" };
  }
  /** @type {(i: number) => number | null | undefined} */
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
  /** @type {number[]} */
  const clusterIds = Array.isArray(p.clusters) ? p.clusters.map((/** @type {any} */ c) => c && c.id) : [];
  if (!clusterIds.every(Number.isInteger) || new Set(clusterIds).size !== clusterIds.length) {
    return { ok: false, error: "clusters must list distinct integer ids" };
  }
  const known = new Set(clusterIds);
  /** @type {import("./types.js").ModelKey[]} */
  const models = p.models;
  if (!Array.isArray(models) || models.length < 2 || models.length > MODEL_KEYS.length || models.some((k, j) => k !== MODEL_KEYS[j])) {
    return { ok: false, error: "models must list the keys A, B, ... of 2 to 8 models" };
  }
  /** @type {Record<string, ArrayLike<any>>} */
  const im = {};
  let m = -1;
  const perModel = models.flatMap((k) => [`pred_${k.toLowerCase()}`, `score_${k.toLowerCase()}`]);
  for (const c of ["index", "label", ...perModel, "width", "height"]) {
    const values = column((p.images || {})[c], buffers);
    if (m < 0 && values) m = values.length;
    if (!values || values.length !== m) return { ok: false, error: `images.${c} has the wrong length` };
    im[c] = values;
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
      box: [s.box[4 * i] / BOX_SCALE, s.box[4 * i + 1] / BOX_SCALE, s.box[4 * i + 2] / BOX_SCALE, s.box[4 * i + 3] / BOX_SCALE],
    };
  }
  /** @type {DecodedImage[]} */
  const images = new Array(m);
  for (let j = 0; j < m; j++) {
    /** @type {Record<string, number>} */
    const pred = {};
    /** @type {Record<string, number | null>} */
    const score = {};
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

/**
 * The segment map from its uint16 column (or a "_map" answer's buffer): Float32Array(2n) in 0..1.
 * @param {ArrayLike<number>} raw
 */
export function decodeMap(raw) {
  const out = new Float32Array(raw.length);
  for (let k = 0; k < raw.length; k++) out[k] = raw[k] / MAP_SCALE;
  return out;
}

/**
 * One source image, decoded.
 * @typedef {Object} DecodedImage
 * @property {number} index           image_index into the user's images
 * @property {number} label           true class id
 * @property {Record<string, number>} pred          each model's predicted class id
 * @property {Record<string, number | null>} score  each model's score for the class of interest
 * @property {number} width
 * @property {number} height
 * @property {number | null} datasetIndex   compare_datasets: the index in its own dataset
 */

/**
 * @typedef {Object} Decoded
 * @property {Payload} payload
 * @property {Segment[]} segments
 * @property {DecodedImage[]} images
 * @property {number[]} clusterIds     every cluster id, in the result's order
 * @property {number[]} edges          the result's attribution bin edges
 * @property {number} maxAbs
 * @property {string[]} classNames
 * @property {Float32Array | null} map  the segment map, x, y (0..1, y up) per segment
 * @property {import("./types.js").ModelKey[]} models   the model keys ("A", "B", ... up to "H")
 * @property {Object<string, string>} modelNames
 */
