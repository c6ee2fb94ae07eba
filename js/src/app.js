// The IMACS widget: state from the model (traits), controls, linked views, hover preview.
// Works with a live kernel (anywidget) and from embedded state without one (static report):
// client-side controls only set model state (traits); kernel-only actions (re-cluster, class
// switch) are commands sent with `experimental.invoke` (kernel.js; see
// imacs_widget/widget/widget.py and types.js) and are enabled once the kernel answers the
// "_ping" command. This module wires the parts: state.js (traits → view data), kernel.js
// (commands), header.js, controls.js, views.js (clusters, histogram, confusion), mappanel.js
// (segment map), preview.js (hover), paging.js (pictures on demand).

import { h, replace } from "./dom.js";
import { parseAnswer } from "./data.js";
import { decodePayload } from "./decode.js";
import { PAYLOAD_VERSION } from "./protocol.js";
import { conceptView, histogramView, confusionView } from "./views.js";
import { PictureStore } from "./tiles.js";
import { readState, deriveContext } from "./state.js";
import { kernelTransport, failure } from "./kernel.js";
import { renderHeader } from "./header.js";
import { createControls } from "./controls.js";
import { createPaging } from "./paging.js";
import { createPreview } from "./preview.js";
import { createMapPanel } from "./mappanel.js";
import { clusterMeta, progressView, progressDetail, markRunning } from "./clusternotes.js";
import { explain } from "./glossary.js";

export { readState, deriveContext };

/** @typedef {import("./decode.js").Decoded} Decoded */

/** How long a what-if test may take in the kernel before the front end gives up, ms. */
const WHAT_IF_TIMEOUT_MS = 30 * 60 * 1000;

/**
 * @param {HTMLElement} el
 * @param {any} model           anywidget model (get/set/on/off/save_changes)
 * @param {{invoke?: import("./kernel.js").Invoke | null}} [options]  `experimental.invoke(name,
 *   msg, {signal})` of the host; without it (or when it rejects "_ping") there is no kernel
 */
export function createApp(el, model, { invoke = null } = {}) {
  const root = h("div", { class: "imacs-root", attrs: { "data-imacs-root": "" } });
  el.append(root);
  const local = {
    live: false, destroyed: false, generation: 0, selectionVersion: 0, picturesOpen: true, guideOpen: true,
    /** @type {string | null} the kernel action in progress (busy text) */
    pending: null,
    /** @type {Set<number>} clusters whose rows are expanded */
    expanded: new Set(),
    /** @type {{level: string, text: string} | null} */
    notice: null,
    /** @type {Decoded | null} */
    data: null,
    /** @type {string | null} */
    error: null,
    /** @type {any} the `_images` trait the decoded data was built with */
    kept: null,
    /** @type {any} deriveContext() of the views shown */
    ctx: null,
    /** @type {string | null} what ctx was derived from */
    ctxKey: null,
    /** @type {{thumbs: Set<number>, sources: Set<number>}} pictures asked from the kernel */
    asked: { thumbs: new Set(), sources: new Set() },
    /** @type {Array<{kind: string, asked: number, added: number, ms: number}>} */
    pages: [],
    /** @type {number | null} the cluster whose name / note form is open */
    editing: null,
    /** the form's text, kept across renders */
    draft: { name: "", note: "" },
    /** @type {number | null} the cluster whose what-if test runs */
    running: null,
    /** @type {Map<number, string>} the last refusal of a what-if test, by cluster */
    whatIfErrors: new Map(),
  };
  const pictures = new PictureStore(root);
  /** @type {any} */ (root).imacsPages = local.pages; // pages fetched: {kind, asked, added, ms} (bench, browser tests)
  /** @type {Array<() => void>} */
  const disposers = [];
  const kernel = kernelTransport(invoke);

  /** @param {string} name @param {any} value */
  const setTrait = (name, value) => {
    model.set(name, value);
    try { model.save_changes(); } catch (e) { /* no kernel: state stays local */ }
  };
  /**
   * A kernel-only action: busy until the command's answer; a refusal shows a notice.
   * @param {string} name @param {any} msg @param {string} text
   */
  const request = (name, msg, text) => {
    if (!local.live || local.pending !== null) return;
    startPending(text);
    kernel.command(name, msg).then((answer) => {
      const a = parseAnswer(answer);
      if (!a.ok) showNotice("warning", a.error);
    }, (err) => {
      if (!local.destroyed) showNotice("error", `${text.replace(/…$/, "")}: no answer from the kernel (${failure(err)})`);
    }).finally(() => { if (!local.destroyed) endPending(); });
  };

  // ---- skeleton -----------------------------------------------------------------------------
  const header = h("div", { class: "imacs-header" });
  const controls = createControls({ model, setTrait, request });
  const noticeBar = h("div", { class: "imacs-notice", attrs: { role: "status" }, hidden: true });
  const body = h("div", { class: "imacs-body" });
  const busyLabel = h("span", { class: "imacs-busy-label", text: "Working…" });
  const busyProgress = h("div", { class: "imacs-busy-progress" });
  const busyBox = h("div", { class: "imacs-busy-text" }, [busyLabel, busyProgress]);
  const busy = h("div", { class: "imacs-busy", hidden: true }, [h("div", { class: "imacs-spinner" }), busyBox]);
  const source = h("div", { class: "imacs-source", data: { imacsView: "source" }, hidden: true, attrs: { role: "tooltip" } });
  root.append(header, controls.controls, noticeBar, controls.tabs, h("div", { class: "imacs-main" }, [body, busy]), source);

  const paging = createPaging({ body, pictures, local, send: kernel.send, showNotice, onPage: () => preview.refresh() });
  const preview = createPreview({ root, source, local, fetchPictures: paging.fetchPictures, command: kernel.command });
  /** @param {number} id */
  const toggleCluster = (id) => setTrait("selected_cluster", readState(model).selected === id ? null : id);
  const mapPanel = createMapPanel({
    root, body, local, busy: () => readState(model).busy, send: kernel.send, setTrait,
    rerender: () => renderViews(), toggleCluster, preview,
  });

  /** @param {string} text */
  function startPending(text) {
    local.pending = text;
    renderBusy();
  }
  function endPending() {
    if (local.pending === null) return;
    local.pending = null;
    renderBusy(); // the controls show the traits again (a refused value snaps back)
  }

  /** @param {string | null} level @param {string | null} text  (null: dismiss) */
  function showNotice(level, text) {
    local.notice = text ? { level: String(level), text } : null;
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
    /** @param {string} name */
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
  /** @param {import("./state.js").State} st */
  const renderControls = (st) => controls.render(st, local);

  function renderBusy() {
    const st = readState(model);
    const on = st.busy || local.pending !== null;
    busy.hidden = !on;
    busyLabel.textContent = local.pending || "Working…";
    // how far the kernel's long command is (the _progress trait, set while it runs): under the
    // busy text, and on the running what-if test's button
    const progress = on ? st.progress : null;
    replace(busyProgress, progress ? progressView(progress) : null);
    if (progress) explain(busyBox, "progress", progressDetail(progress));
    else { busyBox.removeAttribute("data-imacs-measure"); busyBox.removeAttribute("title"); }
    if (local.running !== null) {
      const button = body.querySelector(`[data-imacs-intervene="${local.running}"]`);
      if (button instanceof HTMLButtonElement) markRunning(button, true, st.progress);
    }
    root.classList.toggle("imacs-is-busy", on);
    renderControls(st);
  }

  function renderViews() {
    preview.hide();
    const st = readState(model);
    renderHeader(header, local.data, local);
    renderControls(st);
    if (!local.data) {
      replace(body, h("div", { class: "imacs-empty imacs-pad", text: local.error ? `Cannot show this result: ${local.error}` : "Loading…" }));
      return;
    }
    // the statistics depend on the filters and orders only: a click on a cluster or on
    // "+N more" reuses them (at 100,000 segments they are most of a render)
    const key = JSON.stringify([st.order, st.innerOrder, st.outcomes, st.models, local.live, local.selectionVersion]);
    const ui = { live: local.live, editing: local.editing, draft: local.draft, running: local.running, errors: local.whatIfErrors, progress: st.progress };
    const ctx = local.ctx && local.ctx.data === local.data && local.ctxKey === key
      ? { ...local.ctx, selected: st.selected, expanded: local.expanded, ui }
      : deriveContext(local.data, st, local.expanded, { pictures, live: local.live, onWindow: () => paging.queueFetch(), memo: new Map(), ui });
    local.ctxKey = key;
    // only the view shown is built; the other one is an empty, hidden placeholder
    /** @param {string} name @param {string} cls */
    const placeholder = (name, cls) => h("div", { class: `imacs-view ${cls}`, data: { imacsView: name }, hidden: true });
    const concept = st.view === "clusters" ? conceptView(ctx) : placeholder("clusters", "imacs-concept");
    const hist = st.view === "histogram" ? histogramView(ctx, body.clientWidth || root.clientWidth || 0) : placeholder("histogram", "imacs-histview");
    const map = st.view === "map" ? mapPanel.render(ctx, st) : placeholder("map", "imacs-mapview");
    if (ctx.selected !== null && ctx.stats.has(ctx.selected) && ctx.stats.get(ctx.selected).size > 0) {
      const active = st.view === "histogram" ? hist : concept;
      const block = active.querySelector(`[data-imacs-cluster="${ctx.selected}"]`);
      if (block) block.append(confusionView(ctx.stats.get(ctx.selected), ctx));
    }
    local.ctx = ctx;
    replace(body, concept, hist, map);
    for (const row of body.querySelectorAll("[data-imacs-vrow]")) {
      const r = /** @type {any} */ (row);
      if (!r.closest("[hidden]") && r.imacsRefresh) r.imacsRefresh();
    }
    paging.queueFetch();
  }

  function renderAll() {
    renderViews();
    renderBusy();
  }

  // ---- clicks: expand rows, select cluster, close matrices -----------------------------------
  body.addEventListener("click", (ev) => {
    const target = ev.target instanceof Element ? ev.target : null;
    if (!target) return;
    const more = /** @type {HTMLElement | null} */ (target.closest("[data-imacs-more]"));
    if (more) {
      const id = Number(more.dataset.imacsMore);
      if (local.expanded.has(id)) local.expanded.delete(id); else local.expanded.add(id);
      renderViews();
      return;
    }
    if (target.closest("[data-imacs-close]")) { setTrait("selected_cluster", null); return; }
    if (clusterClick(target)) return;
    if (target.closest("[data-imacs-view='confusion']")) return;
    const block = /** @type {HTMLElement | null} */ (target.closest("[data-imacs-cluster]"));
    if (block) toggleCluster(Number(block.dataset.imacsCluster));
  });
  // ---- a finding (or the guide's example) opens its cluster: selected, scrolled to ----------
  header.addEventListener("click", (ev) => {
    const target = ev.target instanceof Element ? ev.target : null;
    const button = /** @type {HTMLElement | null} */ (target ? target.closest("[data-imacs-finding], [data-imacs-open-cluster]") : null);
    if (!button) return;
    const id = Number(button.dataset.imacsFinding ?? button.dataset.imacsOpenCluster);
    if (!Number.isInteger(id)) return;
    if (readState(model).view === "map") setTrait("view", "clusters");
    if (readState(model).selected !== id) setTrait("selected_cluster", id);
    else renderViews();
    const block = /** @type {HTMLElement | null} */ (body.querySelector(`[data-imacs-cluster="${id}"]`));
    if (block) {
      if (typeof block.scrollIntoView === "function") block.scrollIntoView({ block: "start", behavior: "smooth" });
      block.focus({ preventScroll: true });
    }
  });
  // ---- names, notes and what-if tests ----------------------------------------------------------
  /**
   * A click on a cluster's ✎ / what-if button or inside its name form (never a cluster toggle;
   * a click anywhere else on the block, the what-if results included, toggles it).
   * @param {Element} target
   * @returns {boolean} whether it was one
   */
  function clusterClick(target) {
    /** @param {string} sel */
    const at = (sel) => /** @type {HTMLElement | null} */ (target.closest(sel));
    let el;
    if ((el = at("[data-imacs-edit]"))) {
      const id = Number(el.dataset.imacsEdit);
      const meta = local.data ? clusterMeta(local.data, id) : null;
      local.editing = id;
      local.draft = { name: meta && typeof meta.name === "string" ? meta.name : "", note: meta && typeof meta.note === "string" ? meta.note : "" };
      renderViews();
      const input = /** @type {HTMLInputElement | null} */ (body.querySelector(`[data-imacs-form="${id}"] [data-imacs-draft="name"]`));
      if (input) input.focus();
    } else if ((el = at("[data-imacs-edit-save]"))) {
      saveNames(Number(el.dataset.imacsEditSave));
    } else if (at("[data-imacs-edit-cancel]")) {
      local.editing = null;
      renderViews();
    } else if ((el = at("[data-imacs-intervene]"))) {
      runWhatIf(Number(el.dataset.imacsIntervene));
    } else if (!at("[data-imacs-form]")) {
      return false;
    }
    return true;
  }

  /** Send the form's name and note (what changed), then close the form. @param {number} id */
  async function saveNames(id) {
    if (!local.live || local.pending !== null || !local.data) return;
    const meta = clusterMeta(local.data, id);
    const name = local.draft.name.trim(), note = local.draft.note;
    /** @type {Array<[string, any]>} */
    const calls = [];
    if ((meta && typeof meta.name === "string" ? meta.name : "") !== name) calls.push(["_rename_cluster", { cluster: id, name: name || null }]);
    if ((meta && typeof meta.note === "string" ? meta.note : "") !== note) calls.push(["_annotate_cluster", { cluster: id, note: note || null }]);
    startPending("Saving the cluster's name and note…");
    try {
      for (const [cmd, msg] of calls) {
        const a = parseAnswer(await kernel.command(cmd, msg));
        if (!a.ok) { showNotice("warning", a.error); return; }
      }
      local.editing = null;
    } catch (err) {
      if (!local.destroyed) showNotice("error", `Saving the name and note: no answer from the kernel (${failure(err)})`);
    } finally {
      if (!local.destroyed) { endPending(); renderViews(); }
    }
  }

  /** Run cluster `id`'s what-if test in the kernel (minutes with large models). @param {number} id */
  async function runWhatIf(id) {
    if (!local.live || local.pending !== null) return;
    local.running = id;
    local.whatIfErrors.delete(id);
    startPending(`What-if test of cluster ${id}: pasting its segments onto other images and removing them…`);
    renderViews();
    try {
      const a = parseAnswer(await kernel.command("_intervene", { cluster: id }, WHAT_IF_TIMEOUT_MS));
      if (!a.ok) { local.whatIfErrors.set(id, String(a.error)); showNotice("warning", a.error); }
    } catch (err) {
      if (!local.destroyed) {
        const text = `What-if test: no answer from the kernel (${failure(err)})`;
        local.whatIfErrors.set(id, text);
        showNotice("error", text);
      }
    } finally {
      local.running = null;
      if (!local.destroyed) { endPending(); renderViews(); }
    }
  }

  body.addEventListener("input", (ev) => {
    const t = ev.target instanceof HTMLElement ? ev.target : null;
    const field = t ? t.dataset.imacsDraft : undefined;
    if (t && (field === "name" || field === "note")) local.draft[field] = /** @type {HTMLInputElement} */ (t).value;
  });

  body.addEventListener("keydown", (ev) => {
    const f = ev.target instanceof HTMLElement ? ev.target.closest("[data-imacs-form]") : null;
    if (f instanceof HTMLElement) {
      if (ev.key === "Escape") { local.editing = null; renderViews(); }
      else if (ev.key === "Enter" && !(ev.target instanceof HTMLTextAreaElement)) { ev.preventDefault(); saveNames(Number(f.dataset.imacsForm)); }
      return;
    }
    if (ev.key !== "Enter" && ev.key !== " ") return;
    const t = ev.target instanceof HTMLElement ? ev.target : null;
    if (t && t.matches("[data-imacs-cluster]")) { ev.preventDefault(); toggleCluster(Number(t.dataset.imacsCluster)); }
  });

  // ---- model events ---------------------------------------------------------------------------
  /** @param {string} name @param {() => void} fn */
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
  for (const name of ["target_class", "n_clusters", "_busy", "_progress"]) on(`change:${name}`, renderBusy);

  loadPayload();
  renderAll();
  // Is there a kernel? It may be busy with later cells: wait as long as the view lives.
  kernel.command("_ping", {}, 24 * 3600 * 1000).then((answer) => {
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
      kernel.close(new Error("view removed"));
      preview.hide();
      pictures.clear();
      root.remove();
    },
  };
}
