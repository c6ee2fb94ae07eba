// The anywidget host of a static IMACS report, and the one fake host of the tests.
//
// The report embeds the widget state in the standard ipywidgets embed format
// (<script type="application/vnd.jupyter.widget-state+json"> plus one
// <script type="application/vnd.jupyter.widget-view+json"> per view). Instead of
// require.js + @jupyter-widgets/html-manager (3.6 MB, fetched from a CDN by default), this
// small host implements the anywidget front-end module contract over that state: a model
// with get/set/on/off/save_changes/send, `initialize` / `render({model, el, experimental})`,
// binary traits as DataView, `_css` injected. There is no kernel: save_changes and send only
// update / notify the page, and `experimental.invoke` (commands to the kernel) rejects unless
// `start({invoke})` is given one.
//
// An ES module. imacs_widget/widget/report.py inlines it into the report as
// <script type="module"> followed by `start();` (it needs no network). The same file is the
// host of the tests: vitest imports Model / experimentalFor (js/tests), and the browser
// harness (tests/widget_harness.py) writes a report page whose `start({invoke})` gets a fake
// kernel (js/tests/fake_kernel.js).

const STATE_MIME = "application/vnd.jupyter.widget-state+json";
const VIEW_MIME = "application/vnd.jupyter.widget-view+json";

// Read by tests and bench/bench_widget.py: startMs = performance.now() when rendering began,
// renderMs = time until every view's render() resolved, models = the models of the views.
export const status = { state: "loading", error: null, startMs: null, renderMs: null, views: 0, models: [] };

function isEqual(a, b) {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") {
    return a !== a && b !== b; // NaN
  }
  if (a instanceof DataView || b instanceof DataView || ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    return false;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k) || !isEqual(a[k], b[k])) return false;
  }
  return true;
}

function b64ToDataView(s) {
  const bin = atob(s), u = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
  return new DataView(u.buffer);
}

function putBuffers(state, buffers) {
  for (const b of buffers || []) {
    let o = state;
    for (let i = 0; i < b.path.length - 1; i++) o = o[b.path[i]];
    o[b.path[b.path.length - 1]] = b.encoding === "hex"
      ? new DataView(new Uint8Array(b.data.match(/../g).map((h) => parseInt(h, 16))).buffer)
      : b64ToDataView(b.data);
  }
}

/** A widget model over embedded state (`spec` = {model_name, model_module, state, buffers}). */
export class Model {
  constructor(id, spec, manager = null) {
    this.model_id = id;
    this.name = spec.model_name;
    this.module = spec.model_module;
    this._state = spec.state || {};
    putBuffers(this._state, spec.buffers);
    this._handlers = {};
    this.widget_manager = manager;
  }

  get(name) { return this._state[name]; }

  set(name, value) {
    const changes = name !== null && typeof name === "object" ? name : { [name]: value };
    const changed = [];
    for (const k of Object.keys(changes)) {
      if (!isEqual(this._state[k], changes[k])) { this._state[k] = changes[k]; changed.push(k); }
    }
    for (const k of changed) this._emit(`change:${k}`, [this, this._state[k], {}]);
    if (changed.length) this._emit("change", [this, {}]);
  }

  // No kernel: the state is already local. Views of the same model were notified by set().
  save_changes() {}

  // No kernel to receive custom messages in a static report.
  send() {}

  on(name, cb, ctx) {
    for (const n of String(name).split(/\s+/)) (this._handlers[n] = this._handlers[n] || []).push({ cb, ctx });
  }

  off(name, cb) {
    if (name == null) { this._handlers = {}; return; }
    for (const n of String(name).split(/\s+/)) {
      this._handlers[n] = cb ? (this._handlers[n] || []).filter((h) => h.cb !== cb) : [];
    }
  }

  _emit(name, args) {
    for (const h of (this._handlers[name] || []).slice()) {
      try { h.cb.apply(h.ctx, args); } catch (e) { console.error(e); }
    }
  }
}

/**
 * The `experimental` argument of initialize / render for `model`: `invoke(name, msg, opts)`
 * sends a command to the kernel — `kernel(model, name, msg, opts)` when there is one (tests),
 * otherwise it rejects (static report: no kernel).
 */
export function experimentalFor(model, kernel = null) {
  return {
    invoke(name, msg, opts = {}) {
      if (typeof kernel !== "function") return Promise.reject(new Error("[imacs report] no kernel in a static report"));
      try { return Promise.resolve(kernel(model, name, msg, opts)); } catch (err) { return Promise.reject(err); }
    },
  };
}

class Manager {
  constructor(specs) {
    this._specs = specs;
    this._models = {};
  }

  get_model(id) {
    id = String(id).replace(/^IPY_MODEL_/, "");
    if (!this._models[id]) {
      const spec = this._specs[id];
      if (!spec) return Promise.reject(new Error(`[imacs report] no model ${id}`));
      this._models[id] = Promise.resolve(new Model(id, spec, this));
    }
    return this._models[id];
  }
}

function importEsm(model) {
  const esm = model.get("_esm");
  if (typeof esm !== "string" || !esm) throw new Error("[imacs report] model has no _esm");
  const url = /^(https?:|file:|blob:|data:)/.test(esm) ? esm : URL.createObjectURL(new Blob([esm], { type: "text/javascript" }));
  return import(url).finally(() => { if (url !== esm) URL.revokeObjectURL(url); });
}

async function loadWidget(model) {
  const mod = await importEsm(model);
  if (mod.render) return { initialize: mod.initialize, render: mod.render };
  if (!mod.default) throw new Error("[imacs report] the module has no default export");
  return typeof mod.default === "function" ? mod.default() : mod.default;
}

function showError(host, err) {
  const pre = document.createElement("pre");
  pre.className = "imacs-report-error";
  pre.textContent = `This report could not render: ${(err && err.stack) || err}`;
  host.appendChild(pre);
}

/**
 * Render every embedded view. `options.invoke(model, name, msg, opts)`, when given, answers
 * the widgets' commands (a fake kernel for tests); without it there is no kernel.
 */
export function start(options = {}) {
  if (typeof window !== "undefined") window.__imacsReport = status;
  const fail = (err) => {
    status.state = "error";
    status.error = String((err && err.stack) || err);
    document.documentElement.dataset.imacsReport = "error";
    console.error(err);
  };
  const runtimes = new Map();
  const runtime = (model, experimental) => {
    if (!runtimes.has(model)) {
      runtimes.set(model, loadWidget(model).then(async (widget) => {
        const css = model.get("_css");
        if (typeof css === "string" && css) {
          const style = document.createElement("style");
          style.dataset.anywidget = model.model_id;
          style.textContent = css;
          document.head.appendChild(style);
        }
        if (widget.initialize) await widget.initialize({ model, experimental });
        return widget;
      }));
    }
    return runtimes.get(model);
  };
  try {
    const t0 = performance.now();
    status.startMs = t0;
    const stateTag = document.querySelector(`script[type="${STATE_MIME}"]`);
    if (!stateTag) throw new Error("[imacs report] no embedded widget state");
    const manager = new Manager(JSON.parse(stateTag.textContent).state);
    const tags = [...document.querySelectorAll(`script[type="${VIEW_MIME}"]`)];
    return Promise.all(tags.map(async (tag) => {
      const spec = JSON.parse(tag.textContent);
      const el = document.createElement("div");
      el.className = "imacs-report-view";
      tag.parentNode.insertBefore(el, tag.nextSibling);
      try {
        const model = await manager.get_model(spec.model_id);
        status.models.push(model);
        const experimental = experimentalFor(model, options.invoke || null);
        const widget = await runtime(model, experimental);
        if (widget.render) await widget.render({ model, el, experimental });
      } catch (err) {
        showError(el, err);
        throw err;
      }
    })).then(() => {
      status.renderMs = performance.now() - t0;
      status.views = tags.length;
      status.state = "ready";
      document.documentElement.dataset.imacsReport = "ready";
    }, fail);
  } catch (err) {
    showError(document.body, err);
    fail(err);
    return Promise.resolve();
  }
}
