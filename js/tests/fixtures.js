// A small synthetic payload (the shape imacs_widget/widget/payload.py builds; summary.test.js
// checks the shape against a payload Python built) and models on the production host.

import { Model, experimentalFor } from "../../imacs_widget/widget/report_host.js";
import { PAYLOAD_VERSION } from "../src/types.js";
import { fakeKernel } from "./fake_kernel.js";

export function makePayload({ n = 24, clusters = 3, classNames, target = "sunflower", modelNames, models = ["A", "B"], map = false, findings = true, level = 0.05 } = {}) {
  const seg = { model: [], image: [], segment: [], rank: [], cluster: [], outcome: [], attribution: [], by_attribution: [], by_centroid: [], box: [], removal: [] };
  const distance = [];
  const nImages = Math.ceil(n / 4);
  for (let i = 0; i < n; i++) {
    seg.model.push(i % models.length);
    seg.image.push(Math.floor(i / 4));
    seg.segment.push(i % 16);
    seg.rank.push(i % 4);
    seg.cluster.push(i % clusters);
    seg.outcome.push(Math.floor(i / 2) % 4);
    seg.attribution.push(((i % 7) - 3) / 10 + (i % 2 ? 0.05 : 0));
    seg.removal.push(((Math.floor(i / 4) + (i % clusters)) % 5) / 10 - 0.1);
    distance.push((i * 37) % 11 / 10);
    const c = i % 4, r = Math.floor(i / 4) % 4;
    seg.box.push(c * 250, r * 250, c * 250 + 250, r * 250 + 250);
  }
  // positions in Python's order_within of all segments (attribution high first / distance near
  // first, ties by image and segment, then row)
  const positions = (cmp) => {
    const rows = Array.from({ length: n }, (_, i) => i).sort((a, b) => cmp(a, b) || (seg.image[a] - seg.image[b]) || (seg.segment[a] - seg.segment[b]) || (a - b));
    const pos = new Array(n);
    rows.forEach((r, k) => { pos[r] = k; });
    return pos;
  };
  seg.by_attribution = positions((a, b) => seg.attribution[b] - seg.attribution[a]);
  seg.by_centroid = positions((a, b) => distance[a] - distance[b]);
  if (map) { // the segment map: each cluster a tight group along a diagonal (uint16, 0..65535)
    seg.map = [];
    for (let i = 0; i < n; i++) {
      const c = seg.cluster[i], j = Math.floor(i / clusters);
      seg.map.push(Math.round(((c + 0.5) / clusters) * 60000 + (j % 4) * 300), Math.round(((c + 0.5) / clusters) * 60000 + Math.floor(j / 4) * 300));
    }
  }
  const keys = models.map((m) => m.toLowerCase());
  const images = { index: [], label: [], ...Object.fromEntries(keys.flatMap((k) => [[`pred_${k}`, []], [`score_${k}`, []]])), width: [], height: [] };
  for (let j = 0; j < nImages; j++) {
    images.index.push(100 + j); images.label.push(j % 3);
    keys.forEach((k, mi) => {
      images[`pred_${k}`].push((j + (mi === 0 ? 1 : mi - 1)) % 3);
      images[`score_${k}`].push(mi === 0 ? 0.25 : mi === 1 ? 0.75 : 0.5);
    });
    images.width.push(224); images.height.push(224);
  }
  const names = ["baseline", "watermarked", "third", "fourth", "fifth", "sixth", "seventh", "eighth"];
  const atlas = (count, cell) => ({ mime: "image/webp", cell, cols: 4, per_sheet: 16, count, sizes: Array.from({ length: count }, () => [cell, cell]), sheets: Array.from({ length: Math.ceil(count / 16) }, (_, k) => k), ids: Array.from({ length: count }, (_, k) => k) });
  const thumbs = atlas(n, 48), sources = atlas(nImages, 96);
  sources.sheets = sources.sheets.map((k) => k + thumbs.sheets.length);
  return {
    version: PAYLOAD_VERSION,
    class_names: classNames || ["tulip", "daisy", "sunflower"],
    target_class: target,
    classes: [target, "tulip"],
    models: [...models],
    model_names: modelNames || Object.fromEntries(models.map((m, k) => [m, names[k]])),
    accuracy: Object.fromEntries(models.map((m, k) => [m, [0.95, 0.8][k] ?? 0.7])),
    warnings: [],
    sampling: {},
    order: "imbalance",
    inner_order: "attribution",
    n_clusters: clusters,
    n_clusters_range: [1, 10],
    // cluster statistics (engine/statistics.py): cluster 0 significant, the others not
    clusters: Array.from({ length: clusters }, (_, k) => ({
      id: k, significant: k === 0, p_value: k === 0 ? 0.0004 : 0.3 + k / 10, q_value: k === 0 ? 0.0008 : 0.42 + k / 10,
      effect: k === 0 ? 0.09 : 0.01,
      ci: Object.fromEntries(models.map((m, mi) => [m, [0.19 - 0.13 * mi - 0.01 * k, 0.29 - 0.2 * mi + 0.01 * k]])),
      mass: Object.fromEntries(models.map((m, mi) => [m, 0.1 - 0.05 * mi])),
      mass_ci: Object.fromEntries(models.map((m, mi) => [m, [0.05 - 0.05 * mi, 0.15 - 0.05 * mi]])),
      // names and notes (engine/naming.py via result.clusters): none given, none suggested
      name: null, note: "", suggested_name: null, suggested_labels: [], suggested_by: null,
    })),
    // engine/findings.py's records of the significant clusters
    findings: findings ? [{
      rank: 1, cluster: 0, model: models[1], versus: models.filter((m) => m !== models[1]), effect: 0.09,
      q_value: 0.0008, p_value: 0.0004, size: Math.ceil(n / clusters),
      count: Object.fromEntries(models.map((m) => [m, 4])), outcome: "FP",
      mean_attribution: Object.fromEntries(models.map((m) => [m, 0.1])),
      ci: Object.fromEntries(models.map((m) => [m, [0.05, 0.15]])),
      mass: Object.fromEntries(models.map((m) => [m, 0.1])),
      mass_ci: Object.fromEntries(models.map((m) => [m, [0.05, 0.15]])),
      removal: Object.fromEntries(models.map((m) => [m, null])), one_sided: null,
      sentence: `${models[1]} relies on cluster 0 (8 segments, 4 of them ${models[1]}'s, mostly its false positives): mean attribution +0.24 [0.19, 0.29] vs ${models[0]} +0.06 [0.03, 0.09], q < 0.001.`,
    }] : [],
    significance_level: level,  // result.params["significance_level"]
    bin_edges: Array.from({ length: 13 }, (_, k) => -0.3 + (0.65 * k) / 12),
    n_segments: n,
    n_images: nImages,
    static_buffers: 0,
    segments: seg,
    images,
    sanity: Object.fromEntries(models.map((m, k) => [m, k === 1 ? { spearman: 0.91, layers: 0, passed: false } : { spearman: 0.04, layers: 5, passed: true }])),
    class_pictures: Object.fromEntries(models.map((m) => [m, null])),
    faithfulness: Object.fromEntries(models.map((m, k) => [m, { deletion_auc: 0.2 + 0.1 * k, insertion_auc: 0.6 - 0.1 * k, random_auc: 0.35, faithfulness: 0.15 - 0.1 * k, n_images: nImages }])),
    thumbs,
    sources,
  };
}

/** A model on the production host (report_host.js) over `state`. */
export function makeModel(state) {
  return new Model("test-model", { model_name: "AnyModel", model_module: "anywidget", state });
}

/** A fake kernel answering like ImacsWidget (fake_kernel.js). */
export function makeKernel(options = {}) {
  return fakeKernel({ version: PAYLOAD_VERSION, ...options });
}

/** The host's `experimental.invoke` for `model`: to `kernel`, or rejecting (no kernel). */
export function invokeFor(model, kernel = null) {
  return experimentalFor(model, kernel ? kernel.invoke : null).invoke;
}

/** Let timers and promise chains run (fake kernel answers, queued reloads). */
export async function settle(rounds = 5) {
  for (let k = 0; k < rounds; k++) await new Promise((r) => setTimeout(r, 0));
}

export function makeState(payload, extra = {}) {
  return {
    _payload: payload, _images: payload.thumbs.sheets.concat(payload.sources.sheets).map(() => new DataView(new ArrayBuffer(8))),
    _busy: false, n_clusters: payload.n_clusters, target_class: payload.target_class,
    order: "imbalance", inner_order: "attribution", outcomes: ["TP", "TN", "FP", "FN"], models: ["A", "B"],
    selected_cluster: null, view: "clusters", ...extra,
  };
}
