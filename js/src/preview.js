// The source preview (paper §7.0.1): hovering a tile (or a point of the segment map) shows the
// segment's source image, its box, the label and every model's prediction beside it, fetches
// the pictures it lacks, and tells the kernel which segment is under the mouse ("_hover",
// after 250 ms on the same segment).

import { replace } from "./dom.js";
import { sourceContent } from "./views.js";

/**
 * @param {Object} deps
 * @param {HTMLElement} deps.root     the widget's root (hover events, coordinates)
 * @param {HTMLElement} deps.source   the preview's element
 * @param {{ctx: any, live: boolean}} deps.local   the app's state: the view data shown, whether a kernel answers
 * @param {(kind: "thumbs" | "sources", ids: number[]) => void} deps.fetchPictures
 * @param {(name: string, msg: any, timeoutMs?: number) => Promise<any>} deps.command  kernel.js command
 */
export function createPreview({ root, source, local, fetchPictures, command }) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let hoverTimer;
  /** @type {number | undefined} the segment last told to the kernel */
  let lastHover;
  /** @type {number | undefined} the segment shown */
  let shownSeg;
  let shownTile = false;

  /** The preview of the tile element `tileEl`. @param {HTMLElement} tileEl */
  function show(tileEl) {
    showAt(Number(tileEl.dataset.imacsTile), tileEl.getBoundingClientRect());
  }

  /**
   * The source preview of segment row `i`, beside the rectangle `t` (client coordinates).
   * @param {number} i
   * @param {{left: number, top: number, right: number, bottom: number}} t
   * @param {boolean} [withTile]  with the segment's own tile (a map point has none on screen)
   */
  function showAt(i, t, withTile = false) {
    const ctx = local.ctx;
    if (!ctx || !Number.isInteger(i) || !ctx.data.segments[i]) return;
    shownSeg = i;
    shownTile = withTile;
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
    clearTimeout(hoverTimer);
    hoverTimer = setTimeout(() => {
      if (lastHover !== i && local.live) { lastHover = i; command("_hover", { segment: i }, 10000).catch(() => {}); }
    }, 250);
  }

  /** Redraw the preview shown (a picture it lacked arrived). */
  function refresh() {
    const ctx = local.ctx, i = shownSeg;
    if (source.hidden || !ctx || i === undefined || !ctx.data.segments[i]) return;
    replace(source, sourceContent(ctx.data.segments[i], ctx, 200, { withTile: shownTile }));
  }

  function hide() {
    source.hidden = true;
    clearTimeout(hoverTimer);
  }

  /** @param {EventTarget | null} target */
  const tileOf = (target) => (target instanceof Element ? target.closest("[data-imacs-tile]") : null);
  root.addEventListener("mouseover", (ev) => {
    const t = tileOf(ev.target);
    if (t && root.contains(t) && !source.contains(t)) show(/** @type {HTMLElement} */ (t));
  });
  root.addEventListener("mouseout", (ev) => {
    const t = tileOf(ev.target);
    const to = tileOf(ev.relatedTarget);
    if (t && t !== to) hide();
  });
  root.addEventListener("mouseleave", hide);

  return { show, showAt, refresh, hide };
}
