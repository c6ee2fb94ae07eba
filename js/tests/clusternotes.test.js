// @vitest-environment jsdom
// Names, notes and what-if tests of clusters (clusternotes.js, app.js): shown from the payload
// in the widget and the static report; with a kernel, ✎ and "What-if test" send the commands.
import { describe, it, expect, beforeEach } from "vitest";
import { createApp } from "../src/app.js";
import { unexplained } from "./unexplained.js";
import { makePayload, makeState, makeModel, makeKernel, invokeFor, settle } from "./fixtures.js";
import { progressView, progressText } from "../src/clusternotes.js";
import { progressInfo } from "../src/state.js";
import { GLOSSARY } from "../src/glossary.js";

const EVIL = "<img src=x onerror=alert(1)>";
const visible = (/** @type {Element} */ el) => !el.closest("[hidden]");

/** Mount on a payload edited by `edit`; `kernel` (fake_kernel.js options) or null: static. */
async function mount(edit = (/** @type {any} */ p) => p, kernel = null, stateExtra = {}, payloadOpts = {}) {
  const el = document.createElement("div");
  document.body.append(el);
  const model = makeModel(makeState(edit(makePayload({ n: 24, clusters: 3, ...payloadOpts })), stateExtra));
  const k = kernel ? makeKernel(kernel) : null;
  createApp(el, model, { invoke: invokeFor(model, k) });
  await settle();
  return { el, model, kernel: k, q: (/** @type {string} */ s) => el.querySelector(s), qa: (/** @type {string} */ s) => [...el.querySelectorAll(s)] };
}

/** A kernel handler that changes cluster `msg.cluster`'s payload entry like ImacsWidget (a new payload). */
const patch = (/** @type {(c: any, msg: any) => void} */ fn) => (/** @type {any} */ model, /** @type {any} */ msg) => {
  const p = structuredClone(model.get("_payload"));
  fn(p.clusters.find((/** @type {any} */ c) => c.id === msg.cluster), msg);
  model.set("_payload", p);
  return { ok: true, cluster: msg.cluster };
};

const RECORD = {
  cluster: 1, key: "abc", n_images: 32, seed: 0,
  rows: [
    { model: "A", name: "baseline", flip_to_target: 0.05, flip_to_target_ci: [0.01, 0.2], n_paste: 30, paste_score_change: 0.004, flip_from_target: null, flip_from_target_ci: null, n_remove: 0, remove_score_change: -0.01 },
    { model: "B", name: "watermarked", flip_to_target: 0.62, flip_to_target_ci: [0.45, 0.77], n_paste: 29, paste_score_change: 0.31, flip_from_target: 0.4, flip_from_target_ci: [0.2, 0.6], n_remove: 10, remove_score_change: -0.22 },
  ],
};

beforeEach(() => { document.body.replaceChildren(); });

describe("names and notes", () => {
  it("show the user's name, else the suggestion marked as one, and the note (escaped; under filters too)", async () => {
    const { q, qa, el, model } = await mount((p) => {
      p.clusters[0].name = "watermark";
      p.clusters[0].suggested_name = "honeycomb 41 %";
      p.clusters[1].suggested_name = "honeycomb 41 %, chain mail 22 %";
      p.clusters[1].suggested_by = "EfficientNet-Lite0's ImageNet head";
      p.clusters[2].name = EVIL;
      p.clusters[2].note = `${EVIL}\nsecond line`;
      return p;
    });
    expect(q('[data-imacs-cluster="0"] [data-imacs-name]').textContent).toBe("“watermark”");
    expect(q('[data-imacs-cluster="0"] [data-imacs-suggested]')).toBeNull();
    const sug = q('[data-imacs-cluster="1"] [data-imacs-suggested]');
    expect(sug.textContent).toBe("suggested: honeycomb 41 %, chain mail 22 %");
    expect(sug.title).toContain("(by EfficientNet-Lite0's ImageNet head)");
    expect(sug.title).toContain("A suggested name, not the user's");
    expect(q('[data-imacs-cluster="2"] [data-imacs-note]').textContent).toBe(`${EVIL}\nsecond line`);
    expect(el.querySelectorAll("img, script")).toHaveLength(0);
    expect(qa("[data-imacs-edit], [data-imacs-intervene]")).toHaveLength(0); // no kernel
    expect(unexplained(el, visible).bad).toEqual([]);
    model.set("outcomes", ["TP", "FP"]);
    expect(q('[data-imacs-cluster="0"] [data-imacs-name]')).not.toBeNull();
    model.set("view", "histogram");
    expect(q('[data-imacs-view="histogram"] [data-imacs-cluster="0"] [data-imacs-name]').textContent).toBe("“watermark”");
  });

  it("✎ opens a form (without opening the cluster); Save sends what changed, the new payload shows it", async () => {
    const { q, model, kernel } = await mount((p) => p, {}); // fake_kernel.js edits the payload like the kernel
    q('[data-imacs-edit="1"]').click();
    expect(model.get("selected_cluster")).toBe(null);
    const name = q('[data-imacs-form="1"] [data-imacs-draft="name"]');
    const note = q('[data-imacs-form="1"] [data-imacs-draft="note"]');
    expect(document.activeElement).toBe(name);
    name.value = "  watermark "; name.dispatchEvent(new Event("input", { bubbles: true }));
    model.set("order", "size"); // a re-render keeps the draft
    expect(q('[data-imacs-form="1"] [data-imacs-draft="name"]').value).toBe("  watermark ");
    note.value = "B's shortcut"; q('[data-imacs-form="1"] [data-imacs-draft="note"]').value = "B's shortcut";
    q('[data-imacs-form="1"] [data-imacs-draft="note"]').dispatchEvent(new Event("input", { bubbles: true }));
    q('[data-imacs-form="1"]').click();
    expect(model.get("selected_cluster")).toBe(null);
    q('[data-imacs-edit-save="1"]').click();
    await settle();
    const sent = kernel.sent.filter((c) => c.name !== "_ping");
    expect(sent).toEqual([
      { name: "_rename_cluster", msg: { cluster: 1, name: "watermark" } },
      { name: "_annotate_cluster", msg: { cluster: 1, note: "B's shortcut" } },
    ]);
    expect(q("[data-imacs-form]")).toBeNull();
    expect(q('[data-imacs-cluster="1"] [data-imacs-name]').textContent).toBe("“watermark”");
    expect(q('[data-imacs-cluster="1"] [data-imacs-note]').textContent).toBe("B's shortcut");
    // an empty name clears it; the note unchanged is not sent again
    q('[data-imacs-edit="1"]').click();
    expect(q('[data-imacs-draft="name"]').value).toBe("watermark");
    q('[data-imacs-draft="name"]').value = "";
    q('[data-imacs-draft="name"]').dispatchEvent(new Event("input", { bubbles: true }));
    q('[data-imacs-draft="name"]').dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    await settle();
    expect(kernel.sent.at(-1)).toEqual({ name: "_rename_cluster", msg: { cluster: 1, name: null } });
    expect(kernel.sent.filter((c) => c.name === "_annotate_cluster")).toHaveLength(1);
    expect(q('[data-imacs-cluster="1"] [data-imacs-name]')).toBeNull();
  });

  it("a refusal is shown and the form stays open with the text typed; Cancel closes it", async () => {
    const { q } = await mount((p) => p, { handlers: { _rename_cluster: () => ({ ok: false, cluster: 0, error: `renaming a cluster failed: name: is 201 characters long; at most 200 ${EVIL}` }) } });
    q('[data-imacs-edit="0"]').click();
    q('[data-imacs-draft="name"]').value = "x";
    q('[data-imacs-draft="name"]').dispatchEvent(new Event("input", { bubbles: true }));
    q('[data-imacs-edit-save="0"]').click();
    await settle();
    expect(q(".imacs-notice").textContent).toContain("at most 200");
    expect(q('[data-imacs-form="0"] [data-imacs-draft="name"]').value).toBe("x");
    expect(document.querySelectorAll("img")).toHaveLength(0);
    q('[data-imacs-edit-cancel="0"]').click();
    expect(q("[data-imacs-form]")).toBeNull();
  });
});

describe("what-if test", () => {
  it("the button runs it in the kernel (busy meanwhile); the results show on the cluster", async () => {
    const { q, qa, model, kernel, el } = await mount((p) => p, {
      delayMs: 20,
      handlers: { _intervene: patch((c) => { c.intervention = { ...RECORD, cluster: c.id }; }) },
    });
    expect(qa("[data-imacs-intervene]")).toHaveLength(3);
    q('[data-imacs-intervene="1"]').click();
    expect(model.get("selected_cluster")).toBe(null);
    expect(kernel.sent.at(-1)).toEqual({ name: "_intervene", msg: { cluster: 1 } });
    expect(q(".imacs-busy").hidden).toBe(false);
    expect(q(".imacs-busy").textContent).toContain("What-if test of cluster 1");
    expect(q('[data-imacs-intervene="1"]').textContent).toBe("running what-if test…");
    expect(q('[data-imacs-intervene="0"]').disabled).toBe(true);
    await settle();
    expect(q(".imacs-busy").hidden).toBe(true);
    const panel = q('[data-imacs-cluster="1"] [data-imacs-whatif="1"]');
    expect(panel).not.toBeNull();
    expect(panel.querySelector('[data-imacs-flip-to="B"]').textContent).toBe("pasted: switches to “sunflower” 62 % [45, 77] of 29");
    expect(panel.querySelector('[data-imacs-flip-from="B"]').textContent).toBe("removed: loses “sunflower” 40 % [20, 60] of 10");
    expect(panel.querySelector('[data-imacs-flip-from="A"]').textContent).toBe("removed: loses “sunflower” n/a (no image could flip, n = 0)");
    expect(panel.querySelector('[data-imacs-whatif-model="B"]').textContent).toContain("score +0.310");
    expect(panel.querySelector('[data-imacs-flip-to="B"]').title).toContain("95 % Wilson interval");
    expect(unexplained(el, visible).bad).toEqual([]);
    expect(q('[data-imacs-intervene="1"]').textContent).toBe("What-if test");
  });

  it("shows the kernel's progress while it runs (overlay text, bar, tooltip, the button), gone at the end", async () => {
    /** @type {() => void} */
    let finish = () => {};
    const done = patch((c) => { c.intervention = { ...RECORD, cluster: c.id }; });
    const { q, qa, model, el } = await mount((p) => p, {
      handlers: {
        _intervene: (/** @type {any} */ m, /** @type {any} */ msg) => new Promise((resolve) => {
          // like ImacsWidget: _busy, then _progress from the test's ticks, both sent while it runs
          m.set("_busy", true);
          m.set("_progress", { task: `what-if test, cluster ${msg.cluster}`, done: 0, total: 1024 });
          finish = () => {
            const answer = done(m, msg);
            m.set("_progress", null);
            m.set("_busy", false);
            resolve(answer);
          };
        }),
      },
    });
    q('[data-imacs-intervene="1"]').click();
    await settle();
    expect(q(".imacs-busy").hidden).toBe(false);
    expect(q(".imacs-busy [data-imacs-progress]").dataset.imacsProgress).toBe("0/1024");
    expect(q('[data-imacs-intervene="1"]').textContent).toBe("running what-if test… 0 / 1,024");
    model.set("_progress", { task: "what-if test, cluster 1", done: 412, total: 1024 });
    const prog = q(".imacs-busy [data-imacs-progress]");
    expect(qa("[data-imacs-progress]")).toHaveLength(1);
    expect(prog.dataset.imacsProgress).toBe("412/1024");
    expect(prog.textContent).toBe("What-if test: 412 / 1,024 images");
    expect(prog.querySelector(".imacs-progress-fill").style.width).toBe("40.2%");
    expect(prog.querySelector("[role='progressbar']").getAttribute("aria-valuenow")).toBe("412");
    expect(prog.dataset.imacsMeasure).toBe("progress");
    expect(prog.title).toBe(`what-if test, cluster 1: 412 of 1,024 images scored (40 %)\n\n${GLOSSARY.progress}`);
    expect(q(".imacs-busy").textContent).toContain("What-if test of cluster 1");
    expect(q('[data-imacs-intervene="1"]').textContent).toBe("running what-if test… 412 / 1,024");
    model.set("selected_cluster", 0); // a re-render keeps the count on the button
    expect(q('[data-imacs-intervene="1"]').textContent).toBe("running what-if test… 412 / 1,024");
    expect(q('[data-imacs-intervene="1"]').dataset.imacsMeasure).toBe("progress");
    expect(unexplained(el, visible).bad).toEqual([]);
    model.set("_progress", null); // cleared just before the answer: no stale count or tooltip
    expect(qa("[data-imacs-progress]")).toHaveLength(0);
    expect(q('[data-imacs-intervene="1"]').textContent).toBe("running what-if test…");
    expect(q('[data-imacs-intervene="1"]').dataset.imacsMeasure).toBeUndefined();
    expect(q('[data-imacs-intervene="1"]').title).toContain("Paste its segments");
    expect(q(".imacs-busy-text").dataset.imacsMeasure).toBeUndefined();
    finish();
    await settle();
    expect(qa("[data-imacs-progress]")).toHaveLength(0);
    expect(q(".imacs-busy").hidden).toBe(true);
    expect(q('[data-imacs-intervene="1"]').textContent).toBe("What-if test");
    expect(q('[data-imacs-whatif="1"]')).not.toBeNull();
  });

  it("reads the progress trait defensively", () => {
    expect(progressInfo(null)).toBeNull();
    expect(progressInfo({ task: "t", done: 1 })).toBeNull();
    expect(progressInfo({ task: "t", done: 1, total: 0 })).toBeNull();
    expect(progressInfo({ task: "t", done: -1, total: 4 })).toBeNull();
    expect(progressInfo({ task: "t", done: 1.5, total: 4 })).toBeNull();
    expect(progressInfo({ task: 3, done: 1, total: 4 })).toBeNull();
    expect(progressInfo({ task: "t", done: 9, total: 4 })).toEqual({ task: "t", done: 4, total: 4 });
    expect(progressView({ task: "t", done: "1", total: 4 })).toBeNull();
    expect(progressText({ task: "what-if test, cluster 4", done: 1024, total: 1024 })).toBe("What-if test: 1,024 / 1,024 images");
    const evil = progressView({ task: EVIL, done: 1, total: 2 });
    expect(evil.querySelectorAll("img, script")).toHaveLength(0);
    expect(evil.textContent).toBe(`${EVIL.charAt(0).toUpperCase()}${EVIL.slice(1)}: 1 / 2 images`);
  });

  it("a refusal (e.g. a loaded result without models) is shown on the cluster and in the notice", async () => {
    const error = "the what-if test failed: models: a loaded result holds no models; pass models={...}";
    const { q } = await mount((p) => p, { handlers: { _intervene: () => ({ ok: false, cluster: 2, error }) } });
    q('[data-imacs-intervene="2"]').click();
    await settle();
    expect(q('[data-imacs-cluster="2"] [data-imacs-whatif-error="2"]').textContent).toBe(error);
    expect(q(".imacs-notice").textContent).toContain("a loaded result holds no models");
    expect(q('[data-imacs-whatif="2"]')).toBeNull();
  });

  it("the static report shows a computed test, without buttons", async () => {
    const { q, qa } = await mount((p) => { p.clusters[1].intervention = RECORD; return p; });
    expect(qa("[data-imacs-intervene]")).toHaveLength(0);
    expect(q('[data-imacs-whatif="1"] [data-imacs-flip-to="A"]').textContent).toBe("pasted: switches to “sunflower” 5 % [1, 20] of 30");
    expect(q('[data-imacs-whatif="1"]').textContent).toContain("up to 32 images each, seed 0");
  });
});

describe("the histogram tab and the segment map", () => {
  it("the histogram tab shows each cluster's note and computed what-if test, explained", async () => {
    const { q, qa, el } = await mount((p) => {
      p.clusters[1].intervention = RECORD;
      p.clusters[2].name = "sky";
      p.clusters[2].note = `${EVIL}\nsecond line`;
      return p;
    }, {}, { view: "histogram" });
    const view = '[data-imacs-view="histogram"]';
    expect(q(`${view} [data-imacs-cluster="2"] [data-imacs-note="2"]`).textContent).toBe(`${EVIL}\nsecond line`);
    expect(q(`${view} [data-imacs-cluster="2"] [data-imacs-name="2"]`).textContent).toBe("“sky”");
    const panel = q(`${view} [data-imacs-cluster="1"] [data-imacs-whatif="1"]`);
    expect(panel.querySelectorAll("[data-imacs-whatif-model]")).toHaveLength(2);
    expect(panel.querySelector('[data-imacs-flip-to="A"]').textContent).toBe("pasted: switches to “sunflower” 5 % [1, 20] of 30");
    expect(panel.querySelector('[data-imacs-flip-from="B"]').textContent).toBe("removed: loses “sunflower” 40 % [20, 60] of 10");
    expect(qa(`${view} [data-imacs-note]`)).toHaveLength(1);
    expect(qa(`${view} [data-imacs-whatif]`)).toHaveLength(1);
    expect(q(`${view} [data-imacs-cluster="0"] .imacs-hnotes`)).toBeNull(); // nothing to show
    // the buttons stay in the clusters tab
    expect(qa(`${view} [data-imacs-edit], ${view} [data-imacs-intervene]`)).toHaveLength(0);
    expect(el.querySelectorAll("img, script")).toHaveLength(0);
    expect(unexplained(el, visible).bad).toEqual([]);
  });

  it("the histogram tab shows a what-if refusal on its cluster too", async () => {
    const error = "the what-if test failed: a loaded result holds no models";
    const { q, model } = await mount((p) => p, { handlers: { _intervene: () => ({ ok: false, error }) } });
    q('[data-imacs-intervene="2"]').click();
    await settle();
    model.set("view", "histogram");
    expect(q('[data-imacs-view="histogram"] [data-imacs-cluster="2"] [data-imacs-whatif-error="2"]').textContent).toBe(error);
  });

  it("the map legend names each cluster: the user's name, else the suggestion marked as one", async () => {
    const { q, qa, el } = await mount((p) => {
      p.clusters[0].name = EVIL;
      p.clusters[1].suggested_name = "honeycomb 41 %, chain mail 22 %";
      return p;
    }, null, { view: "map" }, { map: true });
    const key = (/** @type {number} */ id) => q(`[data-imacs-map-cluster="${id}"]`);
    expect(qa("[data-imacs-map-cluster]")).toHaveLength(3);
    expect(key(0).querySelector("[data-imacs-name]").textContent).toBe(`“${EVIL}”`);
    expect(key(0).querySelector("[data-imacs-name]").title).toContain("given by the user");
    const sug = key(1).querySelector("[data-imacs-suggested]");
    expect(sug.textContent).toBe("suggested: honeycomb 41 %, chain mail 22 %");
    expect(sug.title).toContain("A suggested name, not the user's");
    expect(key(2).querySelector("[data-imacs-name], [data-imacs-suggested]")).toBeNull();
    expect(key(2).textContent).toMatch(/^Cluster 2 · \d+$/);
    expect(el.querySelectorAll("img, script")).toHaveLength(0);
    expect(unexplained(el, visible).bad).toEqual([]);
  });
});

describe("clicks", () => {
  it("a click on the block around the buttons or on the results still opens the cluster", async () => {
    const { q, model } = await mount((p) => { p.clusters[1].intervention = RECORD; return p; }, {});
    q('[data-imacs-cluster="1"] .imacs-cluster-actions').click();
    expect(model.get("selected_cluster")).toBe(1);
    q('[data-imacs-whatif="1"]').click();
    expect(model.get("selected_cluster")).toBe(null);
    q('[data-imacs-edit="1"]').click();
    q('[data-imacs-form="1"]').click();
    expect(model.get("selected_cluster")).toBe(null);
  });

  it("the fake kernel refuses a what-if test like a result without models", async () => {
    const { q } = await mount((p) => p, {});
    q('[data-imacs-intervene="0"]').click();
    await settle();
    expect(q('[data-imacs-whatif-error="0"]').textContent).toContain("runs no model");
  });
});
