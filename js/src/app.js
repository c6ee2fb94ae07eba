// The IMACS widget: state from the model (traits), controls, linked views, hover preview.
// Works with a live kernel (anywidget) and from embedded state without one (static report):
// client-side controls only set model state (traits); kernel-only actions (re-cluster, class
// switch) are commands sent with `experimental.invoke` (see imacs_widget/widget/widget.py and
// types.js) and are enabled once the kernel answers the "_ping" command.

import { h, replace } from "./dom.js";
import {
  decodePayload, filterSegments, clusterStats, orderClusters, maxMeanAttribution,
  OUTCOMES, MODELS, MODEL_KEYS, ORDERS, INNER_ORDERS, VIEWS, parseAnswer, column, decodeMap, fmtSigned,
} from "./data.js";
import { PAYLOAD_VERSION } from "./types.js";
import { mapView, MAP_COLORS } from "./map.js";
import { modelChip, outcomeChip, OUTCOME_TEXT } from "./parts.js";
import { conceptView, histogramView, confusionView, sourceContent } from "./views.js";
import { PictureStore } from "./tiles.js";
import { pagesToFetch } from "./virtual.js";

const ORDER_TEXT = { imbalance: "imbalance |A − B|", importance: "importance", size: "size" };
const ORDER_TEXT_N = { ...ORDER_TEXT, imbalance: "spread of the means (max − min)" };  // 3+ models
const INNER_TEXT = { attribution: "attribution", centroid: "distance to centroid" };
const VIEW_TEXT = { clusters: "Concept clusters", histogram: "Cluster histogram", map: "Segment map" };
const PENDING_TIMEOUT_MS = 120000;
const PAGE_SIZE = 256; // pictures per "_tiles" request (widget.py PAGE_SIZE)

/** Sanitise model state (anything may arrive from the kernel or from embedded state). */
export function readState(model) {
  const pick = (v, allowed, dflt) => (allowed.includes(v) ? v : dflt);
  const subset = (v, allowed) => (Array.isArray(v) ? allowed.filter((x) => v.includes(x)) : [...allowed]);
  const sel = model.get("selected_cluster");
  const lasso = model.get("selection");
  return {
    order: pick(model.get("order"), ORDERS, "imbalance"),
    innerOrder: pick(model.get("inner_order"), INNER_ORDERS, "attribution"),
    outcomes: subset(model.get("outcomes"), OUTCOMES),
    models: subset(model.get("models"), MODEL_KEYS),
    selected: Number.isInteger(sel) ? sel : null,
    view: pick(model.get("view"), VIEWS, "clusters"),
    selection: Array.isArray(lasso) ? lasso.filter(Number.isInteger) : [],
    mapColor: pick(model.get("map_color"), MAP_COLORS, "cluster"),
    targetClass: model.get("target_class"),
    nClusters: model.get("n_clusters"),
    busy: model.get("_busy") === true,
  };
}

/** Derived view data: filtered segments, per-cluster stats, cluster order, shared scales. */
export function deriveContext(data, st, expanded, extra = {}) {
  const all = data.models || MODELS;
  const models = st.models.filter((m) => all.includes(m));
  const base = filterSegments(data.segments, st.outcomes, models);
  // a lasso on the segment map is one more filter: the cluster views show only its segments
  const selection = st.selection && st.selection.length ? new Set(st.selection) : null;
  const shown = selection ? base.filter((s) => selection.has(s.i)) : base;
  const stats = clusterStats(shown, data.clusterIds, data.edges, all);
  const order = orderClusters(stats, st.order).filter((id) => stats.get(id).size > 0);
  let sizeMax = 0, lo = 0, hi = 0;
  for (const id of order) {
    const c = stats.get(id);
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

/**
 * @param {HTMLElement} el
 * @param {any} model           anywidget model (get/set/on/off/save_changes)
 * @param {{invoke?: Function}} [options]  `experimental.invoke(name, msg, {signal})` of the
 *   host; without it (or when it rejects "_ping") there is no kernel
 */
export function createApp(el, model, { invoke = null } = {}) {
  const root = h("div", { class: "imacs-root", attrs: { "data-imacs-root": "" } });
  el.append(root);
  const local = { live: false, kept: null, pending: null, expanded: new Set(), notice: null, data: null, error: null, hoverTimer: 0, lastHover: undefined, destroyed: false, generation: 0, selectionVersion: 0, mapXY: null, mapClass: null, mapPending: false, mapError: null, picturesOpen: true, asked: { thumbs: new Set(), sources: new Set() }, pages: [] };
  const pictures = new PictureStore(root);
  root.imacsPages = local.pages; // pages fetched: {kind, asked, added, ms} (bench, browser tests)
  const disposers = [];
  const requests = new Set(); // AbortControllers of commands in flight

  // ---- skeleton -----------------------------------------------------------------------------
  const header = h("div", { class: "imacs-header" });
  const controls = h("div", { class: "imacs-controls" });
  const noticeBar = h("div", { class: "imacs-notice", attrs: { role: "status" }, hidden: true });
  const tabs = h("div", { class: "imacs-tabs", attrs: { role: "tablist" } });
  const body = h("div", { class: "imacs-body" });
  const busy = h("div", { class: "imacs-busy", hidden: true }, [h("div", { class: "imacs-spinner" }), h("span", { class: "imacs-busy-text", text: "Working…" })]);
  const source = h("div", { class: "imacs-source", data: { imacsView: "source" }, hidden: true, attrs: { role: "tooltip" } });
  root.append(header, controls, noticeBar, tabs, h("div", { class: "imacs-main" }, [body, busy]), source);

  // ---- controls (built once, values refreshed) ------------------------------------------------
  const classSelect = h("select", { class: "imacs-select", data: { imacsControl: "class" }, attrs: { "aria-label": "class of interest" } });
  const nRange = h("input", { class: "imacs-range", type: "range", data: { imacsControl: "n-clusters" }, attrs: { "aria-label": "number of clusters" } });
  const nValue = h("output", { class: "imacs-range-value" });
  const orderSelect = h("select", { class: "imacs-select", data: { imacsControl: "order" }, attrs: { "aria-label": "cluster order" } },
    ORDERS.map((o) => h("option", { value: o, text: ORDER_TEXT[o] })));
  const innerSelect = h("select", { class: "imacs-select", data: { imacsControl: "inner-order" }, attrs: { "aria-label": "order within clusters" } },
    INNER_ORDERS.map((o) => h("option", { value: o, text: INNER_TEXT[o] })));
  const outcomeBoxes = OUTCOMES.map((o) => h("input", { type: "checkbox", value: o, attrs: { "aria-label": OUTCOME_TEXT[o] } }));
  const outcomeGroup = h("div", { class: "imacs-checks", data: { imacsControl: "outcomes" }, attrs: { role: "group", "aria-label": "outcomes shown" } },
    OUTCOMES.map((o, k) => h("label", { class: "imacs-check", title: OUTCOME_TEXT[o] }, [outcomeBoxes[k], outcomeChip(o)])));
  // one checkbox per model of the result (rebuilt when a payload brings other models)
  let modelKeys = [], modelBoxes = [];
  const modelGroup = h("div", { class: "imacs-checks", data: { imacsControl: "models" }, attrs: { role: "group", "aria-label": "models shown" } });
  function buildModelBoxes(keys, names) {
    if (keys.join() === modelKeys.join()) return;
    modelKeys = keys.slice();
    modelBoxes = keys.map((m) => h("input", { type: "checkbox", value: m, attrs: { "aria-label": `model ${m}: ${names[m] ?? m}` } }));
    replace(modelGroup, ...keys.map((m, k) => h("label", { class: "imacs-check", title: names[m] ?? m }, [modelBoxes[k], h("span", { class: `imacs-chip imacs-chip-${m}` }, [h("span", { class: "imacs-swatch" }), h("span", { class: "imacs-chip-key", text: m })])])));
  }
  buildModelBoxes([...MODELS], {});
  const field = (label, ...kids) => h("div", { class: "imacs-field" }, [h("span", { class: "imacs-field-label", text: label }), h("div", { class: "imacs-field-body" }, kids)]);
  controls.append(
    field("Class of interest", classSelect),
    field("Clusters", nRange, nValue),
    field("Order clusters by", orderSelect),
    field("Within a cluster", innerSelect),
    field("Outcomes", outcomeGroup),
    field("Models", modelGroup),
  );

  const tabButtons = VIEWS.map((v) => h("button", { class: "imacs-tab", type: "button", data: { imacsTab: v }, attrs: { role: "tab" }, text: VIEW_TEXT[v] }));
  tabs.append(...tabButtons);

  const setTrait = (name, value) => {
    model.set(name, value);
    try { model.save_changes(); } catch (e) { /* no kernel: state stays local */ }
  };
  /** Send command `name`; resolves with the kernel's answer, rejects without a kernel. */
  const command = (name, msg, timeoutMs = PENDING_TIMEOUT_MS) => send(name, msg, timeoutMs).then((res) => (Array.isArray(res) ? res[0] : res));
  /** Send command `name`; resolves with the host's `[answer, buffers]`. */
  const send = (name, msg, timeoutMs = PENDING_TIMEOUT_MS) => {
    if (typeof invoke !== "function") return Promise.reject(new Error("no kernel"));
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new Error(`no answer in ${timeoutMs / 1000} s`)), timeoutMs);
    requests.add(ctl);
    let sent;
    try { sent = Promise.resolve(invoke(name, msg, { signal: ctl.signal })); } catch (e) { sent = Promise.reject(e); }
    return sent.finally(() => { clearTimeout(timer); requests.delete(ctl); });
  };

  // ---- pictures the payload left out: fetched a page at a time ("_tiles") -------------------
  /** Ask the kernel for the pictures `ids` of `kind` it has not been asked for yet. */
  function fetchPictures(kind, ids) {
    if (!local.live) return;
    const generation = local.generation;
    for (const page of pagesToFetch(ids, (id) => pictures.has(kind, id), local.asked[kind], PAGE_SIZE)) {
      page.forEach((id) => local.asked[kind].add(id));
      const t0 = typeof performance !== "undefined" ? performance.now() : Date.now();
      send("_tiles", { atlas: kind, ids: page }).then((res) => {
        if (local.destroyed || generation !== local.generation) return; // a new payload since
        const [answer, buffers] = Array.isArray(res) ? res : [res, []];
        const a = parseAnswer(answer);
        if (!a.ok || !answer.page) { showNotice("warning", a.error || "the kernel sent no tiles"); return; }
        const added = pictures.add(kind, answer.page, buffers);
        local.pages.push({ kind, asked: page.length, added, ms: (typeof performance !== "undefined" ? performance.now() : Date.now()) - t0 });
        if (kind === "thumbs") paintPending();
        refreshSource();
      }, (err) => {
        if (!local.destroyed) showNotice("error", `tiles: no answer from the kernel (${err && err.message ? err.message : err})`);
      });
    }
  }
  /** Tiles in the DOM still waiting for their picture, in the view shown. */
  function pendingTiles() {
    return [...body.querySelectorAll("[data-imacs-pending]")].filter((el) => !el.closest("[hidden]"));
  }
  function paintPending() {
    for (const el of body.querySelectorAll("[data-imacs-pending]")) {
      const id = Number(el.dataset.imacsTile);
      const img = el.querySelector(".imacs-tile-img");
      if (img && pictures.paint(img, "thumbs", id, Number(el.dataset.imacsPending))) {
        delete el.dataset.imacsPending;
        el.classList.remove("imacs-tile-pending");
      }
    }
  }
  const fetchVisible = () => fetchPictures("thumbs", pendingTiles().map((el) => Number(el.dataset.imacsTile)));
  /** A kernel-only action: busy until the command's answer; a refusal shows a notice. */
  const request = (name, msg, text) => {
    if (!local.live || local.pending !== null) return;
    startPending(text);
    command(name, msg).then((answer) => {
      const a = parseAnswer(answer);
      if (!a.ok) showNotice("warning", a.error);
    }, (err) => {
      if (!local.destroyed) showNotice("error", `${text.replace(/…$/, "")}: no answer from the kernel (${err && err.message ? err.message : err})`);
    }).finally(() => { if (!local.destroyed) endPending(); });
  };

  orderSelect.addEventListener("change", () => setTrait("order", orderSelect.value));
  innerSelect.addEventListener("change", () => setTrait("inner_order", innerSelect.value));
  outcomeGroup.addEventListener("change", () => setTrait("outcomes", OUTCOMES.filter((_, k) => outcomeBoxes[k].checked)));
  modelGroup.addEventListener("change", () => setTrait("models", modelKeys.filter((_, k) => modelBoxes[k].checked)));
  tabButtons.forEach((b, k) => b.addEventListener("click", () => setTrait("view", VIEWS[k])));
  nRange.addEventListener("input", () => { nValue.textContent = nRange.value; });
  nRange.addEventListener("change", () => {
    const n = Number(nRange.value);
    if (!Number.isInteger(n) || n === model.get("n_clusters")) return;
    request("_recluster", { n_clusters: n }, `Re-clustering into ${n} clusters…`);
  });
  classSelect.addEventListener("change", () => {
    const value = classSelect.value;
    if (value === String(model.get("target_class"))) return;
    request("_select_class", { target_class: value }, "Switching class of interest…");
  });

  function startPending(text) {
    local.pending = text;
    renderBusy();
  }
  function endPending() {
    if (local.pending === null) return;
    local.pending = null;
    renderBusy(); // the controls show the traits again (a refused value snaps back)
  }

  function showNotice(level, text) {
    local.notice = text ? { level, text } : null;
    noticeBar.hidden = !local.notice;
    if (local.notice) {
      noticeBar.className = `imacs-notice imacs-notice-${level}`;
      replace(noticeBar, h("span", { text }), h("button", { class: "imacs-close", type: "button", text: "×", title: "Dismiss", onclick: () => showNotice(null, null) }));
    }
  }

  // ---- payload / sprite sheets ----------------------------------------------------------------
  function loadPayload() {
    pictures.clear();
    local.generation += 1;
    local.asked = { thumbs: new Set(), sources: new Set() };
    // _payload's buffers: _images (unchanged by a re-cluster), then _cluster_images
    const list = (name) => { const v = model.get(name); return Array.isArray(v) ? v : []; };
    const kept = model.get("_images");
    const buffers = [...list("_images"), ...list("_cluster_images")];
    // a re-cluster leaves _images as it is: update the previous records instead of rebuilding
    const reuse = local.data && kept && kept === local.kept ? local.data : null;
    const res = decodePayload(model.get("_payload"), buffers, reuse);
    local.kept = res.ok ? kept : null;
    local.ctx = null;
    if (!res.ok) { local.data = null; local.error = res.error; return; }
    local.data = res.data; local.error = null;
    pictures.add("thumbs", res.data.payload.thumbs, buffers);
    pictures.add("sources", res.data.payload.sources, buffers);
  }

  // ---- rendering ------------------------------------------------------------------------------
  function renderHeader(st) {
    const d = local.data;
    if (!d) { replace(header, h("span", { class: "imacs-title", text: "IMACS" })); return; }
    const acc = d.payload.accuracy || {};
    const pct = (v) => (typeof v === "number" ? ` · acc ${(100 * v).toFixed(1)}%` : "");
    replace(header,
      h("div", { class: "imacs-title-group" }, [
        h("span", { class: "imacs-title", text: "IMACS" }),
        h("span", { class: "imacs-subtitle" }, [
          h("span", { class: "imacs-muted", text: "class of interest " }),
          h("strong", { class: "imacs-target", text: String(d.payload.target_class ?? "") }),
          h("span", { class: "imacs-muted", text: ` · ${d.segments.length} segments · ${d.clusterIds.length} clusters` }),
        ]),
      ]),
      h("div", { class: "imacs-legend" }, [
        ...d.models.map((m) => h("span", { class: "imacs-legend-item", title: `model ${m}` }, [modelChip(m, d.modelNames[m]), h("span", { class: "imacs-muted", text: pct(acc[m]) }), faithChip(m), sanityChip(m)])),
        h("span", { class: "imacs-legend-sep" }),
        ...OUTCOMES.map((o) => outcomeChip(o)),
      ]),
    );
    const pictures = classPictures();
    if (pictures) header.append(pictures);
    const failed = d.models.filter((m) => ((d.payload.sanity || {})[m] || {}).passed === false);
    if (failed.length) {
      header.append(h("div", { class: "imacs-sanity-warning", role: "alert", data: { imacsSanityWarning: failed.join(",") } }, [
        h("strong", { text: "Attributions survive randomisation: " }),
        h("span", { text: `${failed.map((m) => d.modelNames[m]).join(", ")} — with every layer's weights randomised, the attributions keep their order (|rank correlation| ≥ 0.5), so they follow the images or the blur rather than what the model learned. Treat these clusters with care.` }),
      ]));
    }
    if (d.payload.warnings && d.payload.warnings.length) {
      header.append(h("details", { class: "imacs-warnings" }, [
        h("summary", { text: `${d.payload.warnings.length} note${d.payload.warnings.length === 1 ? "" : "s"} from sampling` }),
        h("ul", {}, d.payload.warnings.map((w) => h("li", { text: String(w) }))),
      ]));
    }
    void st;
  }

  /** The model's faithfulness (payload.faithfulness, Python's numbers): attribution order vs
   * random order on the deletion and insertion curves of its ranked segments. */
  function faithChip(m) {
    const f = (local.data.payload.faithfulness || {})[m];
    if (!f || typeof f.faithfulness !== "number") return null;
    const n = (v) => (typeof v === "number" ? v.toFixed(3) : "n/a");
    return h("span", {
      class: "imacs-faith", data: { imacsFaithfulness: m },
      title: `faithfulness of ${local.data.modelNames[m]}'s attributions over ${f.n_images} images: blurring its ranked segments in attribution order leaves an area of ${n(f.deletion_auc)} under the score, un-blurring them ${n(f.insertion_auc)} (random order ${n(f.random_auc)} for both). Gain over random order: ${fmtSigned(f.faithfulness)} (0 = no better than chance)`,
      text: ` · faith ${fmtSigned(f.faithfulness)}`,
    });
  }

  /** Each model's input-agnostic picture of the class side by side (payload.class_pictures,
   * from result.class_pictures()); null when none was computed. */
  function classPictures() {
    const d = local.data;
    const pics = d.payload.class_pictures || {};
    const shown = d.models.filter((m) => pics[m] && typeof pics[m].png === "string" && /^[A-Za-z0-9+/=]+$/.test(pics[m].png));
    if (!shown.length) return null;
    const cls = String(d.payload.target_class ?? "");
    return h("details", { class: "imacs-pictures", open: local.picturesOpen !== false, ontoggle: (e) => { local.picturesOpen = e.currentTarget.open; }, data: { imacsClassPictures: shown.join(",") } }, [
      h("summary", { text: `Each model's picture of "${cls}" (from blank inputs, no evaluation image)` }),
      h("div", { class: "imacs-pictures-row" }, shown.map((m) => {
        const p = pics[m];
        return h("figure", { class: "imacs-picture", data: { imacsClassPicture: m } }, [
          h("img", {
            src: `data:image/png;base64,${p.png}`, alt: `${d.modelNames[m]}'s picture of ${cls}`,
            title: `tiles that raise ${d.modelNames[m]}'s score for "${cls}" wherever they are pasted on blank inputs, best first: the best tile takes the class's log-odds to ${fmtSigned(p.best_log_odds, 2)} (blank inputs alone ${fmtSigned(p.blank_log_odds, 2)})`,
          }),
          h("figcaption", {}, [modelChip(m, d.modelNames[m]), h("span", { class: "imacs-muted", text: ` log-odds ${fmtSigned(p.best_log_odds, 2)} (blank ${fmtSigned(p.blank_log_odds, 2)})` })]),
        ]);
      })),
    ]);
  }

  /** The model's sanity check verdict (payload.sanity, from result.sanity_check()). */
  function sanityChip(m) {
    const v = (local.data.payload.sanity || {})[m];
    if (!v || typeof v.passed !== "boolean") return null;
    const rho = typeof v.spearman === "number" ? v.spearman.toFixed(2) : "n/a";
    return h("span", {
      class: `imacs-sanity imacs-sanity-${v.passed ? "pass" : "fail"}`, data: { imacsSanity: v.passed ? "pass" : "fail" },
      title: v.passed
        ? `sanity check passed: with ${v.layers} layers' weights randomised, the attributions' rank correlation with the real ones falls to ${rho}`
        : `sanity check FAILED: with ${v.layers} layers' weights randomised, the attributions' rank correlation with the real ones stays at ${rho}`,
      text: v.passed ? " · sanity ✓" : " · sanity ✗",
    });
  }

  function renderControls(st) {
    const d = local.data;
    const classes = d && Array.isArray(d.payload.classes) ? d.payload.classes.map(String) : [];
    const current = String(st.targetClass ?? (d ? d.payload.target_class : ""));
    if (!classes.includes(current) && current) classes.unshift(current);
    const optionsNow = [...classSelect.options].map((o) => o.value);
    if (optionsNow.join("\u0000") !== classes.join("\u0000")) {
      replace(classSelect, ...classes.map((c) => h("option", { value: c, text: c })));
    }
    classSelect.value = current;
    const blocked = !local.live || st.busy || local.pending !== null;
    classSelect.disabled = blocked || classes.length < 2;
    classSelect.title = !local.live ? "Switching class needs a running Python kernel" : classes.length < 2 ? "The result holds one class of interest" : "";
    const [lo, hi] = d && Array.isArray(d.payload.n_clusters_range) ? d.payload.n_clusters_range : [1, 1];
    nRange.min = String(lo); nRange.max = String(hi);
    const n = Number.isInteger(st.nClusters) ? st.nClusters : d ? d.payload.n_clusters : lo;
    if (local.pending === null) nRange.value = String(n); // keep the requested value while busy
    nValue.textContent = nRange.value;
    nRange.disabled = blocked || !d;
    nRange.title = !local.live ? "Re-clustering needs a running Python kernel" : "";
    orderSelect.value = st.order;
    innerSelect.value = st.innerOrder;
    outcomeBoxes.forEach((b, k) => { b.checked = st.outcomes.includes(OUTCOMES[k]); });
    if (d) buildModelBoxes(d.models, d.modelNames);
    modelBoxes.forEach((b, k) => { b.checked = st.models.includes(modelKeys[k]); });
    const orderText = d && d.models.length > 2 ? ORDER_TEXT_N : ORDER_TEXT;
    [...orderSelect.options].forEach((o) => { o.textContent = orderText[o.value]; });
    tabButtons.forEach((b, k) => {
      const on = VIEWS[k] === st.view;
      b.classList.toggle("imacs-tab-active", on);
      b.setAttribute("aria-selected", on ? "true" : "false");
    });
  }

  function renderBusy() {
    const st = readState(model);
    const on = st.busy || local.pending !== null;
    busy.hidden = !on;
    busy.lastChild.textContent = local.pending || "Working…";
    root.classList.toggle("imacs-is-busy", on);
    renderControls(st);
  }

  function renderViews() {
    hideSource();
    const st = readState(model);
    renderHeader(st);
    renderControls(st);
    if (!local.data) {
      replace(body, h("div", { class: "imacs-empty imacs-pad", text: local.error ? `Cannot show this result: ${local.error}` : "Loading…" }));
      return;
    }
    // the statistics depend on the filters and orders only: a click on a cluster or on
    // "+N more" reuses them (at 100,000 segments they are most of a render)
    const key = JSON.stringify([st.order, st.innerOrder, st.outcomes, st.models, local.live, local.selectionVersion]);
    const ctx = local.ctx && local.ctx.data === local.data && local.ctxKey === key
      ? { ...local.ctx, selected: st.selected, expanded: local.expanded }
      : deriveContext(local.data, st, local.expanded, { pictures, live: local.live, onWindow: () => queueFetch(), memo: new Map() });
    local.ctxKey = key;
    // only the view shown is built; the other one is an empty, hidden placeholder
    const placeholder = (name, cls) => h("div", { class: `imacs-view ${cls}`, data: { imacsView: name }, hidden: true });
    const concept = st.view === "clusters" ? conceptView(ctx) : placeholder("clusters", "imacs-concept");
    const hist = st.view === "histogram" ? histogramView(ctx, body.clientWidth || root.clientWidth || 0) : placeholder("histogram", "imacs-histview");
    const map = st.view === "map" ? renderMap(ctx, st) : placeholder("map", "imacs-mapview");
    if (ctx.selected !== null && ctx.stats.has(ctx.selected) && ctx.stats.get(ctx.selected).size > 0) {
      const active = st.view === "histogram" ? hist : concept;
      const block = active.querySelector(`[data-imacs-cluster="${ctx.selected}"]`);
      if (block) block.append(confusionView(ctx.stats.get(ctx.selected), ctx));
    }
    local.ctx = ctx;
    replace(body, concept, hist, map);
    for (const el of body.querySelectorAll("[data-imacs-vrow]")) if (!el.closest("[hidden]") && el.imacsRefresh) el.imacsRefresh();
    queueFetch();
  }
  // ---- segment map ----------------------------------------------------------------------------
  function mapOf(d) {
    if (d.map) return d.map;
    return local.mapXY && local.mapXY.length === 2 * d.segments.length && local.mapClass === d.payload.target_class ? local.mapXY : null;
  }
  function renderMap(ctx, st) {
    const xy = mapOf(ctx.data);
    const cls = ctx.data.payload.target_class;
    if (local.mapError && local.mapErrorClass !== cls) local.mapError = null; // another class
    if (!xy && local.live && !local.mapError) requestMap();
    const note = local.live ? (local.mapError || "Computing the segment map in the kernel (UMAP or t-SNE of the embeddings; once per result)…")
      : "This report has no segment map: call result.segment_map() before result.to_html(), or open the result in a notebook.";
    const t0 = typeof performance !== "undefined" ? performance.now() : 0;
    const el = mapView({ ...ctx, map: xy, rootEl: root }, {
      width: body.clientWidth || root.clientWidth || 900, colorBy: st.mapColor, note,
      onColor: (v) => setTrait("map_color", v),
      onSelect: (rows) => { if (local.pending === null && !readState(model).busy) setTrait("selection", rows); },
      onRetry: local.live && local.mapError ? () => { local.mapError = null; renderViews(); } : null,
      onPick: (i) => toggleCluster(ctx.data.segments[i].cluster),
      onHover: (i, rect) => showSourceAt(i, rect, true),
      onLeave: hideSource,
    });
    root.imacsMapMs = (typeof performance !== "undefined" ? performance.now() : 0) - t0;
    return el;
  }
  function requestMap() {
    if (local.mapPending) return;
    local.mapPending = true;
    const cls = local.data && local.data.payload.target_class;
    send("_map", {}).then((res) => {
      local.mapPending = false;
      if (local.destroyed) return;
      const [answer, buffers] = Array.isArray(res) ? res : [res, []];
      const a = parseAnswer(answer);
      const raw = a.ok && buffers && buffers[0] ? column({ dtype: "uint16", buffer: 0, length: 2 * answer.count }, buffers) : null;
      if (!raw) { mapFailed(a.error || "the kernel sent no segment map", cls); return; }
      local.mapError = null;
      local.mapXY = decodeMap(raw);
      local.mapClass = cls;
      renderViews();
    }, (err) => {
      local.mapPending = false;
      if (!local.destroyed) mapFailed(`segment map: no answer from the kernel (${err && err.message ? err.message : err})`, cls);
    });
  }
  /** A failed "_map": said once (not asked again by every render); the note offers a retry. */
  function mapFailed(text, cls) {
    local.mapError = `${text}; “retry” asks the kernel again`;
    local.mapErrorClass = cls;
    renderViews();
  }

  let fetchQueued = false;
  function queueFetch() {
    if (fetchQueued || !local.live) return;
    fetchQueued = true;
    queueMicrotask(() => { fetchQueued = false; if (!local.destroyed) fetchVisible(); });
  }

  function renderAll() {
    renderViews();
    renderBusy();
  }

  // ---- source preview (hover) -----------------------------------------------------------------
  function showSource(tileEl) {
    showSourceAt(Number(tileEl.dataset.imacsTile), tileEl.getBoundingClientRect());
  }
  /** The source preview of segment row `i`, beside the rectangle `t` (client coordinates);
   * `withTile`: with the segment's own tile (a map point has none on screen). */
  function showSourceAt(i, t, withTile = false) {
    const ctx = local.ctx;
    if (!ctx || !Number.isInteger(i) || !ctx.data.segments[i]) return;
    local.sourceSeg = i;
    local.sourceTile = withTile;
    replace(source, sourceContent(ctx.data.segments[i], ctx, 200, { withTile }));
    source.hidden = false;
    fetchPictures("sources", [ctx.data.segments[i].image]);
    if (withTile) fetchPictures("thumbs", [i]);
    const r = root.getBoundingClientRect();
    const sw = source.offsetWidth || 440, sh = source.offsetHeight || 220;
    let left = t.right - r.left + 8;
    if (left + sw > r.width) left = Math.max(0, t.left - r.left - sw - 8);
    let top = t.top - r.top - 8;
    top = Math.max(0, Math.min(top, r.height - sh));
    source.style.left = `${left}px`;
    source.style.top = `${top}px`;
    clearTimeout(local.hoverTimer);
    local.hoverTimer = setTimeout(() => {
      if (local.lastHover !== i && local.live) { local.lastHover = i; command("_hover", { segment: i }, 10000).catch(() => {}); }
    }, 250);
  }
  function refreshSource() {
    const ctx = local.ctx, i = local.sourceSeg;
    if (source.hidden || !ctx || !ctx.data.segments[i]) return;
    replace(source, sourceContent(ctx.data.segments[i], ctx, 200, { withTile: local.sourceTile }));
  }
  function hideSource() {
    source.hidden = true;
    clearTimeout(local.hoverTimer);
  }

  root.addEventListener("mouseover", (ev) => {
    const t = ev.target instanceof Element ? ev.target.closest("[data-imacs-tile]") : null;
    if (t && root.contains(t) && !source.contains(t)) showSource(t);
  });
  root.addEventListener("mouseout", (ev) => {
    const t = ev.target instanceof Element ? ev.target.closest("[data-imacs-tile]") : null;
    const to = ev.relatedTarget instanceof Element ? ev.relatedTarget.closest("[data-imacs-tile]") : null;
    if (t && t !== to) hideSource();
  });
  root.addEventListener("mouseleave", hideSource);

  // ---- clicks: expand rows, select cluster, close matrices -----------------------------------
  const toggleCluster = (id) => setTrait("selected_cluster", readState(model).selected === id ? null : id);
  body.addEventListener("click", (ev) => {
    const target = ev.target instanceof Element ? ev.target : null;
    if (!target) return;
    const more = target.closest("[data-imacs-more]");
    if (more) {
      const id = Number(more.dataset.imacsMore);
      if (local.expanded.has(id)) local.expanded.delete(id); else local.expanded.add(id);
      renderViews();
      return;
    }
    if (target.closest("[data-imacs-close]")) { setTrait("selected_cluster", null); return; }
    if (target.closest("[data-imacs-view='confusion']")) return;
    const block = target.closest("[data-imacs-cluster]");
    if (block) toggleCluster(Number(block.dataset.imacsCluster));
  });
  body.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter" && ev.key !== " ") return;
    const t = ev.target instanceof Element ? ev.target : null;
    if (t && t.matches("[data-imacs-cluster]")) { ev.preventDefault(); toggleCluster(Number(t.dataset.imacsCluster)); }
  });

  // ---- model events ---------------------------------------------------------------------------
  const on = (name, fn) => { model.on(name, fn); disposers.push(() => model.off(name, fn)); };
  // _payload and its buffers change together (class switch): reload once per task.
  let reloadQueued = false;
  const queueReload = () => {
    if (reloadQueued) return;
    reloadQueued = true;
    queueMicrotask(() => { reloadQueued = false; if (!local.destroyed) { loadPayload(); renderAll(); } });
  };
  on("change:_payload", queueReload);
  on("change:_images", queueReload);
  on("change:_cluster_images", queueReload);
  on("change:selection", () => { local.selectionVersion += 1; renderAll(); });
  for (const name of ["order", "inner_order", "outcomes", "models", "selected_cluster", "view", "map_color"]) on(`change:${name}`, renderAll);
  for (const name of ["target_class", "n_clusters", "_busy"]) on(`change:${name}`, renderBusy);

  loadPayload();
  renderAll();
  // Is there a kernel? It may be busy with later cells: wait as long as the view lives.
  command("_ping", {}, 24 * 3600 * 1000).then((answer) => {
    if (local.destroyed || !answer || answer.ok !== true) return;
    if (answer.version !== PAYLOAD_VERSION) {
      showNotice("error", `The kernel's imacs_widget speaks payload version ${answer.version}, this front end ${PAYLOAD_VERSION}: re-clustering is off. Restart the kernel.`);
      return;
    }
    local.live = true;
    renderAll(); // rows are no longer bounded by the pictures held: missing ones are fetched
  }, () => { /* no kernel (static report): client-side controls only */ });

  return {
    root,
    pictures,
    /** Pages fetched so far: {kind, asked, added, ms} (bench/bench_widget_scale.py, tests). */
    pages: local.pages,
    destroy() {
      local.destroyed = true;
      disposers.forEach((f) => f());
      for (const ctl of requests) ctl.abort(new Error("view removed"));
      clearTimeout(local.hoverTimer);
      pictures.clear();
      root.remove();
    },
  };
}
