// @vitest-environment jsdom
import { describe, it, expect, beforeEach, vi } from "vitest";
import { createApp, deriveContext, readState } from "../src/app.js";
import { decodePayload } from "../src/data.js";
import widget from "../src/widget.js";
import { makePayload, makeState, makeModel, makeKernel, invokeFor, settle } from "./fixtures.js";

const EVIL = "<img src=x onerror=alert(1)>";

/** Mount the app on a host model; `kernel` answers its commands (null: a static report). */
function mount(payloadOpts = {}, stateExtra = {}, kernel = null) {
  const el = document.createElement("div");
  document.body.append(el);
  const model = makeModel(makeState(makePayload(payloadOpts), stateExtra));
  const app = createApp(el, model, { invoke: invokeFor(model, kernel) });
  return { el, model, app, kernel, q: (sel) => el.querySelector(sel), qa: (sel) => [...el.querySelectorAll(sel)] };
}

async function mountLive(payloadOpts = {}, stateExtra = {}, kernelOpts = {}) {
  const m = mount(payloadOpts, stateExtra, makeKernel(kernelOpts));
  await settle(); // the "_ping" answer
  return m;
}

beforeEach(() => { document.body.replaceChildren(); });

describe("rendering", () => {
  it("has every test hook", () => {
    const { q, qa } = mount({ n: 24, clusters: 3 });
    for (const v of ["histogram", "clusters", "source"]) expect(q(`[data-imacs-view="${v}"]`)).not.toBeNull();
    for (const c of ["n-clusters", "class", "order", "inner-order", "outcomes", "models"]) expect(q(`[data-imacs-control="${c}"]`)).not.toBeNull();
    expect(qa('[data-imacs-view="clusters"] [data-imacs-cluster]')).toHaveLength(3);
    expect(qa('[data-imacs-view="clusters"] [data-imacs-tile]')).toHaveLength(24);
    // only the view shown is built; the other is an empty, hidden placeholder
    expect(q('[data-imacs-view="histogram"]').hidden).toBe(true);
    expect(qa('[data-imacs-view="histogram"] [data-imacs-cluster]')).toHaveLength(0);
    q('[data-imacs-tab="histogram"]').click();
    expect(qa('[data-imacs-view="histogram"] [data-imacs-cluster]')).toHaveLength(3);
    expect(q('[data-imacs-view="clusters"]').hidden).toBe(true);
    q('[data-imacs-tab="clusters"]').click();
    expect(q('[data-imacs-view="confusion"]')).toBeNull();
  });

  it("faithfulness per model in the header, removal effect per cluster and model", () => {
    const { q, qa } = mount({ n: 24, clusters: 3 });
    const chips = qa("[data-imacs-faithfulness]");
    expect(chips.map((c) => c.dataset.imacsFaithfulness)).toEqual(["A", "B"]);
    expect(chips[0].textContent).toContain("+0.150");
    expect(chips[1].title).toContain("random order 0.350");
    // cluster 0's A rows are 0, 6, 12, 18 (images 0, 1, 3, 4): removal (image + 0) % 5 / 10 - 0.1
    const block = q('[data-imacs-view="clusters"] [data-imacs-cluster="0"]');
    const a = block.querySelector('[data-imacs-removal="A"]');
    expect(a.textContent).toBe(" · removal +0.100"); // (0 + 0.1 + 0.3 + 0.4) / 4 - 0.1
    // the sanity check: B's attributions survive randomisation, the header says so
    expect(qa("[data-imacs-sanity]").map((c) => c.dataset.imacsSanity)).toEqual(["pass", "fail"]);
    expect(q("[data-imacs-sanity-warning]").dataset.imacsSanityWarning).toBe("B");
    expect(q("[data-imacs-sanity-warning]").textContent).toContain("watermarked");
    // a payload without faithfulness (an older result) shows neither
    const p = makePayload();
    delete p.faithfulness;
    delete p.sanity;
    delete p.segments.removal;
    const el = document.createElement("div");
    document.body.append(el);
    createApp(el, makeModel(makeState(p)), { invoke: invokeFor(makeModel(makeState(p)), null) });
    expect(el.querySelector("[data-imacs-faithfulness], [data-imacs-removal], [data-imacs-sanity], [data-imacs-sanity-warning]")).toBeNull();
    expect(el.querySelectorAll("[data-imacs-cluster]").length).toBeGreaterThan(0);
  });

  it("each model's class picture side by side in the header; a malformed one is left out", () => {
    const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==";
    const p = makePayload();
    p.class_pictures = { A: { png, tile: 16, best_log_odds: 6.5, mean_log_odds: 5.1, blank_log_odds: -0.2 }, B: { png, tile: 16, best_log_odds: 11.25, mean_log_odds: 9, blank_log_odds: 0.1 } };
    const el = document.createElement("div");
    document.body.append(el);
    createApp(el, makeModel(makeState(p)), { invoke: invokeFor(makeModel(makeState(p)), null) });
    const figs = [...el.querySelectorAll("[data-imacs-class-picture]")];
    expect(figs.map((f) => f.dataset.imacsClassPicture)).toEqual(["A", "B"]);
    expect(figs[1].querySelector("img").getAttribute("src")).toBe(`data:image/png;base64,${png}`);
    expect(figs[1].textContent).toContain("log-odds +11.25 (blank +0.10)");
    expect(figs[0].querySelector("img").title).toContain("−0.20");
    // not base64 (markup or a URL) → not shown; no pictures at all → no block
    p.class_pictures.B = { png: '"><script>x</script>', best_log_odds: 1, blank_log_odds: 0 };
    const el2 = document.createElement("div");
    document.body.append(el2);
    createApp(el2, makeModel(makeState(p)), { invoke: invokeFor(makeModel(makeState(p)), null) });
    expect([...el2.querySelectorAll("[data-imacs-class-picture]")].map((f) => f.dataset.imacsClassPicture)).toEqual(["A"]);
    expect(el2.querySelector("script")).toBeNull();
    const { q } = mount({ n: 24, clusters: 3 });
    expect(q("[data-imacs-class-pictures]")).toBeNull();
  });

  it("escapes class and model names (no markup injection)", () => {
    const { el, qa, q } = mount({ classNames: [EVIL, "daisy", "sunflower"], target: EVIL, modelNames: { A: EVIL, B: "<b>bold</b>" } });
    expect(el.querySelectorAll("img, b, script")).toHaveLength(0);
    expect(el.textContent).toContain(EVIL);
    expect(el.textContent).toContain("<b>bold</b>");
    expect([...q('[data-imacs-control="class"]').options].map((o) => o.textContent)).toContain(EVIL);
    // hover preview shows labels (class id 0 = EVIL) as text too
    const t = qa("[data-imacs-tile]")[0];
    t.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(q('[data-imacs-view="source"]').hidden).toBe(false);
    expect(el.querySelectorAll("img, b, script")).toHaveLength(0);
  });

  it("escapes warnings and the kernel's refusals", async () => {
    const p = makePayload();
    p.warnings = [EVIL];
    const el = document.createElement("div");
    const model = makeModel(makeState(p));
    const kernel = makeKernel({ handlers: { _recluster: () => ({ ok: false, n_clusters: 3, error: EVIL }) } });
    createApp(el, model, { invoke: invokeFor(model, kernel) });
    await settle();
    const r = el.querySelector('[data-imacs-control="n-clusters"]');
    r.value = "4";
    r.dispatchEvent(new Event("change"));
    await settle();
    expect(el.querySelectorAll("img")).toHaveLength(0);
    expect(el.textContent.split(EVIL).length - 1).toBe(2);
  });

  it("draws tiles with outcome borders and a signed bar", () => {
    const { qa } = mount({ n: 8, clusters: 2 });
    const tiles = qa('[data-imacs-view="clusters"] [data-imacs-tile]');
    expect(tiles.every((t) => /imacs-o-(TP|TN|FP|FN)/.test(t.className))).toBe(true);
    const neg = tiles.find((t) => t.dataset.imacsTile === "0"); // attribution -0.3
    const fill = neg.querySelector(".imacs-bar-fill");
    expect(parseFloat(fill.style.left)).toBeLessThan(50);
  });

  it("marks one-sided clusters (only when both models are shown)", () => {
    const { q, qa, model } = mount({ n: 8, clusters: 2 }); // cluster 0: only A, cluster 1: only B
    expect(qa('[data-imacs-view="clusters"] .imacs-badge').map((b) => b.textContent).sort()).toEqual(["only A", "only B"]);
    const b = q('[data-imacs-control="models"] input[value="B"]');
    b.checked = false;
    b.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.get("models")).toEqual(["A"]);
    expect(qa(".imacs-badge")).toHaveLength(0);
  });

  it("three models: a row, a checkbox, a legend entry and a preview row each; consensus badges", () => {
    const models = ["A", "B", "C"];
    const { q, qa, model } = mount({ n: 24, clusters: 3, models }, { models });
    expect(qa('[data-imacs-control="models"] input').map((b) => b.value)).toEqual(models);
    expect(qa('[data-imacs-control="models"] input').every((b) => b.checked)).toBe(true);
    expect(qa(".imacs-legend .imacs-chip").map((c) => c.querySelector(".imacs-chip-key").textContent)).toEqual(models);
    const block = q('[data-imacs-view="clusters"] [data-imacs-cluster]');
    expect([...block.querySelectorAll(".imacs-row")].map((r) => r.className.match(/imacs-row-(\w)/)[1]).sort()).toEqual(models);
    expect(qa('[data-imacs-view="clusters"] [data-imacs-tile]')).toHaveLength(24);
    expect(qa("[data-imacs-consensus]")).toHaveLength(3);
    for (const b of qa("[data-imacs-consensus]")) expect(b.dataset.imacsConsensus).toMatch(/^[0-3]\/3$/);
    expect(q('[data-imacs-control="order"] option[value="imbalance"]').textContent).toContain("spread");
    // the hover preview lists every model's prediction
    qa("[data-imacs-tile]")[0].dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(qa('[data-imacs-view="source"] tbody tr')).toHaveLength(3);
    // hiding C removes its rows; the consensus still counts all three models
    const c = q('[data-imacs-control="models"] input[value="C"]');
    c.checked = false;
    c.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.get("models")).toEqual(["A", "B"]);
    expect(qa('[data-imacs-view="clusters"] .imacs-row-C')).toHaveLength(0);
    expect(qa('[data-imacs-view="clusters"] [data-imacs-tile]')).toHaveLength(16);
    expect(qa("[data-imacs-consensus]").every((b) => b.dataset.imacsConsensus.endsWith("/3"))).toBe(true);
    // the histogram and the confusion matrices draw the shown models
    q('[data-imacs-tab="histogram"]').click();
    expect(qa('[data-imacs-view="histogram"] [data-imacs-cluster]')[0].querySelectorAll(".imacs-hhalf")).toHaveLength(2);
    c.checked = true;
    c.dispatchEvent(new Event("change", { bubbles: true }));
    expect(qa('[data-imacs-view="histogram"] [data-imacs-cluster]')[0].querySelectorAll(".imacs-hhalf")).toHaveLength(3);
    q('[data-imacs-tab="clusters"]').click();
    q('[data-imacs-view="clusters"] [data-imacs-cluster]').click();
    expect(qa('[data-imacs-view="confusion"] .imacs-matrix')).toHaveLength(3);
  });

  it("segment map: canvas, lasso selects the points inside, the cluster views follow", () => {
    const { q, qa, model } = mount({ n: 24, clusters: 3, map: true }, { view: "map" });
    const canvas = q("[data-imacs-map-canvas]");
    expect(canvas).not.toBeNull();
    const m = canvas.imacsMap;
    // points of cluster 0 lie together: a lasso around them selects exactly those rows
    const rows0 = [...Array(24).keys()].filter((i) => i % 3 === 0);
    const xs = rows0.map((i) => m.px[i]), ys = rows0.map((i) => m.py[i]);
    const [x0, x1, y0, y1] = [Math.min(...xs) - 3, Math.max(...xs) + 3, Math.min(...ys) - 3, Math.max(...ys) + 3];
    const ev = (type, x, y) => canvas.dispatchEvent(new MouseEvent(type, { clientX: x, clientY: y, bubbles: true }));
    ev("pointerdown", x0, y0); ev("pointermove", x1, y0); ev("pointermove", x1, y1); ev("pointermove", x0, y1); ev("pointerup", x0, y1 - 1);
    expect(model.get("selection")).toEqual(rows0);
    // hover near a point: its source preview, with the segment's own tile
    const m2 = q("[data-imacs-map-canvas]").imacsMap;
    q("[data-imacs-map-canvas]").dispatchEvent(new MouseEvent("pointermove", { clientX: m2.px[3], clientY: m2.py[3], bubbles: true }));
    expect(q('[data-imacs-view="source"]').hidden).toBe(false);
    expect(q('[data-imacs-view="source"] .imacs-source-tile [data-imacs-tile]').dataset.imacsTile).toBe("3");
    expect(q("[data-imacs-map-count]").dataset.imacsMapCount).toBe(String(rows0.length));
    // the cluster views show only the selection: one cluster left
    q('[data-imacs-tab="clusters"]').click();
    expect(qa('[data-imacs-view="clusters"] [data-imacs-cluster]').map((b) => b.dataset.imacsCluster)).toEqual(["0"]);
    expect(qa('[data-imacs-view="clusters"] [data-imacs-tile]')).toHaveLength(rows0.length);
    // back on the map: clear the selection; a click on a point opens its cluster
    q('[data-imacs-tab="map"]').click();
    q("[data-imacs-map-clear]").click();
    expect(model.get("selection")).toEqual([]);
    const cv = q("[data-imacs-map-canvas]"), c = cv.imacsMap;
    for (const type of ["pointerdown", "pointerup"]) cv.dispatchEvent(new MouseEvent(type, { clientX: c.px[4], clientY: c.py[4], bubbles: true }));
    expect(model.get("selected_cluster")).toBe(4 % 3);
    // the opened cluster's points are drawn strong, the others fade
    expect(q("[data-imacs-map-canvas]").imacsMap.strong).toBe(8);
    // the legend is clickable too, and the colour control is a trait
    q('[data-imacs-map-cluster="2"]').click();
    expect(model.get("selected_cluster")).toBe(2);
    const sel = q('[data-imacs-control="map-color"]');
    sel.value = "attribution";
    sel.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.get("map_color")).toBe("attribution");
  });

  it("live: the map tab asks the kernel for the map once and draws it", async () => {
    const n = 24;
    const raw = new Uint16Array(2 * n).map((_, k) => (k * 2731) % 65535);
    const { q, kernel } = await mountLive({ n, clusters: 3 }, { view: "clusters" },
      { handlers: { _map: () => [{ ok: true, method: "umap", count: n }, [new DataView(raw.buffer)]] } });
    q('[data-imacs-tab="map"]').click();
    expect(q("[data-imacs-map-note]").textContent).toMatch(/Computing/);
    await settle();
    const canvas = q("[data-imacs-map-canvas]");
    expect(canvas).not.toBeNull();
    expect(canvas.imacsMap.px).toHaveLength(n);
    q('[data-imacs-tab="clusters"]').click();
    q('[data-imacs-tab="map"]').click();
    await settle();
    expect(kernel.sent.filter((c) => c.name === "_map")).toHaveLength(1);
  });

  it("live: a failed map is said once, not asked again by every render; retry asks again", async () => {
    let calls = 0;
    const { q, kernel } = await mountLive({ n: 24, clusters: 3 }, { view: "map" },
      { handlers: { _map: () => { calls += 1; return { ok: false, error: "segment map failed: boom" }; } } });
    await settle();
    expect(q("[data-imacs-map-note]").textContent).toContain("boom");
    q('[data-imacs-tab="clusters"]').click();
    q('[data-imacs-tab="map"]').click();
    await settle();
    expect(calls).toBe(1);
    q("[data-imacs-map-retry]").click();
    await settle();
    expect(calls).toBe(2);
    expect(kernel.sent.filter((c) => c.name === "_map")).toHaveLength(2);
  });

  it("segment map without coordinates in a static report says how to get them", () => {
    const { q } = mount({ n: 24, clusters: 3 }, { view: "map" });
    expect(q("[data-imacs-map-canvas]")).toBeNull();
    expect(q("[data-imacs-map-note]").textContent).toContain("segment_map()");
  });

  it("refuses a payload whose model keys are not A, B, ...", () => {
    const p = makePayload();
    p.models = ["A", "X"];
    expect(decodePayload(p).ok).toBe(false);
    expect(decodePayload(p).error).toMatch(/models/);
    const q = makePayload({ models: ["A", "B", "C"] });
    q.segments.model[0] = 5;
    expect(decodePayload(q).error).toMatch(/unknown model/);
  });

  it("shows a message instead of throwing on a bad payload", () => {
    const el = document.createElement("div");
    const model = makeModel({ _payload: { version: 99, segments: {} }, _images: [] });
    expect(() => createApp(el, model)).not.toThrow();
    expect(el.textContent).toContain("Cannot show this result");
    const el2 = document.createElement("div");
    createApp(el2, makeModel({}));
    expect(el2.textContent).toContain("Loading");
  });
});

describe("client-side controls (work without a kernel)", () => {
  it("cluster order follows the order control", () => {
    const { q, qa, model } = mount({ n: 24, clusters: 3 });
    const saves = vi.spyOn(model, "save_changes");
    const ids = () => qa('[data-imacs-view="clusters"] [data-imacs-cluster]').map((b) => Number(b.dataset.imacsCluster));
    const d = decodePayload(model.get("_payload")).data;
    for (const order of ["imbalance", "importance", "size"]) {
      const sel = q('[data-imacs-control="order"]');
      sel.value = order;
      sel.dispatchEvent(new Event("change", { bubbles: true }));
      expect(model.get("order")).toBe(order);
      const ctx = deriveContext(d, readState(model), new Set());
      expect(ids()).toEqual(ctx.order);
    }
    expect(saves).toHaveBeenCalledTimes(3);
  });

  it("outcome and model filters hide tiles", () => {
    const { q, qa, model } = mount({ n: 24, clusters: 3 });
    const box = q('[data-imacs-control="outcomes"] input[value="FP"]');
    box.checked = false;
    box.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.get("outcomes")).toEqual(["TP", "TN", "FN"]);
    expect(qa('[data-imacs-view="clusters"] .imacs-tile.imacs-o-FP')).toHaveLength(0);
    expect(qa('[data-imacs-view="clusters"] [data-imacs-tile]')).toHaveLength(18);
    const a = q('[data-imacs-control="models"] input[value="A"]');
    a.checked = false;
    a.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.get("models")).toEqual(["B"]);
    expect(qa('[data-imacs-view="clusters"] .imacs-row-A')).toHaveLength(0);
    expect(qa('[data-imacs-view="clusters"] .imacs-tile.imacs-m-A')).toHaveLength(0);
  });

  it("clicking a cluster opens its confusion matrices", () => {
    const { q, qa, model } = mount({ n: 24, clusters: 3 });
    const block = q('[data-imacs-view="clusters"] [data-imacs-cluster="1"]');
    block.querySelector(".imacs-cluster-name").click();
    expect(model.get("selected_cluster")).toBe(1);
    const conf = q('[data-imacs-view="confusion"]');
    expect(conf).not.toBeNull();
    expect(conf.closest("[data-imacs-cluster]").dataset.imacsCluster).toBe("1");
    expect(qa('[data-imacs-view="confusion"] .imacs-matrix')).toHaveLength(2);
    const cells = qa('[data-imacs-view="confusion"] .imacs-matrix-A [data-imacs-outcome]');
    expect(cells.map((c) => c.dataset.imacsOutcome)).toEqual(["TP", "FN", "FP", "TN"]);
    const nTiles = qa('[data-imacs-view="confusion"] [data-imacs-tile]').length;
    expect(nTiles).toBe(8); // cluster 1 holds 8 of 24 segments
    // clicking inside the matrices keeps it open; the close button closes it
    q('[data-imacs-view="confusion"] [data-imacs-tile]').click();
    expect(model.get("selected_cluster")).toBe(1);
    q("[data-imacs-close]").click();
    expect(model.get("selected_cluster")).toBeNull();
    expect(q('[data-imacs-view="confusion"]')).toBeNull();
  });

  it("histogram tab: shared bins, at most 5 tiles per bin then +N", () => {
    const p = makePayload({ n: 40, clusters: 1 });
    p.segments.attribution = p.segments.attribution.map(() => 0.01); // all in one bin
    const el = document.createElement("div");
    const model = makeModel(makeState(p));
    createApp(el, model);
    el.querySelector('[data-imacs-tab="histogram"]').click();
    expect(model.get("view")).toBe("histogram");
    const hist = el.querySelector('[data-imacs-view="histogram"]');
    expect(hist.hidden).toBe(false);
    const bins = [...hist.querySelectorAll(".imacs-hhalf-A .imacs-hbin")];
    expect(bins).toHaveLength(12);
    const full = bins.find((b) => b.querySelector("[data-imacs-tile]"));
    expect(full.querySelectorAll("[data-imacs-tile]")).toHaveLength(5);
    expect(full.querySelector(".imacs-hextra").textContent).toBe("+15");
  });

  it("hover shows the source image with the segment box", () => {
    const { q, qa } = mount({ n: 8 });
    const t = qa('[data-imacs-view="clusters"] [data-imacs-tile="5"]')[0];
    t.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    const src = q('[data-imacs-view="source"]');
    expect(src.hidden).toBe(false);
    expect(src.textContent).toContain("Image 101");
    expect(src.textContent).toContain("baseline");
    const box = src.querySelector(".imacs-source-box");
    expect(box.style.left).toBe("25%");
    expect(box.style.width).toBe("25%");
    t.dispatchEvent(new MouseEvent("mouseout", { bubbles: true, relatedTarget: document.body }));
    expect(src.hidden).toBe(true);
  });

  it("long rows collapse behind +N more", () => {
    const { q, qa } = mount({ n: 160, clusters: 1 });
    expect(qa('[data-imacs-view="clusters"] .imacs-row-A [data-imacs-tile]')).toHaveLength(30);
    q('[data-imacs-view="clusters"] [data-imacs-more]').click();
    // expanded: virtualised, only the lines in view (and one below) are in the DOM
    const inDom = qa('[data-imacs-view="clusters"] .imacs-row-A [data-imacs-tile]');
    expect(inDom.length).toBeGreaterThan(30);
    expect(inDom.length).toBeLessThan(80);
    expect(q('[data-imacs-view="clusters"] .imacs-row-A [data-imacs-vrow]')).not.toBeNull();
  });
});

describe("kernel-only controls", () => {
  it("are disabled without a kernel (static report)", async () => {
    const { q } = mount(); // the host's invoke rejects: no kernel
    await settle();
    expect(q('[data-imacs-control="n-clusters"]').disabled).toBe(true);
    expect(q('[data-imacs-control="class"]').disabled).toBe(true);
    expect(q('[data-imacs-control="n-clusters"]').title).toContain("kernel");
    // a kernel that does not answer "_ping" is no kernel either: nothing else is sent
    const refusing = makeKernel({ handlers: { _ping: () => { throw new Error("gone"); } } });
    const m = mount({}, {}, refusing);
    await settle();
    const r = m.q('[data-imacs-control="n-clusters"]');
    expect(r.disabled).toBe(true);
    r.value = "5";
    r.dispatchEvent(new Event("change"));
    await settle();
    expect(refusing.sent.map((c) => c.name)).toEqual(["_ping"]);
  });

  it("a kernel of another payload version is not used", async () => {
    const m = mount({}, {}, makeKernel({ handlers: { _ping: () => ({ ok: true, version: 1 }) } }));
    await settle();
    expect(m.q('[data-imacs-control="n-clusters"]').disabled).toBe(true);
    expect(m.q(".imacs-notice").textContent).toContain("payload version 1");
  });

  it("re-cluster: command, busy until the answer, new payload drawn", async () => {
    let answer;
    const { q, model, el, kernel } = await mountLive({ n: 24, clusters: 3 }, {}, {
      handlers: {
        _recluster: (m, msg) => {
          // what the kernel does before it answers: new payload and trait
          m.set("_payload", makePayload({ n: 24, clusters: msg.n_clusters }));
          m.set("n_clusters", msg.n_clusters);
          answer = { ok: true, n_clusters: msg.n_clusters };
          return answer;
        },
      },
      delayMs: 20,
    });
    const r = q('[data-imacs-control="n-clusters"]');
    expect(r.disabled).toBe(false);
    expect(r.min).toBe("1");
    expect(r.max).toBe("10");
    r.value = "5";
    r.dispatchEvent(new Event("input"));
    r.dispatchEvent(new Event("change"));
    expect(kernel.sent.at(-1)).toEqual({ name: "_recluster", msg: { n_clusters: 5 } });
    expect(q(".imacs-busy").hidden).toBe(false);
    expect(r.disabled).toBe(true);
    expect(r.value).toBe("5"); // the requested value stays while busy
    await new Promise((res) => setTimeout(res, 40));
    await settle();
    expect(answer).toEqual({ ok: true, n_clusters: 5 });
    expect(q(".imacs-busy").hidden).toBe(true);
    expect(el.querySelectorAll('[data-imacs-view="clusters"] [data-imacs-cluster]')).toHaveLength(5);
    expect(r.value).toBe("5");
    expect(r.disabled).toBe(false);
    expect(model.get("n_clusters")).toBe(5);
  });

  it("a refused re-cluster shows the reason and the slider snaps back", async () => {
    const { q, kernel } = await mountLive({}, {}, {
      handlers: { _recluster: () => ({ ok: false, n_clusters: 3, error: "re-clustering ignored: n_clusters must be in 1..10" }) },
    });
    const r = q('[data-imacs-control="n-clusters"]');
    r.value = "4";
    r.dispatchEvent(new Event("change"));
    await settle();
    expect(kernel.sent.map((c) => c.name)).toEqual(["_ping", "_recluster"]);
    expect(q(".imacs-busy").hidden).toBe(true);
    expect(q(".imacs-notice").textContent).toContain("1..10");
    expect(r.value).toBe("3");
  });

  it("class switch is a command; the trait follows the kernel", async () => {
    const { q, model, kernel } = await mountLive({}, {}, { delayMs: 20 });
    const sel = q('[data-imacs-control="class"]');
    expect(sel.disabled).toBe(false);
    sel.value = "tulip";
    sel.dispatchEvent(new Event("change"));
    expect(kernel.sent.at(-1)).toEqual({ name: "_select_class", msg: { target_class: "tulip" } });
    expect(model.get("target_class")).toBe("sunflower"); // the front end never sets it
    expect(q(".imacs-busy").hidden).toBe(false);
    await new Promise((res) => setTimeout(res, 40));
    await settle();
    expect(model.get("target_class")).toBe("tulip");
    expect(q(".imacs-busy").hidden).toBe(true);
  });

  it("no answer ends the busy state with an error notice", async () => {
    const { q } = await mountLive({}, {}, { handlers: { _recluster: () => { throw new Error("comm closed"); } } });
    const r = q('[data-imacs-control="n-clusters"]');
    r.value = "4";
    r.dispatchEvent(new Event("change"));
    await settle();
    expect(q(".imacs-busy").hidden).toBe(true);
    expect(q(".imacs-notice").textContent).toContain("no answer from the kernel");
    expect(q(".imacs-notice").textContent).toContain("comm closed");
  });

  it("hover is sent to the kernel", async () => {
    vi.useFakeTimers();
    try {
      const { qa, kernel } = mount({ n: 8 }, {}, makeKernel());
      await vi.advanceTimersByTimeAsync(10);
      qa('[data-imacs-view="clusters"] [data-imacs-tile="5"]')[0].dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
      await vi.advanceTimersByTimeAsync(300);
      expect(kernel.sent.at(-1)).toEqual({ name: "_hover", msg: { segment: 5 } });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("anywidget entry", () => {
  it("render passes experimental.invoke and returns a cleanup that detaches listeners", async () => {
    const el = document.createElement("div");
    const model = makeModel(makeState(makePayload()));
    const kernel = makeKernel();
    const cleanup = widget.render({ model, el, experimental: { invoke: invokeFor(model, kernel) } });
    await settle();
    expect(kernel.sent[0]).toEqual({ name: "_ping", msg: {} });
    expect(el.querySelector(".imacs-root")).not.toBeNull();
    expect(Object.values(model._handlers).flat().length).toBeGreaterThan(0);
    cleanup();
    expect(Object.values(model._handlers).flat()).toHaveLength(0);
    expect(el.querySelector(".imacs-root")).toBeNull();
  });
});
