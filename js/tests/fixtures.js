// A small synthetic payload (same shape as imacs_widget/payload.py builds) and a fake model.

export function makePayload({ n = 24, clusters = 3, classNames, target = "sunflower", modelNames } = {}) {
  const seg = { model: [], image: [], segment: [], rank: [], cluster: [], outcome: [], attribution: [], centroid_distance: [], box: [] };
  const nImages = Math.ceil(n / 4);
  for (let i = 0; i < n; i++) {
    seg.model.push(i % 2);
    seg.image.push(Math.floor(i / 4));
    seg.segment.push(i % 16);
    seg.rank.push(i % 4);
    seg.cluster.push(i % clusters);
    seg.outcome.push(Math.floor(i / 2) % 4);
    seg.attribution.push(((i % 7) - 3) / 10 + (i % 2 ? 0.05 : 0));
    seg.centroid_distance.push((i * 37) % 11 / 10);
    const c = i % 4, r = Math.floor(i / 4) % 4;
    seg.box.push(c * 250, r * 250, c * 250 + 250, r * 250 + 250);
  }
  const images = { index: [], label: [], pred_a: [], pred_b: [], score_a: [], score_b: [], width: [], height: [] };
  for (let j = 0; j < nImages; j++) {
    images.index.push(100 + j); images.label.push(j % 3); images.pred_a.push((j + 1) % 3); images.pred_b.push(j % 3);
    images.score_a.push(0.25); images.score_b.push(0.75); images.width.push(224); images.height.push(224);
  }
  const atlas = (count, cell) => ({ mime: "image/webp", cell, cols: 4, per_sheet: 16, count, sizes: Array.from({ length: count }, () => [cell, cell]), sheets: Array.from({ length: Math.ceil(count / 16) }, (_, k) => k) });
  const thumbs = atlas(n, 48), sources = atlas(nImages, 96);
  sources.sheets = sources.sheets.map((k) => k + thumbs.sheets.length);
  return {
    version: 1,
    class_names: classNames || ["tulip", "daisy", "sunflower"],
    target_class: target,
    classes: [target, "tulip"],
    model_names: modelNames || { A: "baseline", B: "watermarked" },
    accuracy: { A: 0.95, B: 0.8 },
    warnings: [],
    sampling: {},
    order: "imbalance",
    inner_order: "attribution",
    n_clusters: clusters,
    n_clusters_range: [2, 10],
    clusters: Array.from({ length: clusters }, (_, k) => ({ id: k })),
    bin_edges: Array.from({ length: 13 }, (_, k) => -0.3 + (0.65 * k) / 12),
    n_segments: n,
    segments: seg,
    images,
    thumbs,
    sources,
  };
}

export class FakeModel {
  constructor(state, { live = false } = {}) {
    this.state = state; this.handlers = {}; this.sent = []; this.saves = 0; this.live = live;
  }
  get(k) { return this.state[k]; }
  set(k, v) { this.state[k] = v; this.emit(`change:${k}`, [this, v]); }
  save_changes() { this.saves += 1; }
  send(msg) {
    this.sent.push(msg);
    if (this.live && msg.type === "ping") this.emit("msg:custom", [{ type: "pong", version: 1 }]);
  }
  on(n, cb) { (this.handlers[n] = this.handlers[n] || []).push(cb); }
  off(n, cb) { this.handlers[n] = (this.handlers[n] || []).filter((h) => h !== cb); }
  emit(n, args) { (this.handlers[n] || []).forEach((h) => h(...args)); }
}

export function makeState(payload, extra = {}) {
  return {
    _payload: payload, _images: payload.thumbs.sheets.concat(payload.sources.sheets).map(() => new DataView(new ArrayBuffer(8))),
    _busy: false, n_clusters: payload.n_clusters, target_class: payload.target_class,
    order: "imbalance", inner_order: "attribution", outcomes: ["TP", "TN", "FP", "FN"], models: ["A", "B"],
    selected_cluster: null, view: "clusters", ...extra,
  };
}
