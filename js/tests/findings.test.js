// @vitest-environment jsdom
// The findings panel (findings.js) and how sure each cluster row is: n.s. marking, intervals,
// q-values; shown for the unfiltered view only.
import { describe, it, expect, beforeEach } from "vitest";
import { createApp } from "../src/app.js";
import { fmtInterval, fmtQ } from "../src/findings.js";
import { GLOSSARY, levelText, tipText } from "../src/glossary.js";
import { makePayload, makeState, makeModel, invokeFor } from "./fixtures.js";

/** Mount the app as the static report does (no kernel). */
function mount(payloadOpts = {}, stateExtra = {}, edit = (/** @type {any} */ p) => p) {
  const el = document.createElement("div");
  document.body.append(el);
  const model = makeModel(makeState(edit(makePayload(payloadOpts)), stateExtra));
  const app = createApp(el, model, { invoke: invokeFor(model, null) });
  return { el, model, app, q: (/** @type {string} */ s) => el.querySelector(s), qa: (/** @type {string} */ s) => [...el.querySelectorAll(s)] };
}

/** @param {HTMLElement} input */
function uncheck(input) {
  /** @type {HTMLInputElement} */ (input).checked = false;
  input.dispatchEvent(new Event("change", { bubbles: true }));
}

beforeEach(() => { document.body.replaceChildren(); });

describe("findings panel", () => {
  it("heads the widget with one button per finding, Python's sentence as its text", () => {
    const { q, qa } = mount({ n: 24, clusters: 3 });
    const panel = q(".imacs-header [data-imacs-findings]");
    expect(panel).not.toBeNull();
    expect(panel.dataset.imacsFindings).toBe("1");
    const buttons = qa("[data-imacs-finding]");
    expect(buttons).toHaveLength(1);
    expect(buttons[0].tagName).toBe("BUTTON");
    expect(buttons[0].dataset.imacsFinding).toBe("0");
    expect(buttons[0].textContent).toMatch(/^B relies on cluster 0 \(8 segments.*q < 0\.001\.$/);
    expect(q("[data-imacs-finding-none]")).toBeNull();
    // the panel comes before the views
    expect(panel.compareDocumentPosition(q('[data-imacs-view="clusters"]')) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
  });

  it("clicking a finding opens its cluster (selected, confusion matrices), from any tab", () => {
    const { q, model } = mount({ n: 24, clusters: 3 }, { view: "map" });
    q("[data-imacs-finding]").click();
    expect(model.get("selected_cluster")).toBe(0);
    expect(model.get("view")).toBe("clusters");
    const block = q('[data-imacs-view="clusters"] [data-imacs-cluster="0"]');
    expect(block.classList.contains("imacs-selected")).toBe(true);
    expect(block.querySelector('[data-imacs-view="confusion"]')).not.toBeNull();
    expect(document.activeElement).toBe(block);
    // a second click keeps it open (a finding opens, it does not toggle)
    q("[data-imacs-finding]").click();
    expect(model.get("selected_cluster")).toBe(0);
    expect(q('[data-imacs-cluster="0"] [data-imacs-view="confusion"]')).not.toBeNull();
  });

  it("says plainly when there is no significant difference", () => {
    const { q, qa } = mount({ n: 24, clusters: 3, findings: false }, {}, (p) => {
      p.clusters.forEach((/** @type {any} */ c) => { c.significant = false; c.q_value = 0.6; });
      return p;
    });
    expect(qa("[data-imacs-finding]")).toHaveLength(0);
    expect(q("[data-imacs-findings]").dataset.imacsFindings).toBe("0");
    expect(q("[data-imacs-finding-none]").textContent).toMatch(/^No significant difference between the models/);
  });

  it("lists the first five findings, the rest behind \"N more findings\"", () => {
    const { qa, q } = mount({ n: 56, clusters: 7 }, {}, (p) => {
      p.clusters.forEach((/** @type {any} */ c) => { c.significant = true; c.q_value = 0.001 * (c.id + 1); });
      p.findings = p.clusters.map((/** @type {any} */ c, k) => ({ ...p.findings[0], rank: k + 1, cluster: c.id, q_value: c.q_value, sentence: `finding about cluster ${c.id}` }));
      return p;
    });
    expect(q("[data-imacs-findings]").dataset.imacsFindings).toBe("7");
    expect(qa(".imacs-findings > ol [data-imacs-finding]").map((b) => b.dataset.imacsFinding)).toEqual(["0", "1", "2", "3", "4"]);
    const more = q(".imacs-findings-more");
    expect(more.open).toBe(false);
    expect(more.querySelector("summary").textContent).toBe("2 more findings");
    expect([...more.querySelectorAll("[data-imacs-finding]")].map((b) => b.textContent)).toEqual(["finding about cluster 5", "finding about cluster 6"]);
    expect(more.querySelector("ol").getAttribute("start")).toBe("6");
    expect(qa("[data-imacs-view='clusters'] [data-imacs-significant='true']")).toHaveLength(7);
  });

  it("says when no test could run (no q-value anywhere), and marks no row", () => {
    const { q, qa } = mount({ n: 24, clusters: 3, findings: false }, {}, (p) => {
      p.clusters.forEach((/** @type {any} */ c) => { c.significant = false; c.q_value = null; c.p_value = null; });
      return p;
    });
    expect(q("[data-imacs-finding-none]").dataset.imacsFindingNone).toBe("untested");
    expect(q("[data-imacs-finding-none]").textContent).toMatch(/^No test of the difference between the models could run/);
    expect(qa("[data-imacs-significant]")).toHaveLength(0);
    expect(qa(".imacs-not-significant")).toHaveLength(0);
    expect(qa("[data-imacs-ci]").length).toBeGreaterThan(0); // the intervals are still known
  });

  it("no panel and no marks for a payload without statistics; a finding of an unknown cluster is left out", () => {
    const plain = mount({ n: 24, clusters: 3, findings: false }, {}, (p) => ({ ...p, clusters: p.clusters.map((/** @type {any} */ c) => ({ id: c.id })) }));
    expect(plain.q("[data-imacs-findings]")).toBeNull();
    expect(plain.qa("[data-imacs-significant]")).toHaveLength(0);
    expect(plain.qa("[data-imacs-ci]")).toHaveLength(0);
    expect(plain.qa(".imacs-not-significant")).toHaveLength(0);
    document.body.replaceChildren();
    const stray = mount({ n: 24, clusters: 3 }, {}, (p) => ({ ...p, findings: [...p.findings, { ...p.findings[0], cluster: 9, sentence: "about cluster 9" }] }));
    expect(stray.qa("[data-imacs-finding]").map((b) => b.dataset.imacsFinding)).toEqual(["0"]);
  });

  it("escapes the sentence (no markup injection)", () => {
    const evil = "<img src=x onerror=alert(1)>";
    const { q, el } = mount({ n: 24, clusters: 3 }, {}, (p) => { p.findings[0].sentence = evil; return p; });
    expect(q("[data-imacs-finding]").textContent).toBe(evil);
    expect(el.querySelector("img[src='x']")).toBeNull();
  });
});

describe("the result's own significance level", () => {
  it("a result judged at 0.01 says so: the panel, its tooltips, the badges' and the guide's", () => {
    // no finding: the panel's plain sentence names the level
    const none = mount({ n: 24, clusters: 3, findings: false, level: 0.01 }, {}, (p) => {
      p.clusters.forEach((/** @type {any} */ c) => { c.significant = false; c.q_value = 0.03; });
      return p;
    });
    expect(none.q("[data-imacs-finding-none]").textContent).toMatch(/\(no q-value below the level, 0\.01 here\)\.$/);
    const tips = none.qa('[data-imacs-measure="findings"], [data-imacs-measure="significance"]').map((e) => e.title);
    expect(tips.length).toBeGreaterThan(3);
    for (const t of tips) {
      expect(t).toMatch(/below the level \(0\.01 here\)/);
      expect(t).not.toMatch(/0\.05/);
    }
    expect(none.q(".imacs-guide").textContent).toMatch(/q-value below the level, 0\.01 here\)/);
    expect(none.q(".imacs-guide").textContent).not.toMatch(/0\.05 by default/);
    // with findings: the heading's and the badges' tooltips
    document.body.replaceChildren();
    const some = mount({ n: 24, clusters: 3, level: 0.01 });
    expect(some.q(".imacs-findings-head [data-imacs-measure]").title).toMatch(/below the level \(0\.01 here\)/);
    expect(some.q('[data-imacs-cluster="0"] [data-imacs-significant="true"]').title).toMatch(/Significant when q is below the level \(0\.01 here\)/);
  });

  it("the default level is named as the result's; a payload without one says 0.05 by default", () => {
    const five = mount({ n: 24, clusters: 3 });
    expect(five.q('[data-imacs-significant="false"]').title).toMatch(/below the level \(0\.05 here\)/);
    document.body.replaceChildren();
    const old = mount({ n: 24, clusters: 3 }, {}, (p) => { delete p.significance_level; return p; });
    expect(old.q('[data-imacs-significant="false"]').title).toMatch(/below the level \(0\.05 by default\)/);
    expect(old.q(".imacs-guide").textContent).toMatch(/0\.05 by default/);
  });

  it("levelText formats the level, and refuses what is not one", () => {
    expect(levelText(0.01)).toBe("0.01 here");
    expect(levelText(0.1)).toBe("0.1 here");
    expect(levelText(1 / 3)).toBe("0.333333 here");
    for (const bad of [undefined, null, "0.01", 0, 1, NaN, -0.1]) expect(levelText(bad)).toBe("0.05 by default");
    expect(tipText("significance", "x", 0.02)).toMatch(/^x\n\n.*below the level \(0\.02 here\)/);
    expect(tipText("significance")).toBe(GLOSSARY.significance);
  });
});

describe("how sure each cluster is", () => {
  it("marks the clusters that are not significant and shows each model's interval and q", () => {
    const { q, qa } = mount({ n: 24, clusters: 3 });
    const view = '[data-imacs-view="clusters"]';
    expect(q(`${view} [data-imacs-cluster="0"]`).classList.contains("imacs-not-significant")).toBe(false);
    for (const id of [1, 2]) expect(q(`${view} [data-imacs-cluster="${id}"]`).classList.contains("imacs-not-significant")).toBe(true);
    const sig = q(`${view} [data-imacs-cluster="0"] [data-imacs-significant]`);
    expect(sig.dataset.imacsSignificant).toBe("true");
    expect(sig.textContent).toBe("q < 0.001");
    const ns = q(`${view} [data-imacs-cluster="1"] [data-imacs-significant]`);
    expect(ns.dataset.imacsSignificant).toBe("false");
    expect(ns.textContent).toBe("n.s.");
    expect(ns.title).toMatch(/q = 0\.520/);
    // cluster 0: A [0.19, 0.29], B [0.06, 0.09]
    const ci = Object.fromEntries(qa(`${view} [data-imacs-cluster="0"] [data-imacs-ci]`).map((s) => [s.dataset.imacsCi, s.textContent]));
    expect(ci).toEqual({ A: " [0.19, 0.29]", B: " [0.060, 0.090]" });
    const mean = q(`${view} [data-imacs-cluster="0"] .imacs-cluster-mean`).textContent;
    expect(mean).toMatch(/mean [+−]\d\.\d{3} \[0\.19, 0\.29\]/);
    expect(q(`${view} [data-imacs-cluster="0"] [data-imacs-ci="A"]`).title).toMatch(/^baseline's mean attribution here lies in \[0\.19, 0\.29\] \(95 %\).*\(q < 0\.001\)\n\n95 % bootstrap interval over images/);
  });

  it("the histogram tab marks them too", () => {
    const { q } = mount({ n: 24, clusters: 3 }, { view: "histogram" });
    const view = '[data-imacs-view="histogram"]';
    expect(q(`${view} [data-imacs-cluster="1"]`).classList.contains("imacs-not-significant")).toBe(true);
    expect(q(`${view} [data-imacs-cluster="1"] [data-imacs-significant]`).textContent).toBe("n.s.");
    expect(q(`${view} [data-imacs-cluster="0"] [data-imacs-ci="B"]`).textContent).toBe(" [0.060, 0.090]");
  });

  it("under an outcome or model filter the kernel's numbers are hidden (they are of all segments)", () => {
    for (const sel of ['[data-imacs-control="outcomes"] input[value="TP"]', '[data-imacs-control="models"] input[value="B"]']) {
      document.body.replaceChildren();
      const { q, qa } = mount({ n: 24, clusters: 3 });
      expect(qa("[data-imacs-significant]").length).toBeGreaterThan(0);
      uncheck(q(sel));
      expect(qa("[data-imacs-view='clusters'] [data-imacs-cluster]").length).toBeGreaterThan(0);
      expect(qa("[data-imacs-significant]")).toHaveLength(0);
      expect(qa("[data-imacs-ci]")).toHaveLength(0);
      expect(qa(".imacs-not-significant")).toHaveLength(0);
      // the findings panel stays: it says what the whole result shows
      expect(qa("[data-imacs-finding]")).toHaveLength(1);
    }
  });

  it("formats intervals and q-values as Python's sentences do", () => {
    expect(fmtInterval([0.19, 0.29])).toBe("[0.19, 0.29]");
    expect(fmtInterval([0.03, 0.09])).toBe("[0.030, 0.090]");
    expect(fmtInterval([-0.0123, 0.004])).toBe("[−0.012, 0.004]");
    expect(fmtInterval([0.001, 0.002])).toBe("[0.0010, 0.0020]");
    expect(fmtInterval(null)).toBe("");
    expect(fmtInterval(/** @type {any} */ ([0.1, null]))).toBe("");
    expect(fmtQ(0.0002)).toBe("q < 0.001");
    expect(fmtQ(0.008)).toBe("q = 0.008");
    expect(fmtQ(null)).toBe("q n/a");
    expect(fmtQ(0.04, "p")).toBe("p = 0.040");
  });
});
