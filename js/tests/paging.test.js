// @vitest-environment jsdom
// Virtualised rows and pictures loaded on demand ("_tiles" pages from the fake kernel).
import { describe, it, expect, beforeEach } from "vitest";
import { createApp } from "../src/app.js";
import { visibleWindow, pagesToFetch } from "../src/virtual.js";
import { PictureStore } from "../src/tiles.js";
import { makePayload, makeState, makeModel, makeKernel, invokeFor, settle } from "./fixtures.js";

beforeEach(() => { document.body.replaceChildren(); });

describe("visibleWindow", () => {
  const base = { count: 1000, width: 470, pitch: 47, lineHeight: 47, height: 235 };
  it("renders the lines in view plus the overscan", () => {
    const w = visibleWindow({ ...base, scrollTop: 0 });
    expect(w.perLine).toBe(10);
    expect(w.lines).toBe(100);
    expect(w.total).toBe(4700);
    expect([w.start, w.end, w.top]).toEqual([0, 60, 0]); // 5 lines + 1 below
  });
  it("follows the scroll position", () => {
    const w = visibleWindow({ ...base, scrollTop: 47 * 20 + 10 });
    expect(w.start).toBe(190); // line 19 (one above line 20)
    expect(w.end).toBe(270);   // line 26 (one below line 25)
    expect(w.top).toBe(19 * 47);
  });
  it("clamps at both ends and never renders past the last tile", () => {
    const end = visibleWindow({ ...base, scrollTop: 1e9 });
    expect(end.end).toBe(1000);
    expect(end.end - end.start).toBeLessThanOrEqual(70);
    expect(visibleWindow({ ...base, scrollTop: -50 }).start).toBe(0);
    const tiny = visibleWindow({ ...base, count: 3 });
    expect([tiny.start, tiny.end, tiny.lines]).toEqual([0, 3, 1]);
    expect(visibleWindow({ ...base, width: 10 }).perLine).toBe(1); // narrower than a tile
    expect(visibleWindow({ ...base, count: 0 }).end).toBe(0);
  });
});

describe("pagesToFetch", () => {
  it("asks only for what is neither held nor asked, a page at a time", () => {
    const held = (id) => id % 10 === 0;
    const pages = pagesToFetch([1, 2, 2, 3, 10, 4, 5, 6, 7, "x", 8], held, new Set([3]), 3);
    expect(pages).toEqual([[1, 2, 4], [5, 6, 7], [8]]);
    expect(pagesToFetch([10, 20], held, new Set())).toEqual([]);
  });
});

describe("PictureStore", () => {
  it("holds the cells of an atlas by id and skips blanked ids", () => {
    const root = document.createElement("div");
    const store = new PictureStore(root);
    const atlas = { mime: "image/png", cell: 10, cols: 2, per_sheet: 4, count: 5, sizes: [], sheets: ["data:image/png;base64,AAAA", "data:image/png;base64,AAAA"], ids: [7, -1, 9, 11, 12] };
    expect(store.add("thumbs", atlas, [])).toBe(4);
    expect(store.has("thumbs", 9)).toBe(true);
    expect(store.has("thumbs", -1)).toBe(false);
    const el = document.createElement("div");
    expect(store.paint(el, "thumbs", 12, 20)).toBe(true); // cell 4: sheet 1, col 0, row 0
    expect(el.style.backgroundImage).toBe("var(--imacs-p1)");
    expect(store.paint(el, "thumbs", 11, 20)).toBe(true); // cell 3: sheet 0, col 1, row 1
    expect(el.style.backgroundPosition).toBe("-20px -20px");
    expect(store.paint(el, "thumbs", 8, 20)).toBe(false);
    store.clear();
    expect(store.has("thumbs", 9)).toBe(false);
  });
});

/** A payload whose thumbs atlas holds only `held` (the rest is on the kernel). */
function partialPayload(opts, held) {
  const p = makePayload(opts);
  const all = p.thumbs.ids;
  p.thumbs = { ...p.thumbs, ids: all.map((id) => (held(id) ? id : -1)) };
  return { p, all };
}

function mountWith(p, kernel) {
  const el = document.createElement("div");
  document.body.append(el);
  const model = makeModel(makeState(p));
  const app = createApp(el, model, { invoke: invokeFor(model, kernel) });
  return { el, model, app, q: (sel) => el.querySelector(sel), qa: (sel) => [...el.querySelectorAll(sel)] };
}

describe("tiles beyond the payload", () => {
  it("static report: rows keep the held tiles and say how many they left out", async () => {
    const { p } = partialPayload({ n: 160, clusters: 1 }, (id) => id < 40);
    const { qa, q } = mountWith(p, null);
    await settle();
    const tiles = qa('[data-imacs-view="clusters"] .imacs-row-A [data-imacs-tile]');
    expect(tiles).toHaveLength(20); // the 20 of A's 80 segments that are held
    expect(qa('[data-imacs-view="clusters"] [data-imacs-pending]')).toHaveLength(0);
    const note = q('[data-imacs-view="clusters"] .imacs-row-A [data-imacs-left-out]');
    expect(note.dataset.imacsLeftOut).toBe("60");
    expect(note.textContent).toContain("60 more not in this report");
  });

  it("live: a +N more click fetches the missing tiles a page at a time and paints them", async () => {
    const { p } = partialPayload({ n: 160, clusters: 1 }, (id) => id < 60);
    const full = makePayload({ n: 160, clusters: 1 }).thumbs;
    const kernel = makeKernel({ pictures: { thumbs: full } });
    const { qa, q, el } = mountWith(p, kernel);
    await settle();
    const before = kernel.sent.length;
    q('[data-imacs-view="clusters"] .imacs-row-A [data-imacs-more]').click();
    const pending = qa('[data-imacs-view="clusters"] [data-imacs-pending]').map((t) => Number(t.dataset.imacsTile));
    expect(pending.length).toBeGreaterThan(0);
    await settle();
    const asks = kernel.sent.slice(before).filter((c) => c.name === "_tiles");
    expect(asks.length).toBeGreaterThan(0);
    expect(asks.every((c) => c.msg.atlas === "thumbs" && c.msg.ids.length <= 256)).toBe(true);
    expect(asks.flatMap((c) => c.msg.ids).sort((a, b) => a - b)).toEqual([...pending].sort((a, b) => a - b));
    expect(qa('[data-imacs-view="clusters"] [data-imacs-pending]')).toHaveLength(0);
    const painted = q(`[data-imacs-tile="${pending[0]}"] .imacs-tile-img`);
    expect(painted.style.backgroundImage).toMatch(/^var\(--imacs-p\d+\)$/);
    expect(el.querySelector("[data-imacs-root]").imacsPages.length).toBe(kernel.sent.filter((c) => c.name === "_tiles").length);
  });

  it("live: the drill-down asks for its cells' tiles; hover asks for the source preview", async () => {
    const p = makePayload({ n: 160, clusters: 2 });
    const full = { thumbs: p.thumbs, sources: p.sources };
    p.thumbs = { ...p.thumbs, ids: [] };
    p.sources = { ...p.sources, ids: [] };
    const kernel = makeKernel({ pictures: full });
    const { model, qa, q } = mountWith(p, kernel);
    await settle();
    kernel.sent.length = 0;
    model.set("selected_cluster", 1);
    await settle();
    const cellTiles = qa('[data-imacs-view="confusion"] [data-imacs-tile]').map((t) => Number(t.dataset.imacsTile));
    const asked = kernel.sent.filter((c) => c.name === "_tiles").flatMap((c) => c.msg.ids);
    expect(cellTiles.length).toBeGreaterThan(0);
    expect(asked.length).toBeGreaterThan(0); // the cells' tiles the rows had not shown
    expect(asked.every((id) => cellTiles.includes(id))).toBe(true);
    expect(qa('[data-imacs-view="confusion"] [data-imacs-pending]')).toHaveLength(0);
    const t = q('[data-imacs-view="clusters"] [data-imacs-tile]');
    t.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    await settle();
    const src = kernel.sent.filter((c) => c.name === "_tiles" && c.msg.atlas === "sources");
    expect(src).toHaveLength(1);
    expect(q('[data-imacs-view="source"] .imacs-source-pending')).toBeNull();
  });

  it("a refused page shows a notice and is not asked again", async () => {
    const p = makePayload({ n: 40, clusters: 1 });
    p.thumbs = { ...p.thumbs, ids: [] };
    const kernel = makeKernel({ handlers: { _tiles: () => ({ ok: false, error: "tiles request ignored: nope" }) } });
    const { q, model } = mountWith(p, kernel);
    await settle();
    expect(q(".imacs-notice").textContent).toContain("nope");
    const n = kernel.sent.filter((c) => c.name === "_tiles").length;
    model.set("order", "size");
    await settle();
    expect(kernel.sent.filter((c) => c.name === "_tiles").length).toBe(n);
  });
});
