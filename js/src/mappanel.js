// The segment-map tab: the map view (map.js) over the map the payload carries, or the one the
// kernel computes when the tab first asks ("_map", once per result and class; a failure is said
// once and offers a retry). Lasso and colour set traits; a click opens the point's cluster.

import { parseAnswer } from "./data.js";
import { column, decodeMap } from "./decode.js";
import { mapView } from "./map.js";
import { splitReply, failure } from "./kernel.js";

/** @typedef {import("./decode.js").Decoded} Decoded */
/** @typedef {import("./state.js").State} State */

/**
 * @param {Object} deps
 * @param {HTMLElement} deps.root
 * @param {HTMLElement} deps.body
 * @param {{data: Decoded | null, live: boolean, destroyed: boolean, pending: string | null}} deps.local
 *   the app's state: the decoded payload, whether a kernel answers, the kernel action in progress
 * @param {() => boolean} deps.busy                 whether the kernel is busy (the _busy trait)
 * @param {(name: string, msg: any) => Promise<any>} deps.send   kernel.js send
 * @param {(name: string, value: any) => void} deps.setTrait
 * @param {() => void} deps.rerender               render the views again
 * @param {(id: number) => void} deps.toggleCluster
 * @param {{showAt: Function, hide: () => void}} deps.preview
 */
export function createMapPanel({ root, body, local, busy, send, setTrait, rerender, toggleCluster, preview }) {
  const map = {
    /** @type {Float32Array | null} the kernel's answer, x, y in 0..1 */
    xy: null,
    /** @type {any} the class of interest it is of */
    cls: null,
    pending: false,
    /** @type {string | null} */
    error: null,
    /** @type {any} */
    errorClass: null,
  };

  /** The map of the payload `d`: its own, or the kernel's answer for its class. @param {Decoded} d */
  function mapOf(d) {
    if (d.map) return d.map;
    return map.xy && map.xy.length === 2 * d.segments.length && map.cls === d.payload.target_class ? map.xy : null;
  }

  /**
   * The map tab's view.
   * @param {any} ctx   state.js deriveContext()
   * @param {State} st
   */
  function render(ctx, st) {
    const xy = mapOf(ctx.data);
    const cls = ctx.data.payload.target_class;
    if (map.error && map.errorClass !== cls) map.error = null; // another class
    if (!xy && local.live && !map.error) request();
    const note = local.live ? (map.error || "Computing the segment map in the kernel (UMAP or t-SNE of the embeddings; once per result)…")
      : "This report has no segment map: call result.segment_map() before result.to_html(), or open the result in a notebook.";
    const t0 = typeof performance !== "undefined" ? performance.now() : 0;
    const el = mapView({ ...ctx, map: xy, rootEl: root }, {
      width: body.clientWidth || root.clientWidth || 900, colorBy: st.mapColor, note,
      onColor: (v) => setTrait("map_color", v),
      onSelect: (rows) => { if (local.pending === null && !busy()) setTrait("selection", rows); },
      onRetry: local.live && map.error ? () => { map.error = null; rerender(); } : null,
      onPick: (i) => toggleCluster(ctx.data.segments[i].cluster),
      onHover: (i, rect) => preview.showAt(i, rect, true),
      onLeave: preview.hide,
    });
    /** @type {any} */ (root).imacsMapMs = (typeof performance !== "undefined" ? performance.now() : 0) - t0;
    return el;
  }

  function request() {
    if (map.pending) return;
    map.pending = true;
    const cls = local.data && local.data.payload.target_class;
    send("_map", {}).then((res) => {
      map.pending = false;
      if (local.destroyed) return;
      const [answer, buffers] = splitReply(res);
      const a = parseAnswer(answer);
      const raw = a.ok && buffers && buffers[0] ? column({ dtype: "uint16", buffer: 0, length: 2 * answer.count }, buffers) : null;
      if (!raw) { failed(a.error || "the kernel sent no segment map", cls); return; }
      map.error = null;
      map.xy = decodeMap(raw);
      map.cls = cls;
      rerender();
    }, (err) => {
      map.pending = false;
      if (!local.destroyed) failed(`segment map: no answer from the kernel (${failure(err)})`, cls);
    });
  }

  /**
   * A failed "_map": said once (not asked again by every render); the note offers a retry.
   * @param {string} text
   * @param {any} cls
   */
  function failed(text, cls) {
    map.error = `${text}; “retry” asks the kernel again`;
    map.errorClass = cls;
    rerender();
  }

  return { render };
}
