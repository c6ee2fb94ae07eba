// The pictures the front end holds: the payload's atlases (thumbs: the first screen, or the
// static report's bounded set; sources) plus the pages fetched from the kernel with the
// "_tiles" command. Each sheet's URL lives in a CSS custom property on the root
// (--imacs-p<n>), so many tiles share one string.

import { atlasCell, sheetRows } from "./data.js";

const DATA_URL = /^data:image\/(webp|jpeg|png);base64,[A-Za-z0-9+/=]+$/;

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
    this.cells = { thumbs: new Map(), sources: new Map() };
    this.urls = [];
    this.sheets = 0;
  }

  /** Hold the cells of `atlas` (cell k = picture atlas.ids[k]); sheets index `buffers`. */
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

  has(kind, id) { return this.cells[kind].has(id); }
  get(kind, id) { return this.cells[kind].get(id); }

  /** Point `el`'s background at picture `id`, shown `w` px wide (or scaled by `scale`); false if not held. */
  paint(el, kind, id, w, scale = null) {
    const c = this.cells[kind].get(id);
    if (!c) return false;
    const { atlas, k, v } = c;
    const { sheet, col, row } = atlasCell(atlas, k);
    const f = scale === null ? w / atlas.cell : scale;
    el.style.backgroundImage = `var(${v})`;
    el.style.backgroundSize = `${atlas.cols * atlas.cell * f}px ${sheetRows(atlas, sheet) * atlas.cell * f}px`;
    el.style.backgroundPosition = `${-col * atlas.cell * f}px ${-row * atlas.cell * f}px`;
    return true;
  }

  /** Size (w, h) of picture `id` in its cell. */
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
