// Offline host for anywidget front-end modules in a static IMACS report.
//
// The report embeds the widget state in the standard ipywidgets embed format
// (<script type="application/vnd.jupyter.widget-state+json"> plus one
// <script type="application/vnd.jupyter.widget-view+json"> per view). Instead of
// require.js + @jupyter-widgets/html-manager (3.6 MB, fetched from a CDN by default),
// this ~150-line host implements the anywidget front-end module contract
// (model.get/set/on/off/save_changes/send, initialize/render) over that state.
// There is no kernel: save_changes and send only update/notify the page.
// Inlined by imacs_widget/report.py; needs no network.
(function () {
  "use strict";
  var STATE_MIME = "application/vnd.jupyter.widget-state+json";
  var VIEW_MIME = "application/vnd.jupyter.widget-view+json";
  // Read by tests and bench/bench_widget.py: startMs = performance.now() when rendering began,
  // renderMs = time until every view's render() resolved.
  var status = { state: "loading", error: null, startMs: null, renderMs: null, views: 0 };
  window.__imacsReport = status;

  function isEqual(a, b) {
    if (a === b) return true;
    if (a === null || b === null || typeof a !== "object" || typeof b !== "object") {
      return a !== a && b !== b; // NaN
    }
    if (a instanceof DataView || b instanceof DataView || ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
      return false;
    }
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    var ka = Object.keys(a), kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    for (var i = 0; i < ka.length; i++) {
      if (!Object.prototype.hasOwnProperty.call(b, ka[i]) || !isEqual(a[ka[i]], b[ka[i]])) return false;
    }
    return true;
  }

  function b64ToDataView(s) {
    var bin = atob(s), u = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
    return new DataView(u.buffer);
  }

  function putBuffers(state, buffers) {
    (buffers || []).forEach(function (b) {
      var o = state;
      for (var i = 0; i < b.path.length - 1; i++) o = o[b.path[i]];
      o[b.path[b.path.length - 1]] = b.encoding === "hex"
        ? new DataView(new Uint8Array(b.data.match(/../g).map(function (h) { return parseInt(h, 16); })).buffer)
        : b64ToDataView(b.data);
    });
  }

  function Model(id, spec, manager) {
    this.model_id = id;
    this.name = spec.model_name;
    this.module = spec.model_module;
    this._state = spec.state || {};
    putBuffers(this._state, spec.buffers);
    this._handlers = {};
    this.widget_manager = manager;
  }
  Model.prototype.get = function (name) { return this._state[name]; };
  Model.prototype.set = function (name, value) {
    var changes = {};
    if (name !== null && typeof name === "object") changes = name; else changes[name] = value;
    var changed = [];
    for (var k in changes) {
      if (!isEqual(this._state[k], changes[k])) { this._state[k] = changes[k]; changed.push(k); }
    }
    for (var j = 0; j < changed.length; j++) this._emit("change:" + changed[j], [this, this._state[changed[j]], {}]);
    if (changed.length) this._emit("change", [this, {}]);
  };
  // No kernel: the state is already local. Views of the same model were notified by set().
  Model.prototype.save_changes = function () {};
  // No kernel to receive custom messages in a static report.
  Model.prototype.send = function () {};
  Model.prototype.on = function (name, cb, ctx) {
    String(name).split(/\s+/).forEach(function (n) {
      (this._handlers[n] = this._handlers[n] || []).push({ cb: cb, ctx: ctx });
    }, this);
  };
  Model.prototype.off = function (name, cb) {
    if (name == null) { this._handlers = {}; return; }
    String(name).split(/\s+/).forEach(function (n) {
      this._handlers[n] = cb ? (this._handlers[n] || []).filter(function (h) { return h.cb !== cb; }) : [];
    }, this);
  };
  Model.prototype._emit = function (name, args) {
    (this._handlers[name] || []).slice().forEach(function (h) {
      try { h.cb.apply(h.ctx, args); } catch (e) { console.error(e); }
    });
  };

  function Manager(state) {
    this._specs = state;
    this._models = {};
  }
  Manager.prototype.get_model = function (id) {
    id = String(id).replace(/^IPY_MODEL_/, "");
    if (!this._models[id]) {
      var spec = this._specs[id];
      if (!spec) return Promise.reject(new Error("[imacs report] no model " + id));
      this._models[id] = Promise.resolve(new Model(id, spec, this));
    }
    return this._models[id];
  };

  var experimental = {
    invoke: function () { return Promise.reject(new Error("[imacs report] no kernel in a static report")); }
  };

  function importEsm(model) {
    var esm = model.get("_esm");
    if (typeof esm !== "string" || !esm) throw new Error("[imacs report] model has no _esm");
    var url;
    if (/^(https?:|file:|blob:|data:)/.test(esm)) {
      url = esm;
    } else {
      url = URL.createObjectURL(new Blob([esm], { type: "text/javascript" }));
    }
    return import(url).finally(function () { if (url !== esm) URL.revokeObjectURL(url); });
  }

  function loadWidget(model) {
    return importEsm(model).then(function (mod) {
      if (mod.render) return { initialize: mod.initialize, render: mod.render };
      if (!mod.default) throw new Error("[imacs report] the module has no default export");
      return typeof mod.default === "function" ? mod.default() : mod.default;
    });
  }

  var runtimes = new Map();
  function runtime(model) {
    if (!runtimes.has(model)) {
      runtimes.set(model, loadWidget(model).then(function (widget) {
        var css = model.get("_css");
        if (typeof css === "string" && css) {
          var style = document.createElement("style");
          style.dataset.anywidget = model.model_id;
          style.textContent = css;
          document.head.appendChild(style);
        }
        return Promise.resolve(widget.initialize && widget.initialize({ model: model, experimental: experimental }))
          .then(function () { return widget; });
      }));
    }
    return runtimes.get(model);
  }

  function showError(host, err) {
    var pre = document.createElement("pre");
    pre.className = "imacs-report-error";
    pre.textContent = "This report could not render: " + (err && err.stack || err);
    host.appendChild(pre);
  }

  function main() {
    var t0 = performance.now();
    status.startMs = t0;
    var stateTag = document.querySelector('script[type="' + STATE_MIME + '"]');
    if (!stateTag) throw new Error("[imacs report] no embedded widget state");
    var manager = new Manager(JSON.parse(stateTag.textContent).state);
    var tags = Array.prototype.slice.call(document.querySelectorAll('script[type="' + VIEW_MIME + '"]'));
    return Promise.all(tags.map(function (tag) {
      var spec = JSON.parse(tag.textContent);
      var el = document.createElement("div");
      el.className = "imacs-report-view";
      tag.parentNode.insertBefore(el, tag.nextSibling);
      return manager.get_model(spec.model_id).then(function (model) {
        return runtime(model).then(function (widget) {
          return widget.render && widget.render({ model: model, el: el, experimental: experimental });
        });
      }).catch(function (err) { showError(el, err); throw err; });
    })).then(function () {
      status.renderMs = performance.now() - t0;
      status.views = tags.length;
      status.state = "ready";
      document.documentElement.dataset.imacsReport = "ready";
    });
  }

  function start() {
    try {
      main().catch(function (err) {
        status.state = "error"; status.error = String(err && err.stack || err);
        document.documentElement.dataset.imacsReport = "error";
        console.error(err);
      });
    } catch (err) {
      status.state = "error"; status.error = String(err && err.stack || err);
      document.documentElement.dataset.imacsReport = "error";
      showError(document.body, err);
      console.error(err);
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
