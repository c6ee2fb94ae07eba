// The views: concept clusters (§5.2), cluster histogram (§5.1), cluster confusion matrices
// (§5.3) and the source preview (§7.0.1). Each returns a fresh element; app.js wires events.

import { h } from "./dom.js";
import {
  OUTCOMES, orderWithin, histogramStacks, locationHeatmap, confusionSplit, fmtSigned, fmtScore,
  ticks, atlasCell, sheetRows,
} from "./data.js";
import { visibleWindow } from "./virtual.js";
import { explain } from "./glossary.js";
import { clusterMeta, nameLabel, noteLine, clusterActions, editForm, whatIfPanel } from "./clusternotes.js";
import { clusterInfo, unfiltered, significanceBadge, intervalText } from "./findings.js";
import {
  tile, modelChip, chipLabel, outcomeChip, compositionPlot, histogramPlot, meanPlot, heatmapPlot,
} from "./parts.js";

const ROW_LIMIT = 30;     // tiles per model row before "+N more"
const CELL_LIMIT = 24;    // tiles per confusion-matrix cell before "+N"
const TILE = 40, HTILE = 28, CTILE = 30;
const PITCH = TILE + 4 + 3; // tile + border, gap
const VLINES = 5;          // lines an expanded row shows before it scrolls

/** @typedef {import("./state.js").Ctx} Ctx */
/** @typedef {import("./data.js").ClusterStats} ClusterStats */
/** @typedef {import("./types.js").Segment} Segment */

/**
 * `make()` once per derived context (statistics, filters and orders unchanged): sorted rows
 * and heatmaps are reused by a cluster click, a "+N more" or a tab switch.
 * @template T
 * @param {Ctx} ctx
 * @param {string} key
 * @param {() => T} make
 * @returns {T}
 */
function memo(ctx, key, make) {
  if (!ctx.memo) return make();
  if (!ctx.memo.has(key)) ctx.memo.set(key, make());
  return ctx.memo.get(key);
}
/** Cluster `id`'s segments of model `m`, in the within-cluster order. @param {Ctx} ctx @param {number} id @param {string} m */
const sortedRow = (ctx, id, m) => memo(ctx, `row:${id}:${m}`, () => orderWithin(stats(ctx, id).segments[m], ctx.innerOrder));

/**
 * The statistics of a cluster of ctx.order (every one has them).
 * @param {Ctx} ctx
 * @param {number} id
 * @returns {ClusterStats}
 */
function stats(ctx, id) {
  const st = ctx.stats.get(id);
  if (!st) throw new Error(`imacs: no statistics of cluster ${id}`);
  return st;
}

/**
 * Segments whose thumbnails can be shown: all with a kernel, the held ones without.
 * @param {Segment[]} segs
 * @param {Ctx} ctx
 */
function showable(segs, ctx) {
  const held = ctx.pictures;
  return ctx.live || !held ? segs : segs.filter((sg) => held.has("thumbs", sg.i));
}

/** @param {number} n */
function leftOut(n) {
  return n > 0 ? explain(h("span", { class: "imacs-left-out imacs-muted", data: { imacsLeftOut: n }, text: `${n} more not in this report` }), "left_out") : null;
}

/**
 * An expanded row, virtualised: only the tiles of the lines in view (plus one above and
 * below) are in the DOM. `el.imacsRefresh()` re-renders the window (after attaching, on
 * scroll); `ctx.onWindow()` is told after each window so missing tiles can be fetched.
 * @param {Segment[]} segs
 * @param {Ctx} ctx
 */
export function virtualRow(segs, ctx) {
  const win = h("div", { class: "imacs-tiles imacs-vrow-window" });
  const inner = h("div", { class: "imacs-vrow-inner" }, [win]);
  /** @type {HTMLDivElement & {imacsRefresh: () => void}} */
  const el = Object.assign(h("div", { class: "imacs-vrow", data: { imacsVrow: segs.length }, style: { "max-height": `${VLINES * PITCH}px` } }, [inner]), { imacsRefresh: () => {} });
  let last = "";
  el.imacsRefresh = () => {
    const w = visibleWindow({
      count: segs.length, width: (el.clientWidth || 600) - 14, pitch: PITCH, lineHeight: PITCH,
      scrollTop: el.scrollTop, height: el.clientHeight || VLINES * PITCH,
    });
    const key = `${w.start}:${w.end}:${w.perLine}`;
    if (key === last) return;
    last = key;
    inner.style.height = `${w.total}px`;
    win.style.top = `${w.top}px`;
    win.replaceChildren(...segs.slice(w.start, w.end).map((sg) => tile(sg, ctx, TILE)));
    if (ctx.onWindow) ctx.onWindow();
  };
  el.addEventListener("scroll", () => el.imacsRefresh(), { passive: true });
  return el;
}

/**
 * The app's state of names, notes and what-if tests (ctx.ui; none: a view without the app).
 * @param {Ctx} ctx
 * @returns {import("./clusternotes.js").ClusterUi}
 */
function uiOf(ctx) {
  return ctx.ui || { live: false, editing: null, draft: { name: "", note: "" }, running: null, errors: new Map() };
}

/**
 * The kernel's statistics of cluster `id` when the rows may show them (no filter), else null.
 * @param {Ctx} ctx
 * @param {number} id
 */
function shownInfo(ctx, id) {
  return unfiltered(ctx, OUTCOMES.length) ? clusterInfo(ctx.data, id) : null;
}

/** @param {ClusterStats} st @param {number} pos @param {Ctx} ctx */
function clusterTitle(st, pos, ctx) {
  const info = shownInfo(ctx, st.id);
  return h("div", { class: "imacs-cluster-title" }, [
    explain(h("span", { class: "imacs-cluster-name", text: `Cluster ${st.id}` }), "cluster", `cluster ${st.id}, #${pos + 1} in the current order`),
    nameLabel(clusterMeta(ctx.data, st.id), st.id),
    explain(h("span", { class: "imacs-muted", text: `#${pos + 1}` }), "cluster", `cluster ${st.id}, #${pos + 1} in the current order`),
    explain(h("span", { class: "imacs-cluster-meta", text: `${st.size} segment${st.size === 1 ? "" : "s"}` }), "size", `${st.size} segments (${ctx.models.map((m) => `${m} ${st.count[m]}`).join(", ")})`),
    st.one_sided !== null && ctx.models.length >= 2 ? explain(h("span", {
      class: `imacs-badge imacs-badge-${st.one_sided}`, text: `only ${st.one_sided}`,
    }), "one_sided", `only ${ctx.data.modelNames[st.one_sided]}'s segments fall into this cluster${(ctx.allModels || []).length > ctx.models.length ? " among the models shown" : ""}`) : null,
    (ctx.allModels || []).length > 2 ? consensusBadge(st, ctx) : null,
    significanceBadge(info, ctx.data.payload.significance_level),
    ...ctx.models.map((m) => h("span", { class: `imacs-cluster-mean imacs-text-${m}` }, [
      h("span", { class: "imacs-swatch imacs-swatch-" + m, attrs: { "aria-hidden": "true" } }),
      explain(h("span", { text: `${st.count[m]} · mean ${fmtSigned(st.mean_attribution[m])}` }), "mean",
        `${ctx.data.modelNames[m]}: ${st.count[m]} segment${st.count[m] === 1 ? "" : "s"} here, mean attribution ${fmtSigned(st.mean_attribution[m])}`),
      intervalText(info, m, ctx.data.modelNames[m]),
      st.removal && st.removal[m] !== null && st.removal[m] !== undefined ? explain(h("span", {
        class: "imacs-removal", data: { imacsRemoval: m },
        text: ` · removal ${fmtSigned(st.removal[m])}`,
      }), "removal", `${ctx.data.modelNames[m]}'s score for the class falls by ${fmtSigned(st.removal[m])} on average when this cluster's segments are blurred in its images`) : null,
    ])),
  ]);
}

/**
 * The label of a model's row of tiles: its key chip and its full display name (wrapped, never
 * cut), the name in the tooltip too.
 * @param {string} m
 * @param {Ctx} ctx
 */
function rowLabel(m, ctx) {
  const name = ctx.data.modelNames[m] ?? m;
  const rest = chipLabel(m, name);
  return explain(h("div", { class: "imacs-row-label" }, [
    modelChip(m),
    rest ? h("span", { class: "imacs-row-name", text: rest }) : null,
  ]), "model", name);
}

/**
 * "positive for k of n": the models that attribute the cluster positively (summary.consensus).
 * @param {ClusterStats} st
 * @param {Ctx} ctx
 */
function consensusBadge(st, ctx) {
  const c = st.consensus;
  const who = c.models.map((m) => ctx.data.modelNames[m]).join(", ");
  return explain(h("span", { class: "imacs-consensus", data: { imacsConsensus: `${c.n}/${c.of}` } }, [
    h("span", { class: "imacs-muted", text: "positive for " }),
    h("strong", { text: `${c.n} of ${c.of}` }),
    ...c.models.map((m) => h("span", { class: `imacs-swatch imacs-swatch-${m}`, attrs: { "aria-hidden": "true" } })),
  ]), "consensus", c.n ? `${who} attribute${c.n === 1 ? "s" : ""} this cluster positively (their mean ${fmtSigned(c.strength)})` : "no model's mean here is above a quarter of the largest mean of any cluster");
}

/**
 * Concept cluster view (§5.2): one row of tiles per model per cluster + composition/histogram/mean plots.
 * @param {Ctx} ctx
 */
export function conceptView(ctx) {
  const root = h("div", { class: "imacs-view imacs-concept", data: { imacsView: "clusters" } });
  ctx.order.forEach((id, pos) => {
    const st = stats(ctx, id);
    const block = h("div", {
      class: `imacs-cluster${ctx.selected === id ? " imacs-selected" : ""}${notSignificant(ctx, id) ? " imacs-not-significant" : ""}`,
      data: { imacsCluster: id },
      attrs: { tabindex: "0", role: "button", "aria-pressed": ctx.selected === id ? "true" : "false", title: "Click to open this cluster's confusion matrices" },
    });
    const plots = h("div", { class: "imacs-plots" }, [
      compositionPlot(st, ctx), histogramPlot(st, ctx), meanPlot(st, ctx),
      ...ctx.models.map((m) => heatmapPlot(memo(ctx, `heat:${id}:${m}`, () => locationHeatmap(st.segments[m])), m, ctx)),
    ]);
    block.append(h("div", { class: "imacs-cluster-head" }, [clusterTitle(st, pos, ctx), plots]));
    const meta = clusterMeta(ctx.data, id), ui = uiOf(ctx);
    for (const part of [clusterActions(id, ui), noteLine(meta, id), editForm(id, meta, ui), whatIfPanel(meta, id, ctx.data, ui)]) {
      if (part) block.append(part);
    }
    const rows = h("div", { class: "imacs-rows" });
    for (const m of ctx.models) {
      const all = sortedRow(ctx, id, m);
      const segs = showable(all, ctx);
      const expanded = ctx.expanded.has(id) && segs.length > ROW_LIMIT;
      const tiles = expanded ? virtualRow(segs, ctx) : h("div", { class: "imacs-tiles" }, segs.slice(0, ROW_LIMIT).map((sg) => tile(sg, ctx, TILE)));
      const after = expanded ? h("div", { class: "imacs-tiles imacs-vrow-after" }) : tiles;
      if (!all.length) tiles.append(h("span", { class: "imacs-empty", text: `no segments from ${ctx.data.modelNames[m]}'s sample` }));
      if (segs.length > ROW_LIMIT) {
        after.append(explain(h("button", {
          class: "imacs-more", type: "button", data: { imacsMore: id },
          text: expanded ? "show fewer" : `+${segs.length - ROW_LIMIT} more`,
        }), "more", `${segs.length} segments of ${ctx.data.modelNames[m]} here, ${ROW_LIMIT} shown before expanding`));
      }
      const note = leftOut(all.length - segs.length);
      if (note) after.append(note);
      rows.append(h("div", { class: `imacs-row imacs-row-${m}` }, [
        rowLabel(m, ctx), tiles,
        expanded ? after : null,
      ]));
    }
    block.append(rows);
    root.append(block);
  });
  const note = hiddenNote(ctx);
  if (note) root.append(note);
  return root;
}

/**
 * The row is greyed: the kernel says its difference is not significant (no filter active).
 * @param {Ctx} ctx
 * @param {number} id
 */
function notSignificant(ctx, id) {
  const info = shownInfo(ctx, id);
  return info !== null && info.significant === false && typeof info.q_value === "number";
}

/** @param {Ctx} ctx */
function hiddenNote(ctx) {
  if (!ctx.order.length) return h("div", { class: "imacs-empty imacs-pad", text: "No segment matches the outcome and model filters." });
  if (!ctx.hidden) return null;
  return h("div", { class: "imacs-muted imacs-pad", text: `${ctx.hidden} cluster${ctx.hidden === 1 ? " has" : "s have"} no segment matching the filters.` });
}

/**
 * Cluster histogram view (§5.1): per cluster, A stacks up and B stacks down, shared x scale.
 * @param {Ctx} ctx
 * @param {number} [available]  pixels wide
 */
export function histogramView(ctx, available = 0) {
  const edges = ctx.data.edges, nb = edges.length - 1;
  // tiles as large as the width allows (label column 200 px + gap), between 22 and 34 px
  const tileSize = available > 0 ? Math.max(22, Math.min(34, Math.floor((available - 250) / nb) - 4)) : HTILE;
  const colW = tileSize + 4, width = nb * colW;
  /** @param {number} v */
  const x = (v) => ((v - edges[0]) / (edges[nb] - edges[0])) * width;
  const root = h("div", { class: "imacs-view imacs-histview", data: { imacsView: "histogram" } });
  /** @param {string} cls */
  const axis = (cls) => {
    const a = h("div", { class: `imacs-haxis ${cls}`, style: { width: `${width}px` } });
    for (const t of ticks(edges[0], edges[nb], Math.max(2, Math.round(width / 70)))) {
      a.append(h("span", { class: "imacs-tick", style: { left: `${x(t)}px` }, text: t === 0 ? "0" : fmtSigned(t, Math.abs(t) < 0.01 ? 3 : 2) }));
    }
    return h("div", { class: "imacs-hrow imacs-haxis-row" }, [h("div", { class: "imacs-hlabel imacs-muted", text: "attribution →" }), explain(a, "hist_axis", `bins from ${fmtSigned(edges[0])} to ${fmtSigned(edges[nb])}`)]);
  };
  root.append(axis("imacs-haxis-top"));
  ctx.order.forEach((id, pos) => {
    const st = stats(ctx, id);
    const block = h("div", {
      class: `imacs-hcluster${ctx.selected === id ? " imacs-selected" : ""}${notSignificant(ctx, id) ? " imacs-not-significant" : ""}`,
      data: { imacsCluster: id },
      attrs: { tabindex: "0", role: "button", "aria-pressed": ctx.selected === id ? "true" : "false", title: "Click to open this cluster's confusion matrices" },
    });
    const plot = h("div", { class: "imacs-hplot", style: { width: `${width}px` } });
    ctx.models.forEach((m, mi) => {
      const up = mi === 0; // first model stacks up from the axis, the others down
      const ordered = sortedRow(ctx, id, m);
      const full = histogramStacks(ordered, edges, 5);
      const stacks = ctx.live || !ctx.pictures ? full : histogramStacks(showable(ordered, ctx), edges, 5)
        .map((bin, b) => ({ shown: bin.shown, extra: full[b].shown.length + full[b].extra - bin.shown.length }));
      const half = h("div", { class: `imacs-hhalf imacs-hhalf-${up ? "up" : "down"} imacs-hhalf-${m}` }, [
        explain(h("div", { class: `imacs-hside imacs-m-${m}` }, [h("span", { text: m })]), "model", ctx.data.modelNames[m]),
      ]);
      stacks.forEach((bin, b) => {
        const col = h("div", { class: "imacs-hbin", style: { width: `${colW}px` } }, bin.shown.map((sg) => tile(sg, ctx, tileSize, { bar: false })));
        if (bin.extra) col.append(explain(h("div", { class: "imacs-hextra", text: `+${bin.extra}` }), "hist_extra", `${bin.extra} more of ${ctx.data.modelNames[m]}'s segments in ${fmtSigned(edges[b])} .. ${fmtSigned(edges[b + 1])}`));
        half.append(col);
      });
      if (!st.segments[m].length) half.append(h("span", { class: "imacs-empty imacs-hempty", text: `no segments from ${ctx.data.modelNames[m]}'s sample` }));
      if (mi === 1) plot.append(h("div", { class: "imacs-hmid" }));
      plot.append(half);
    });
    if (ctx.models.length === 1) plot.append(h("div", { class: "imacs-hmid" }));
    plot.append(h("div", { class: "imacs-hzero", style: { left: `${x(0)}px` } }));
    const label = h("div", { class: "imacs-hlabel" }, [
      explain(h("div", { class: "imacs-cluster-name", text: `Cluster ${id}` }), "cluster", `cluster ${id}, #${pos + 1} in the current order`),
      nameLabel(clusterMeta(ctx.data, id), id),
      explain(h("div", { class: "imacs-muted", text: `#${pos + 1} · ${st.size} segment${st.size === 1 ? "" : "s"}` }), "size", `#${pos + 1} in the current order; ${st.size} segments (${ctx.models.map((m) => `${m} ${st.count[m]}`).join(", ")})`),
      significanceBadge(shownInfo(ctx, id), ctx.data.payload.significance_level),
      ...ctx.models.map((m) => h("div", { class: "imacs-hmodel" }, [
        explain(modelChip(m), "model", ctx.data.modelNames[m]),
        explain(h("span", { text: `${st.count[m]} · ${fmtSigned(st.mean_attribution[m])}` }), "mean",
          `${ctx.data.modelNames[m]}: ${st.count[m]} segment${st.count[m] === 1 ? "" : "s"} here, mean attribution ${fmtSigned(st.mean_attribution[m])}`),
        intervalText(shownInfo(ctx, id), m, ctx.data.modelNames[m]),
      ])),
    ]);
    block.append(h("div", { class: "imacs-hrow" }, [label, plot]));
    // the note and the computed what-if test, as in the clusters tab (the buttons are there)
    const meta = clusterMeta(ctx.data, id);
    const notes = [noteLine(meta, id), whatIfPanel(meta, id, ctx.data, uiOf(ctx))].filter((x) => x !== null);
    if (notes.length) block.append(h("div", { class: "imacs-hnotes" }, notes));
    root.append(block);
  });
  if (ctx.order.length > 3) root.append(axis("imacs-haxis-bottom"));
  const note = hiddenNote(ctx);
  if (note) root.append(note);
  return root;
}

/**
 * Cluster confusion matrices (§5.3): one 2x2 matrix per shown model, tiles in each cell.
 * @param {ClusterStats} st
 * @param {Ctx} ctx
 */
export function confusionView(st, ctx) {
  const target = String(ctx.data.payload.target_class ?? "");
  const root = h("div", { class: "imacs-confusion", data: { imacsView: "confusion" } });
  root.append(h("div", { class: "imacs-confusion-head" }, [
    explain(h("span", { class: "imacs-cluster-name", text: `Cluster ${st.id} · confusion matrices` }), "confusion", `cluster ${st.id}`),
    h("span", { class: "imacs-muted", text: "each model's own sampled segments, by that model's outcome" }),
    h("button", { class: "imacs-close", type: "button", data: { imacsClose: "1" }, title: "Close", text: "×", attrs: { "aria-label": "Close the confusion matrices" } }),
  ]));
  const split = confusionSplit(Object.values(st.segments).flat(), Object.keys(st.segments));
  const mats = h("div", { class: "imacs-matrices" });
  for (const m of ctx.models) {
    const cells = split[m];
    const grid = explain(h("div", { class: "imacs-matrix-grid" }, [
      h("div", { class: "imacs-mx-corner imacs-muted", text: "actual ↓ / predicted →" }),
      h("div", { class: "imacs-mx-colhead", text: `“${target}”` }),
      h("div", { class: "imacs-mx-colhead", text: "other" }),
      h("div", { class: "imacs-mx-rowhead", text: `“${target}”` }),
      cell(cells.TP, "TP", ctx), cell(cells.FN, "FN", ctx),
      h("div", { class: "imacs-mx-rowhead", text: "other" }),
      cell(cells.FP, "FP", ctx), cell(cells.TN, "TN", ctx),
    ]), "confusion", `${ctx.data.modelNames[m]}'s segments in cluster ${st.id}, by its outcome on their image`);
    mats.append(h("div", { class: `imacs-matrix imacs-matrix-${m}` }, [
      explain(h("div", { class: "imacs-matrix-title" }, [modelChip(m, ctx.data.modelNames[m])]), "confusion", `${ctx.data.modelNames[m]}'s segments in cluster ${st.id}`), grid,
    ]));
  }
  root.append(mats);
  return root;
}

/** @param {Segment[]} segs @param {string} o @param {Ctx} ctx */
function cell(segs, o, ctx) {
  const ordered = orderWithin(segs, ctx.innerOrder);
  const shown = showable(ordered, ctx).slice(0, CELL_LIMIT);
  const tiles = h("div", { class: "imacs-tiles" }, shown.map((sg) => tile(sg, ctx, CTILE)));
  if (ordered.length > shown.length) tiles.append(explain(h("span", { class: "imacs-hextra", text: `+${ordered.length - shown.length}` }), "cell_extra", `${ordered.length - shown.length} more segments in this cell than tiles shown`));
  return h("div", { class: `imacs-mx-cell imacs-o-${o}`, data: { imacsOutcome: o } }, [
    h("div", { class: "imacs-mx-cellhead" }, [outcomeChip(o, segs.length)]), tiles,
  ]);
}

/**
 * Contents of the source preview (§7.0.1) for one segment.
 * @param {Segment} seg
 * @param {Ctx} ctx
 */
export function sourceContent(seg, ctx, maxSide = 200, { withTile = false } = {}) {
  const d = ctx.data, img = d.images[seg.image], atlas = d.payload.sources;
  const held = ctx.pictures ? ctx.pictures.size("sources", seg.image) : null;
  const [w, hgt] = held || (ctx.pictures ? null : atlas.sizes[seg.image]) || [img.width || atlas.cell, img.height || atlas.cell];
  const f = maxSide / Math.max(w, hgt);
  const pic = h("div", { class: `imacs-source-img${held || !ctx.pictures ? "" : " imacs-source-pending"}`, style: { width: `${w * f}px`, height: `${hgt * f}px` } });
  if (ctx.pictures) ctx.pictures.paint(pic, "sources", seg.image, w * f, f);
  else {
    const { sheet, col, row } = atlasCell(atlas, seg.image);
    pic.style.backgroundImage = `var(--imacs-s${sheet})`;
    pic.style.backgroundSize = `${atlas.cols * atlas.cell * f}px ${sheetRows(atlas, sheet) * atlas.cell * f}px`;
    pic.style.backgroundPosition = `${-col * atlas.cell * f}px ${-row * atlas.cell * f}px`;
  }
  const [x0, y0, x1, y1] = seg.box;
  pic.append(h("div", {
    class: `imacs-source-box imacs-m-${seg.model}`,
    style: { left: `${x0 * 100}%`, top: `${y0 * 100}%`, width: `${(x1 - x0) * 100}%`, height: `${(y1 - y0) * 100}%` },
  }));
  /** @param {number} k */
  const cls = (k) => (Number.isInteger(k) && k >= 0 && k < d.classNames.length ? d.classNames[k] : String(k));
  const target = String(d.payload.target_class ?? "");
  /** @param {string} m @param {number} pred @param {number | null} score */
  const predRow = (m, pred, score) => h("tr", {}, [
    h("td", {}, [modelChip(m, d.modelNames[m])]),
    h("td", { text: cls(pred) }),
    h("td", { class: "imacs-num", text: fmtScore(score) }),
  ]);
  return h("div", { class: "imacs-source-inner" }, [
    pic,
    h("div", { class: "imacs-source-info" }, [
      withTile ? h("div", { class: "imacs-source-tile" }, [tile(seg, ctx, 56)]) : null,
      h("div", { class: "imacs-source-title", text: img.datasetIndex === null || img.datasetIndex === undefined
        ? `Image ${img.index} · segment ${seg.segment}`
        : `Image ${img.datasetIndex} of ${d.modelNames[seg.model]} · segment ${seg.segment}` }),
      h("div", {}, [h("span", { class: "imacs-muted", text: "label " }), h("strong", { text: cls(img.label) })]),
      h("table", { class: "imacs-source-table" }, [
        h("thead", {}, [h("tr", {}, [h("th", { text: "model" }), h("th", { text: "prediction" }), h("th", { class: "imacs-num", text: `score “${target}”` })])]),
        h("tbody", {}, d.models.map((m) => predRow(m, img.pred[m], img.score[m]))),
      ]),
      h("div", { class: "imacs-source-seg" }, [
        h("span", { text: `sampled by ${seg.model} as ` }), outcomeChip(seg.outcome),
        h("span", { text: ` · cluster ${seg.cluster} · attribution ${fmtSigned(seg.attribution)} (${seg.model}) · rank ${seg.rank + 1}` }),
      ]),
    ]),
  ]);
}

export { OUTCOMES };
