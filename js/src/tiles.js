// The pictures the front end holds: the payload's atlases (thumbs: the first screen, or the
// static report's bounded set; sources) plus the pages fetched from the kernel with the
// "_tiles" command. Each sheet's URL lives in a CSS custom property on the root
// (--imacs-p<n>), so many tiles share one string.

import { atlasCell, sheetRows } from "./data.js";

/** @typedef {import("./types.js").Atlas} Atlas */
/** @typedef {"thumbs" | "sources"} AtlasKind */
/** @typedef {{atlas: Atlas, k: number, v: string}} Cell  picture in cell k of atlas; v: its sheet's CSS property */

const DATA_URL = /^data:image\/(webp|jpeg|png);base64,[A-Za-z0-9+/=]+$/;

/**
 * A sheet's URL: its data: URL, or a blob: URL of the buffer it indexes (null: neither).
 * @param {number | string} ref
 * @param {any[] | undefined} buffers
 * @param {string} mime
 * @returns {string | null}
 */
function toUrl(ref, buffers, mime) {
  if (typeof ref === "string") return DATA_URL.test(ref) ? ref : null;
  const buf = Array.isArray(buffers) ? buffers[ref] : undefined;
  if (!buf || typeof URL === "undefined" || typeof URL.createObjectURL !== "function") return null;
  const bytes = buf instanceof ArrayBuffer || ArrayBuffer.isView(buf) ? buf : null;
  if (!bytes) return null;
  // the host's buffers are ArrayBuffers or views on one (a message's bytes; never shared memory)
  return URL.createObjectURL(new Blob([/** @type {BlobPart} */ (bytes)], { type: mime }));
}

export class PictureStore {
  /** @param {HTMLElement | null} root  element that holds the sheets' custom properties */
  constructor(root) {
    this.root = root;
    /** @type {Record<AtlasKind, Map<number, Cell>>} */
    this.cells = { thumbs: new Map(), sources: new Map() };
    /** @type {string[]} blob: URLs to revoke */
    this.urls = [];
    this.sheets = 0;
  }

  /**
   * Hold the cells of `atlas` (cell k = picture atlas.ids[k]); sheets index `buffers`.
   * @param {AtlasKind} kind
   * @param {Atlas | null | undefined} atlas
   * @param {any[]} [buffers]
   * @returns {number} the pictures added
   */
  add(kind, atlas, buffers) {
    if (!atlas || !Array.isArray(atlas.sheets) || !this.cells[kind]) return 0;
    const vars = atlas.sheets.map((ref) => {
      const url = toUrl(ref, buffers, atlas.mime);
      if (url && url.startsWith("blob:")) this.urls.push(url);
      const name = `--imacs-p${this.sheets++}`;
      if (this.root) this.root.style.setProperty(name, url ? `url("${url}")` : "none");
      return name;
    });
    const ids = Array.isArray(atlas.ids) ? atlas.ids : [];
    let added = 0;
    ids.forEach((id, k) => {
      const sheet = Math.floor(k / atlas.per_sheet);
      if (Number.isInteger(id) && id >= 0 && sheet < vars.length) { this.cells[kind].set(id, { atlas, k, v: vars[sheet] }); added++; }
    });
    return added;
  }

  /** @param {AtlasKind} kind @param {number} id */
  has(kind, id) { return this.cells[kind].has(id); }
  /** @param {AtlasKind} kind @param {number} id */
  get(kind, id) { return this.cells[kind].get(id); }

  /**
   * Point `el`'s background at picture `id`, shown `w` px wide (or scaled by `scale`); false if not held.
   * @param {Element} el  an HTML element
   * @param {AtlasKind} kind
   * @param {number} id
   * @param {number} w
   * @param {number | null} [scale]
   */
  paint(el, kind, id, w, scale = null) {
    const c = this.cells[kind].get(id);
    if (!c) return false;
    const { atlas, k, v } = c;
    const { sheet, col, row } = atlasCell(atlas, k);
    const f = scale === null ? w / atlas.cell : scale;
    const { style } = /** @type {HTMLElement} */ (el);
    style.backgroundImage = `var(${v})`;
    style.backgroundSize = `${atlas.cols * atlas.cell * f}px ${sheetRows(atlas, sheet) * atlas.cell * f}px`;
    style.backgroundPosition = `${-col * atlas.cell * f}px ${-row * atlas.cell * f}px`;
    return true;
  }

  /** Size (w, h) of picture `id` in its cell. @param {AtlasKind} kind @param {number} id */
  size(kind, id) {
    const c = this.cells[kind].get(id);
    return c && Array.isArray(c.atlas.sizes) && c.atlas.sizes[c.k] ? c.atlas.sizes[c.k] : null;
  }

  clear() {
    for (const u of this.urls) { try { URL.revokeObjectURL(u); } catch (e) { /* ignore */ } }
    if (this.root) for (let k = 0; k < this.sheets; k++) this.root.style.removeProperty(`--imacs-p${k}`);
    this.urls = [];
    this.cells = { thumbs: new Map(), sources: new Map() };
  }
}
