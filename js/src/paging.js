// Pictures the payload left out, fetched from the kernel a page at a time ("_tiles"): after
// each render the tiles on screen still waiting for their picture (data-imacs-pending) are
// asked for, never twice and never what the PictureStore holds; an answer paints them. A new
// payload (local.generation) drops the answers still on the way.

import { parseAnswer } from "./data.js";
import { PAGE_SIZE } from "./protocol.js";
import { pagesToFetch } from "./virtual.js";
import { splitReply, failure } from "./kernel.js";

/** @typedef {import("./tiles.js").PictureStore} PictureStore */
/** @typedef {"thumbs" | "sources"} AtlasKind */

/** @returns {number} */
const now = () => (typeof performance !== "undefined" ? performance.now() : Date.now());

/**
 * @param {Object} deps
 * @param {HTMLElement} deps.body           the element holding the views
 * @param {PictureStore} deps.pictures
 * @param {{live: boolean, destroyed: boolean, generation: number,
 *   asked: Record<AtlasKind, Set<number>>,
 *   pages: Array<{kind: string, asked: number, added: number, ms: number}>}} deps.local
 *   the app's state: whether a kernel answers, the payload's generation, ids asked for, and
 *   the pages fetched so far (bench, browser tests)
 * @param {(name: string, msg: any) => Promise<any>} deps.send   kernel.js send
 * @param {(level: string, text: string) => void} deps.showNotice
 * @param {() => void} deps.onPage          a page arrived (after its tiles are painted)
 */
export function createPaging({ body, pictures, local, send, showNotice, onPage }) {
  /**
   * Ask the kernel for the pictures `ids` of `kind` it has not been asked for yet.
   * @param {AtlasKind} kind
   * @param {Iterable<number>} ids
   */
  function fetchPictures(kind, ids) {
    if (!local.live) return;
    const generation = local.generation;
    for (const page of pagesToFetch(ids, (id) => pictures.has(kind, id), local.asked[kind], PAGE_SIZE)) {
      page.forEach((id) => local.asked[kind].add(id));
      const t0 = now();
      send("_tiles", { atlas: kind, ids: page }).then((res) => {
        if (local.destroyed || generation !== local.generation) return; // a new payload since
        const [answer, buffers] = splitReply(res);
        const a = parseAnswer(answer);
        if (!a.ok || !answer.page) { showNotice("warning", a.error || "the kernel sent no tiles"); return; }
        const added = pictures.add(kind, answer.page, buffers);
        local.pages.push({ kind, asked: page.length, added, ms: now() - t0 });
        if (kind === "thumbs") paintPending();
        onPage();
      }, (err) => {
        if (!local.destroyed) showNotice("error", `tiles: no answer from the kernel (${failure(err)})`);
      });
    }
  }

  /** Tiles in the DOM still waiting for their picture, in the view shown. */
  function pendingTiles() {
    return [...body.querySelectorAll("[data-imacs-pending]")].filter((el) => !el.closest("[hidden]"));
  }

  /** Paint every waiting tile whose picture is now held. */
  function paintPending() {
    for (const el of body.querySelectorAll("[data-imacs-pending]")) {
      const tile = /** @type {HTMLElement} */ (el);
      const id = Number(tile.dataset.imacsTile);
      const img = tile.querySelector(".imacs-tile-img");
      if (img && pictures.paint(img, "thumbs", id, Number(tile.dataset.imacsPending))) {
        delete tile.dataset.imacsPending;
        tile.classList.remove("imacs-tile-pending");
      }
    }
  }

  let fetchQueued = false;
  /** Fetch the missing tiles of the view shown, once the current task has rendered. */
  function queueFetch() {
    if (fetchQueued || !local.live) return;
    fetchQueued = true;
    queueMicrotask(() => {
      fetchQueued = false;
      if (!local.destroyed) fetchPictures("thumbs", pendingTiles().map((el) => Number(/** @type {HTMLElement} */ (el).dataset.imacsTile)));
    });
  }

  return { fetchPictures, paintPending, queueFetch };
}
