// Building blocks shared by the views: sprite tiles, small SVG plots, legends.

import { h, s, svgTitle } from "./dom.js";
import { atlasCell, sheetRows, fmtSigned, MODELS } from "./data.js";
import { explain } from "./glossary.js";

/** @typedef {import("./state.js").Ctx} Ctx */
/** @typedef {import("./data.js").ClusterStats} ClusterStats */
/** @typedef {import("./types.js").Atlas} Atlas */

/** @type {Record<string, string>} */
export const OUTCOME_TEXT = {
  TP: "true positive", TN: "true negative", FP: "false positive", FN: "false negative",
};

/**
 * Point an element's background at cell k of an atlas, displayed `w` pixels wide.
 * The sheet URL lives in a CSS custom property on the root (--imacs-<prefix><sheet>), so a
 * thousand tiles share one string.
 * @param {HTMLElement} el
 * @param {Atlas} atlas
 * @param {number} k
 * @param {number} w
 * @param {string} prefix
 */
export function setSprite(el, atlas, k, w, prefix) {
  const { sheet, col, row } = atlasCell(atlas, k);
  const f = w / atlas.cell;
  el.style.backgroundImage = `var(--imacs-${prefix}${sheet})`;
  el.style.backgroundSize = `${atlas.cols * atlas.cell * f}px ${sheetRows(atlas, sheet) * atlas.cell * f}px`;
  el.style.backgroundPosition = `${-col * atlas.cell * f}px ${-row * atlas.cell * f}px`;
}

/**
 * A segment thumbnail: border = outcome, optional signed attribution bar in the model colour.
 * @param {import("./types.js").Segment} seg
 * @param {Ctx} ctx
 * @param {number} size
 */
export function tile(seg, ctx, size, { bar = true } = {}) {
  const img = h("div", { class: "imacs-tile-img", style: { width: `${size}px`, height: `${size}px` } });
  const held = ctx.pictures ? ctx.pictures.paint(img, "thumbs", seg.i, size) : false;
  if (!held && !ctx.pictures) setSprite(img, ctx.data.payload.thumbs, seg.i, size, "t");
  const el = explain(h("div", {
    class: `imacs-tile imacs-o-${seg.outcome} imacs-m-${seg.model}${held || !ctx.pictures ? "" : " imacs-tile-pending"}`,
    data: held || !ctx.pictures ? { imacsTile: seg.i } : { imacsTile: seg.i, imacsPending: size },
    attrs: { "aria-label": `${seg.outcome} segment, model ${seg.model}, attribution ${fmtSigned(seg.attribution)}` },
  }, [img]), bar ? "tile" : "hist_tile", `${OUTCOME_TEXT[seg.outcome] || seg.outcome} for ${ctx.data.modelNames[seg.model] ?? seg.model} (border) · attribution ${fmtSigned(seg.attribution)}${bar ? " (bar)" : ""}`);
  if (bar && seg.attribution !== null) {
    const frac = Math.max(-1, Math.min(1, seg.attribution / ctx.data.maxAbs));
    const fill = h("div", { class: "imacs-bar-fill" });
    fill.style.width = `${Math.abs(frac) * 50}%`;
    fill.style.left = frac >= 0 ? "50%" : `${50 - Math.abs(frac) * 50}%`;
    el.append(h("div", { class: "imacs-bar" }, [fill, h("div", { class: "imacs-bar-zero" })]));
  }
  return el;
}

/** Model chip: coloured square + key, e.g. [■ A]. @param {string} m @param {string} [label] */
export function modelChip(m, label) {
  return h("span", { class: `imacs-chip imacs-chip-${m}` }, [
    h("span", { class: "imacs-swatch", attrs: { "aria-hidden": "true" } }),
    h("span", { class: "imacs-chip-key", text: m }),
    chipLabel(m, label) ? h("span", { class: "imacs-chip-label", text: chipLabel(m, label) }) : null,
  ]);
}

/**
 * What a model chip shows after its key: the display name, without the key when the name
 * already starts with it ("A (clean)" reads "A (clean)", never "A A (clean)").
 * @param {string} m @param {string} [label] @returns {string}
 */
export function chipLabel(m, label) {
  if (!label || label === m) return "";
  return label.startsWith(`${m} `) || label.startsWith(`${m}(`) ? label.slice(m.length).trim() : label;
}

/** Outcome chip: coloured square + outcome (and a count). @param {string} o @param {number} [count] */
export function outcomeChip(o, count) {
  return explain(h("span", { class: `imacs-ochip imacs-o-${o}` }, [
    h("span", { class: "imacs-oswatch", attrs: { "aria-hidden": "true" } }),
    h("span", { text: count === undefined ? o : `${o} ${count}` }),
  ]), count === undefined ? "outcome" : "confusion_cell", count === undefined ? OUTCOME_TEXT[o] : `${count} segment${count === 1 ? "" : "s"} from ${OUTCOME_TEXT[o]}s`);
}

// ---- small plots of the concept-cluster view (§5.2.2) -------------------------------------

const PW = 112, PH = 40;

/**
 * Composition: total (foreground), A and B counts on a scale shared by all clusters.
 * @param {ClusterStats} st
 * @param {Ctx} ctx
 */
export function compositionPlot(st, ctx) {
  /** @type {Array<[string, number]>} */
  const rows = [["total", st.size], ...ctx.models.map((m) => /** @type {[string, number]} */ ([m, st.count[m]]))];
  const bw = PW - 34, rh = Math.min(10, (PH - 2) / rows.length - 2);
  const g = s("svg", { class: "imacs-plot", width: PW, height: PH, viewBox: `0 0 ${PW} ${PH}`, role: "img" });
  explain(g, "size", `${st.size} segments (${ctx.models.map((m) => `${m} ${st.count[m]}`).join(", ")})`);
  rows.forEach(([key, v], k) => {
    const y = 1 + k * (rh + 3);
    const w = ctx.sizeMax ? (bw * v) / ctx.sizeMax : 0;
    g.append(s("rect", { class: key === "total" ? "imacs-fill-fg" : `imacs-fill-${key}`, x: 0, y, width: Math.max(w, v ? 1 : 0), height: rh, rx: 1 }));
    g.append(s("text", { class: "imacs-plot-text", x: w + 3, y: y + rh - 1.5, text: String(v) }));
  });
  return plotBox(g, "size");
}

/**
 * The attribution histograms on the shared bins: two models mirrored (A up, B down); more
 * models one band each, top to bottom.
 * @param {ClusterStats} st
 * @param {Ctx} ctx
 */
export function histogramPlot(st, ctx) {
  const edges = ctx.data.edges, nb = edges.length - 1;
  const g = s("svg", { class: "imacs-plot", width: PW, height: PH, viewBox: `0 0 ${PW} ${PH}`, role: "img" });
  const bw = PW / nb, mirrored = ctx.models.length <= 2;
  const band = mirrored ? PH / 2 : PH / Math.max(1, ctx.models.length);
  const maxC = Math.max(1, ...ctx.models.flatMap((m) => st.histogram[m]));
  explain(g, "histogram", mirrored
    ? `${ctx.models.join(" up, ")} down, bins ${fmtSigned(edges[0])} .. ${fmtSigned(edges[nb])}`
    : `${ctx.models.join(", ")}, top to bottom, bins ${fmtSigned(edges[0])} .. ${fmtSigned(edges[nb])}`);
  ctx.models.forEach((m, mi) => {
    const base = mirrored ? PH / 2 : band * (mi + 1);
    st.histogram[m].forEach((c, b) => {
      if (!c) return;
      const hgt = Math.max(1, ((band - 1) * c) / maxC);
      const y = mirrored && mi === 1 ? base : base - hgt;
      const r = s("rect", { class: `imacs-fill-${m}`, x: b * bw + 0.5, y, width: Math.max(1, bw - 1), height: hgt });
      r.append(svgTitle(`${m}: ${c} in ${fmtSigned(edges[b])} .. ${fmtSigned(edges[b + 1])}`));
      g.append(r);
    });
    if (!mirrored) g.append(s("line", { class: "imacs-axis", x1: 0, x2: PW, y1: base, y2: base }));
  });
  if (mirrored) g.append(s("line", { class: "imacs-axis", x1: 0, x2: PW, y1: PH / 2, y2: PH / 2 }));
  const x0 = ((0 - edges[0]) / (edges[nb] - edges[0])) * PW;
  g.append(s("line", { class: "imacs-zero", x1: x0, x2: x0, y1: 0, y2: PH }));
  return plotBox(g, "attribution");
}

/**
 * Mean attribution per model against the reference bar (largest mean over all clusters).
 * @param {ClusterStats} st
 * @param {Ctx} ctx
 */
export function meanPlot(st, ctx) {
  const [lo, hi] = ctx.meanDomain;
  /** @param {number} v */
  const x = (v) => ((v - lo) / (hi - lo)) * (PW - 2) + 1;
  const g = s("svg", { class: "imacs-plot", width: PW, height: PH, viewBox: `0 0 ${PW} ${PH}`, role: "img" });
  const parts = ctx.models.map((m) => `${m} ${fmtSigned(st.mean_attribution[m])}`);
  explain(g, "mean_plot", `mean attribution ${parts.join(", ")}; reference bar ${fmtSigned(ctx.refMean)}`);
  const mh = Math.min(10, (PH - 9) / Math.max(1, ctx.models.length) - (ctx.models.length > 2 ? 1 : 3));
  const gap = ctx.models.length > 2 ? 1 : 3;
  /** @type {Array<[string, number | null, number]>} */
  const rows = [["ref", ctx.refMean, 4], ...ctx.models.map((m) => /** @type {[string, number | null, number]} */ ([m, st.mean_attribution[m], mh]))];
  let y = 2;
  for (const [key, v, hgt] of rows) {
    if (v !== null) {
      const a = x(Math.min(0, v)), b = x(Math.max(0, v));
      g.append(s("rect", { class: key === "ref" ? "imacs-fill-fg" : `imacs-fill-${key}`, x: a, y, width: Math.max(1, b - a), height: hgt, rx: 1 }));
    }
    y += hgt + (key === "ref" ? 3 : gap);
  }
  g.append(s("line", { class: "imacs-zero", x1: x(0), x2: x(0), y1: 0, y2: PH }));
  return plotBox(g, "mean");
}

/**
 * Location summary (§7.0.2): counts of segment-box centres on an n x n grid of the image.
 * @param {{n: number, counts: number[], max: number}} hm   data.js locationHeatmap
 * @param {string} m
 * @param {Ctx} ctx
 */
export function heatmapPlot(hm, m, ctx, size = 40) {
  const cell = size / hm.n;
  const g = s("svg", { class: "imacs-heat", width: size, height: size, viewBox: `0 0 ${size} ${size}`, role: "img" });
  const total = hm.counts.reduce((a, b) => a + b, 0);
  explain(g, "where", `where ${ctx.data.modelNames[m]}'s ${total} segment${total === 1 ? "" : "s"} of this cluster lie in their images`);
  g.append(s("rect", { class: "imacs-heat-bg", x: 0, y: 0, width: size, height: size }));
  hm.counts.forEach((c, k) => {
    if (!c) return;
    const r = Math.floor(k / hm.n), col = k % hm.n;
    g.append(s("rect", { class: `imacs-fill-${m}`, x: col * cell, y: r * cell, width: cell, height: cell, "fill-opacity": (0.15 + 0.85 * c / hm.max).toFixed(3) }));
  });
  return plotBox(g, `where ${m}`);
}

/** @param {SVGElement} svg @param {string} caption */
function plotBox(svg, caption) {
  return h("div", { class: "imacs-plotbox" }, [svg, h("div", { class: "imacs-caption", text: caption })]);
}

export { MODELS };
