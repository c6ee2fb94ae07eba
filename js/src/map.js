// The segment map: every segment at a 2-D projection of its embedding (engine/projection.py),
// drawn on one canvas (pixels written into an ImageData, not one DOM node per point), coloured
// by cluster, model or attribution. Hover finds the nearest point through a grid index; a drag
// draws a lasso that selects the points inside it (the `selection` trait); a click on a point
// selects its cluster. Points the filters hide stay as faint context; with a selection or an
// opened cluster the other points fade.

import { h } from "./dom.js";
import { fmtSigned } from "./data.js";
import { explain } from "./glossary.js";
import { clusterMeta, nameLabel } from "./clusternotes.js";

import { MAP_COLORS } from "./protocol.js";

export { MAP_COLORS };
/** @typedef {import("./state.js").Ctx} Ctx */
/** @typedef {Ctx & {map: Float32Array | null, rootEl?: HTMLElement}} MapCtx  the view data with the map */
/** @typedef {[number, number, number]} RGB */

const COLOR_TEXT = { cluster: "cluster", model: "model", attribution: "attribution" };
// Paul Tol's muted palette (colour-blind safe), then repeated for more clusters
const CLUSTER_PALETTE = ["#332288", "#88ccee", "#44aa99", "#117733", "#999933", "#ddcc77", "#cc6677", "#882255", "#aa4499", "#6699cc", "#aa7744", "#555555"];
/** @type {Record<string, string>} */
const MODEL_FALLBACK = { A: "#0072b2", B: "#e69f00", C: "#009e73", D: "#cc79a7", E: "#56b4e9", F: "#d55e00", G: "#f0e442", H: "#444444" };
const PAD = 8, HOVER_PX = 6, CELL = 8;

/** @type {CanvasRenderingContext2D | null | false} a 2-D context that parses CSS colours (false: none) */
let probe = null;
/**
 * [r, g, b] of a CSS colour (any syntax the browser knows; #rrggbb without a canvas).
 * @param {string | undefined} s
 * @param {RGB} [fallback]
 * @returns {RGB}
 */
const hex = (s, fallback = [136, 136, 136]) => {
  let v = String(s || "").trim();
  if (!v) return fallback;
  if (!/^#[0-9a-f]{6}$/i.test(v) && typeof document !== "undefined") {
    if (probe === null) probe = document.createElement("canvas").getContext?.("2d") || false;
    if (probe) { probe.fillStyle = "#000000"; probe.fillStyle = v; v = String(probe.fillStyle); }
  }
  const m = /^#([0-9a-f]{6})$/i.exec(v);
  if (m) { const n = parseInt(m[1], 16); return [(n >> 16) & 255, (n >> 8) & 255, n & 255]; }
  const r = /rgba?\(\s*(\d+)[,\s]+(\d+)[,\s]+(\d+)/i.exec(v);
  return r ? [Number(r[1]), Number(r[2]), Number(r[3])] : fallback;
};

/**
 * Canvas pixel of every point: `Float32Array(2n)` x, y (0..1, y up) → pixels, aspect kept.
 * @param {ArrayLike<number>} xy
 * @param {number} width
 * @param {number} height
 */
export function mapPixels(xy, width, height) {
  const n = xy.length / 2, side = Math.max(1, Math.min(width, height) - 2 * PAD);
  const ox = (width - side) / 2, oy = (height - side) / 2;
  const px = new Float32Array(n), py = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    px[i] = ox + xy[2 * i] * side;
    py[i] = oy + (1 - xy[2 * i + 1]) * side;
  }
  return { px, py };
}

/**
 * Indices (of `candidates`) whose pixel lies inside the polygon `poly` ([[x, y], ...]).
 * @param {ArrayLike<number>} px
 * @param {ArrayLike<number>} py
 * @param {Iterable<number>} candidates
 * @param {Array<[number, number]>} poly
 * @returns {number[]}
 */
export function pointsInPolygon(px, py, candidates, poly) {
  if (poly.length < 3) return [];
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const [x, y] of poly) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); }
  const out = [];
  for (const i of candidates) {
    const x = px[i], y = py[i];
    if (x < x0 || x > x1 || y < y0 || y > y1) continue;
    let inside = false;
    for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
      const [xa, ya] = poly[a], [xb, yb] = poly[b];
      if ((ya > y) !== (yb > y) && x < ((xb - xa) * (y - ya)) / (yb - ya) + xa) inside = !inside;
    }
    if (inside) out.push(i);
  }
  return out;
}

/**
 * A grid index of the points `ids` for nearest-point lookups.
 * @param {ArrayLike<number>} px
 * @param {ArrayLike<number>} py
 * @param {Iterable<number>} ids
 */
export function gridIndex(px, py, ids) {
  /** @type {Map<string, number[]>} */
  const cells = new Map();
  for (const i of ids) {
    const key = `${Math.floor(px[i] / CELL)},${Math.floor(py[i] / CELL)}`;
    let c = cells.get(key);
    if (!c) cells.set(key, (c = []));
    c.push(i);
  }
  return {
    /** The point nearest (x, y) within `radius` pixels, or -1. @param {number} x @param {number} y */
    nearest(x, y, radius = HOVER_PX) {
      let best = -1, bd = radius * radius;
      const cx = Math.floor(x / CELL), cy = Math.floor(y / CELL), r = Math.ceil(radius / CELL);
      for (let gx = cx - r; gx <= cx + r; gx++) {
        for (let gy = cy - r; gy <= cy + r; gy++) {
          for (const i of cells.get(`${gx},${gy}`) || []) {
            const d = (px[i] - x) ** 2 + (py[i] - y) ** 2;
            if (d <= bd) { bd = d; best = i; }
          }
        }
      }
      return best;
    },
  };
}

/**
 * The RGB colour of every segment under `colorBy`.
 * @param {Ctx} ctx
 * @param {string} colorBy
 * @param {(name: string) => string} css   a CSS custom property's value
 */
function colours(ctx, colorBy, css) {
  const segs = ctx.data.segments, n = segs.length;
  const out = new Uint8Array(3 * n);
  /** @type {Record<string, RGB>} */
  const modelRgb = {};
  for (const m of ctx.allModels || ctx.data.models) modelRgb[m] = hex(css(`--imacs-${m.toLowerCase()}`), hex(MODEL_FALLBACK[m]));
  const pal = CLUSTER_PALETTE.map((c) => hex(c));
  const neg = hex("#2166ac"), mid = hex("#d9d9d9"), pos = hex("#b2182b");
  const maxAbs = ctx.data.maxAbs || 1;
  for (let i = 0; i < n; i++) {
    const s = segs[i];
    /** @type {number[]} */
    let c;
    if (colorBy === "model") c = modelRgb[s.model] || mid;
    else if (colorBy === "attribution") {
      const t = s.attribution === null ? 0 : Math.max(-1, Math.min(1, s.attribution / maxAbs));
      const end = t < 0 ? neg : pos, f = Math.abs(t);
      c = [0, 1, 2].map((k) => Math.round(mid[k] + (end[k] - mid[k]) * f));
    } else c = pal[s.cluster % pal.length];
    out[3 * i] = c[0]; out[3 * i + 1] = c[1]; out[3 * i + 2] = c[2];
  }
  return out;
}

/**
 * Draw the points into `canvas` (ImageData). `strong`: a Set of the points drawn at full
 * colour (the rest fade into the background); `order`: drawing order (strong ones last).
 * Returns the milliseconds it took.
 * @param {HTMLCanvasElement} canvas
 * @param {Float32Array} px
 * @param {Float32Array} py
 * @param {Uint8Array} rgb
 * @param {Set<number>} strong
 * @param {RGB} background
 */
function draw(canvas, px, py, rgb, strong, background) {
  const t0 = performance.now();
  const g = canvas.getContext && canvas.getContext("2d");
  if (!g) return 0; // no canvas (jsdom): the DOM and the selection logic still work
  const w = canvas.width, hgt = canvas.height, n = px.length;
  const img = g.createImageData(w, hgt), d = img.data;
  const [br, bg, bb] = background;
  for (let k = 0; k < d.length; k += 4) { d[k] = br; d[k + 1] = bg; d[k + 2] = bb; d[k + 3] = 255; }
  const size = n > 20000 ? 2 : n > 2000 ? 3 : 5;
  /** @param {number} i @param {boolean} fade */
  const put = (i, fade) => {
    const x0 = Math.round(px[i]) - (size >> 1), y0 = Math.round(py[i]) - (size >> 1);
    let r = rgb[3 * i], gg = rgb[3 * i + 1], b = rgb[3 * i + 2];
    if (fade) { r = (r + 3 * br) / 4; gg = (gg + 3 * bg) / 4; b = (b + 3 * bb) / 4; }
    for (let dy = 0; dy < size; dy++) {
      const y = y0 + dy;
      if (y < 0 || y >= hgt) continue;
      for (let dx = 0; dx < size; dx++) {
        const x = x0 + dx;
        if (x < 0 || x >= w) continue;
        const o = 4 * (y * w + x);
        d[o] = r; d[o + 1] = gg; d[o + 2] = b;
      }
    }
  };
  for (let i = 0; i < n; i++) if (!strong.has(i)) put(i, true);
  for (const i of strong) put(i, false);
  g.putImageData(img, 0, 0);
  return performance.now() - t0;
}

/**
 * The map view.
 * @param {MapCtx} ctx        deriveContext()'s view data; ctx.map: Float32Array(2n) or null
 * @param {Object} opt
 * @param {number} opt.width   pixels available
 * @param {string} opt.colorBy one of MAP_COLORS
 * @param {(v: string) => void} opt.onColor
 * @param {(rows: number[]) => void} opt.onSelect     a lasso closed (rows, ascending)
 * @param {(i: number) => void} opt.onPick            a click on point i
 * @param {(i: number, rect: {left: number, top: number, right: number, bottom: number}) => void} opt.onHover
 * @param {() => void} opt.onLeave
 * @param {string} opt.note    shown instead of the canvas when there is no map yet
 * @param {(() => void) | null} [opt.onRetry]  a "retry" button next to the note
 */
export function mapView(ctx, opt) {
  const root = h("div", { class: "imacs-view imacs-mapview", data: { imacsView: "map" } });
  const select = h("select", { class: "imacs-select", data: { imacsControl: "map-color" }, attrs: { "aria-label": "colour points by" } },
    MAP_COLORS.map((c) => h("option", { value: c, text: COLOR_TEXT[c] })));
  select.value = opt.colorBy;
  select.addEventListener("change", () => opt.onColor(select.value));
  const nSel = ctx.selection ? ctx.selection.size : 0;
  const bar = h("div", { class: "imacs-map-bar" }, [
    h("span", { class: "imacs-field-label", text: "Colour by" }), select,
    explain(h("span", { class: "imacs-muted", data: { imacsMapCount: nSel }, text: nSel ? `${nSel} segment${nSel === 1 ? "" : "s"} selected: the cluster views show only these` : "drag a lasso around points to select them; click a point to open its cluster" }), "map_count"),
    nSel ? h("button", { class: "imacs-more", type: "button", data: { imacsMapClear: "1" }, text: "clear selection", onclick: () => opt.onSelect([]) }) : null,
  ]);
  root.append(bar);
  if (!ctx.map) {
    root.append(h("div", { class: "imacs-empty imacs-pad", data: { imacsMapNote: "1" } }, [
      h("span", { text: opt.note }),
      opt.onRetry ? h("button", { class: "imacs-more", type: "button", data: { imacsMapRetry: "1" }, text: "retry", onclick: opt.onRetry }) : null,
    ]));
    return root;
  }
  const width = Math.max(240, Math.floor(opt.width || 720) - 200);
  const height = Math.max(240, Math.min(560, Math.round(width * 0.62)));
  const canvas = h("canvas", { class: "imacs-map-canvas", data: { imacsMapCanvas: ctx.data.segments.length }, attrs: { width: String(width), height: String(height), role: "img", "aria-label": `segment map of ${ctx.data.segments.length} segments` } });
  const lasso = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  lasso.setAttribute("class", "imacs-map-lasso");
  lasso.setAttribute("width", String(width));
  lasso.setAttribute("height", String(height));
  const path = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  lasso.append(path);
  const stage = explain(h("div", { class: "imacs-map-stage", style: { width: `${width}px`, height: `${height}px` } }, [canvas, lasso]), "map", `${ctx.data.segments.length} segments`);

  const { px, py } = mapPixels(ctx.map, width, height);
  const base = ctx.base.map((s) => s.i);          // shown by the outcome / model filters
  const shownIds = ctx.shown.map((s) => s.i);     // ... and by the selection
  const strong = new Set(ctx.selected !== null ? shownIds.filter((i) => ctx.data.segments[i].cluster === ctx.selected) : shownIds);
  /** @param {string} name */
  const css = (name) => (typeof getComputedStyle === "function" && ctx.rootEl ? getComputedStyle(ctx.rootEl).getPropertyValue(name) : "");
  const rgb = colours(ctx, opt.colorBy, css);
  const ms = draw(canvas, px, py, rgb, strong, hex(css("--imacs-bg"), [255, 255, 255]));
  const grid = gridIndex(px, py, base);
  /** @type {HTMLCanvasElement & {imacsMap?: Object}} */ (canvas).imacsMap = { px, py, drawMs: ms, strong: strong.size,
    /** Client coordinates of point i (tests, benches). @param {number} i */
    point(i) { const r = canvas.getBoundingClientRect(); return { x: r.left + px[i], y: r.top + py[i] }; } };

  // hover, click and lasso
  /** @type {Array<[number, number]> | null} the lasso being drawn */
  let drag = null;
  /** @param {MouseEvent} ev @returns {[number, number]} */
  const local = (ev) => { const r = canvas.getBoundingClientRect(); return [ev.clientX - r.left, ev.clientY - r.top]; };
  canvas.addEventListener("pointerdown", (ev) => {
    drag = [local(ev)];
    if (canvas.setPointerCapture && ev.pointerId !== undefined) { try { canvas.setPointerCapture(ev.pointerId); } catch (e) { /* synthetic events */ } }
    opt.onLeave();
  });
  canvas.addEventListener("pointermove", (ev) => {
    const [x, y] = local(ev);
    if (drag) {
      const [lx, ly] = drag[drag.length - 1];
      if ((x - lx) ** 2 + (y - ly) ** 2 >= 4) drag.push([x, y]);
      path.setAttribute("points", drag.map((p) => p.join(",")).join(" "));
      return;
    }
    const i = grid.nearest(x, y);
    if (i < 0) { opt.onLeave(); return; }
    const r = canvas.getBoundingClientRect();
    opt.onHover(i, { left: r.left + px[i] - 4, top: r.top + py[i] - 4, right: r.left + px[i] + 4, bottom: r.top + py[i] + 4 });
  });
  /** @param {PointerEvent} ev */
  const finish = (ev) => {
    if (!drag) return;
    const pts = drag;
    drag = null;
    path.setAttribute("points", "");
    let span = 0;
    for (const [x, y] of pts) span = Math.max(span, Math.abs(x - pts[0][0]), Math.abs(y - pts[0][1]));
    if (pts.length >= 3 && span > 4) {
      opt.onSelect(pointsInPolygon(px, py, base, pts).sort((a, b) => a - b));
      return;
    }
    const [x, y] = local(ev);
    const i = grid.nearest(x, y);
    if (i >= 0) opt.onPick(i);
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointerleave", () => { if (!drag) opt.onLeave(); });

  root.append(h("div", { class: "imacs-map-body" }, [stage, legend(ctx, opt.colorBy, rgb)]));
  return root;
}

/**
 * The legend: clusters (click opens one), models, or the attribution scale.
 * @param {Ctx} ctx
 * @param {string} colorBy
 * @param {Uint8Array} rgb  every segment's colour
 */
function legend(ctx, colorBy, rgb) {
  const box = h("div", { class: "imacs-map-legend" });
  /** @param {number[]} c */
  const swatch = (c) => h("span", { class: "imacs-swatch", style: { background: `rgb(${c.join(",")})` } });
  /** @type {Map<string | number, number>} the first segment of each key */
  const first = new Map();
  ctx.data.segments.forEach((s, i) => { const k = colorBy === "model" ? s.model : s.cluster; if (!first.has(k)) first.set(k, i); });
  /** @param {number | undefined} i */
  const at = (i) => i === undefined ? [] : [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]];
  if (colorBy === "attribution") {
    box.append(explain(h("div", { class: "imacs-muted", text: `attribution: blue ${fmtSigned(-ctx.data.maxAbs)} · grey 0 · red ${fmtSigned(ctx.data.maxAbs)}` }), "attribution_scale"));
    return box;
  }
  if (colorBy === "model") {
    for (const m of ctx.allModels || ctx.data.models) if (first.has(m)) box.append(explain(h("div", { class: "imacs-map-key" }, [swatch(at(first.get(m))), h("span", { text: `${m} ${ctx.data.modelNames[m]}` })]), "model", `model ${m}: ${ctx.data.modelNames[m]}`));
    return box;
  }
  for (const id of ctx.order) {
    const size = ctx.stats.get(id)?.size ?? 0; // every ordered cluster has its statistics
    // its name: the user's, else the suggestion marked as one (with their own tooltips)
    const name = nameLabel(clusterMeta(ctx.data, id), id);
    box.append(explain(h("div", {
      class: `imacs-map-key imacs-map-cluster${ctx.selected === id ? " imacs-selected" : ""}`,
      data: { imacsCluster: id, imacsMapCluster: id }, attrs: { tabindex: "0", role: "button" },
    }, [
      first.has(id) ? swatch(at(first.get(id))) : null,
      h("span", { class: "imacs-map-key-text" }, [
        h("span", { text: `Cluster ${id} · ${size}` }),
        name ? h("span", { class: "imacs-map-key-name" }, [name]) : null,
      ]),
    ]), "map_legend", `cluster ${id}: ${size} segment${size === 1 ? "" : "s"}; click to highlight its points (and open it in the cluster views)`));
  }
  return box;
}
