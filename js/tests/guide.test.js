// @vitest-environment jsdom
// "How to read this" (guide.js): open on first view, walks through the views, the top finding
// as the worked example (with the cluster's name or suggestion), a button that opens it.
import { describe, it, expect, beforeEach } from "vitest";
import { createApp } from "../src/app.js";
import { makePayload, makeState, makeModel, invokeFor } from "./fixtures.js";

function mount(edit = (/** @type {any} */ p) => p, stateExtra = {}) {
  const el = document.createElement("div");
  document.body.append(el);
  const model = makeModel(makeState(edit(makePayload({ n: 24, clusters: 3 })), stateExtra));
  createApp(el, model, { invoke: invokeFor(model, null) });
  return { el, model, q: (/** @type {string} */ s) => el.querySelector(s) };
}

beforeEach(() => { document.body.replaceChildren(); });

describe("how to read this", () => {
  it("is in the header, open on first view, after the findings; it stays closed once closed", () => {
    const { q, model } = mount();
    const guide = q(".imacs-header [data-imacs-guide]");
    expect(guide.tagName).toBe("DETAILS");
    expect(guide.open).toBe(true);
    expect(guide.querySelector("summary").textContent).toBe("How to read this");
    expect(q("[data-imacs-findings]").compareDocumentPosition(guide) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    for (const words of ["border colour", "bar under a tile", "95 % interval", "removal effect", "n.s.", "confusion matrices", "Segment map"]) {
      expect(guide.textContent).toContain(words);
    }
    guide.open = false;
    guide.dispatchEvent(new Event("toggle"));
    model.set("order", "size"); // any re-render
    expect(q("[data-imacs-guide]").open).toBe(false);
  });

  it("walks through the top finding: its model, cluster, means, outcome; the button opens it", () => {
    const { q, model } = mount((p) => {
      p.findings[0].mean_attribution = { A: 0.06, B: 0.24 };
      p.findings[0].ci = { A: [0.03, 0.09], B: [0.19, 0.29] };
      p.findings[0].removal = { A: 0.08, B: 0.33 };
      return p;
    });
    const ex = q("[data-imacs-guide] .imacs-guide-example");
    expect(q("[data-imacs-guide]").dataset.imacsGuide).toBe("0");
    expect(ex.textContent).toContain("the top finding: watermarked relies on cluster 0.");
    expect(ex.textContent).toContain("watermarked's mean attribution +0.24 [0.19, 0.29] stands against baseline's +0.060 [0.030, 0.090] (q < 0.001)");
    expect(ex.textContent).toContain("come from its false positives");
    expect(ex.textContent).toContain("lowers watermarked's score for “sunflower” by 0.33 on average");
    expect(ex.textContent).toContain("result.intervene(cluster)"); // no kernel: how to in Python
    ex.querySelector("[data-imacs-open-cluster]").click();
    expect(model.get("selected_cluster")).toBe(0);
    expect(q('[data-imacs-view="clusters"] [data-imacs-cluster="0"] [data-imacs-view="confusion"]')).not.toBeNull();
  });

  it("names the cluster by its user name, else marks the suggestion", () => {
    let { q } = mount((p) => { p.clusters[0].suggested_name = "honeycomb 41 %, chain mail 22 %"; return p; });
    expect(q(".imacs-guide-example").textContent).toContain("Look at its tiles — suggested: honeycomb 41 %, chain mail 22 %");
    document.body.replaceChildren();
    ({ q } = mount((p) => { p.clusters[0].suggested_name = "honeycomb 41 %"; p.clusters[0].name = "watermark"; return p; }));
    expect(q(".imacs-guide-example").textContent).toContain("Look at its tiles — you named them “watermark”");
  });

  it("without a finding: the walk-through only", () => {
    const { q } = mount((p) => { p.findings = []; return p; });
    expect(q("[data-imacs-guide]")).not.toBeNull();
    expect(q(".imacs-guide-example")).toBeNull();
    expect(q("[data-imacs-guide]").dataset.imacsGuide).toBe("");
  });
});
