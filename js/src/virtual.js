// Virtualised rows: which tiles of a long (expanded) row are in the DOM. Pure, no DOM here
// (views.js builds the row, app.js re-renders its window on scroll).

import { PAGE_SIZE } from "./protocol.js";

/**
 * The window of a wrapped row of `count` equal tiles (`pitch` px wide, `lineHeight` px tall
 * per line) in a viewport `width` wide and `height` tall scrolled to `scrollTop`, with
 * `overscan` lines above and below.
 * @param {{count: number, width: number, pitch: number, lineHeight: number, scrollTop?: number,
 *   height: number, overscan?: number}} row
 * @returns {{perLine: number, lines: number, start: number, end: number, top: number, total: number}}
 *   tiles start..end-1 are rendered, the first at `top` px; `total` px is the row's height
 */
export function visibleWindow({ count, width, pitch, lineHeight, scrollTop = 0, height, overscan = 1 }) {
  const perLine = Math.max(1, Math.floor(Math.max(0, width) / Math.max(1, pitch)));
  const lines = Math.ceil(Math.max(0, count) / perLine);
  const maxTop = Math.max(0, lines * lineHeight - height);
  const y = Math.min(Math.max(0, scrollTop), maxTop);
  const first = Math.max(0, Math.floor(y / lineHeight) - overscan);
  const last = Math.min(lines, Math.ceil((y + Math.max(0, height)) / lineHeight) + overscan);
  return {
    perLine, lines, start: Math.min(count, first * perLine), end: Math.min(count, last * perLine),
    top: first * lineHeight, total: lines * lineHeight,
  };
}

/**
 * Split the wanted picture ids that are neither held nor already asked for into pages of at
 * most `pageSize` (first come, first asked; duplicates dropped; default: the "_tiles" page size).
 * @param {Iterable<number>} wanted
 * @param {(id: number) => boolean} held
 * @param {Set<number>} asked
 */
export function pagesToFetch(wanted, held, asked, pageSize = PAGE_SIZE) {
  const out = [];
  let page = [];
  const seen = new Set();
  for (const id of wanted) {
    if (!Number.isInteger(id) || seen.has(id) || held(id) || asked.has(id)) continue;
    seen.add(id);
    page.push(id);
    if (page.length === pageSize) { out.push(page); page = []; }
  }
  if (page.length) out.push(page);
  return out;
}
