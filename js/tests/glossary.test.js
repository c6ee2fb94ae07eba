// @vitest-environment jsdom
// Every number and chart says what it measures (issue 22): the glossary, the marker and the
// scanner the browser tests also run (unexplained.js).
import { describe, it, expect, beforeEach } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { createApp } from "../src/app.js";
import { GLOSSARY, explain, tipText } from "../src/glossary.js";
import { h, s } from "../src/dom.js";
import { unexplained } from "./unexplained.js";
import { makePayload, makeState, makeModel, invokeFor } from "./fixtures.js";

const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==";
const visible = (el) => !el.closest("[hidden]");

function mount(p, extra = {}) {
  const el = document.createElement("div");
  document.body.append(el);
  const model = makeModel(makeState(p, extra));
  createApp(el, model, { invoke: invokeFor(model, null) });
  return { el, model };
}

function fullPayload(opts = {}) {
  const p = makePayload({ n: 48, clusters: 4, map: true, ...opts });
  p.warnings = ["3 images short for A, TP"];
  p.class_pictures = { A: { png: PNG, tile: 16, best_log_odds: 6.5, mean_log_odds: 5.1, blank_log_odds: -0.2 }, B: { png: PNG, tile: 16, best_log_odds: 11.25, mean_log_odds: 9, blank_log_odds: 0.1 } };
  return p;
}

beforeEach(() => { document.body.replaceChildren(); });

describe("glossary", () => {
  it("explain() marks an element and gives it the detail, then the definition", () => {
    const span = explain(h("span", { text: "+0.1" }), "mean", "A: mean +0.1");
    expect(span.dataset.imacsMeasure).toBe("mean");
    expect(span.title).toBe(`A: mean +0.1\n\n${GLOSSARY.mean}`);
    const svg = explain(s("svg", {}, [s("title", { text: "old" }), s("rect")]), "histogram");
    expect(svg.getAttribute("data-imacs-measure")).toBe("histogram");
    expect(svg.querySelectorAll(":scope > title")).toHaveLength(1);
    expect(svg.firstElementChild.textContent).toBe(GLOSSARY.histogram);
    expect(tipText("ci")).toBe(GLOSSARY.ci);
  });

  it("every definition is used by a view (tsc checks that every key used is defined)", () => {
    const dir = path.resolve(import.meta.dirname, "../src");
    const src = readdirSync(dir).filter((n) => n.endsWith(".js") && n !== "glossary.js")
      .map((f) => readFileSync(path.join(dir, f), "utf8")).join("\n");
    const unused = Object.keys(GLOSSARY).filter((k) => !src.includes(`"${k}"`));
    expect(unused).toEqual([]);
  });

  it("wording follows Python's definitions", () => {
    expect(GLOSSARY.removal).toContain("v(all) − v(all without them)");
    expect(GLOSSARY.faithfulness).toContain("(insertion area − deletion area) / 2");
    expect(GLOSSARY.consensus).toContain("a quarter of the reference bar"); // summary.CONSENSUS_FRACTION
    expect(GLOSSARY.ci).toContain("1,000"); // statistics.N_RESAMPLES
    expect(GLOSSARY.ci).toContain("5,000"); // statistics.EXACT_UP_TO
    expect(GLOSSARY.where).toContain("8 × 8");
  });
});

describe("every number and chart has a tooltip", () => {
  it("clusters tab with a cluster open, header with pictures, sanity, findings and notes", () => {
    const { el } = mount(fullPayload(), { selected_cluster: 0 });
    expect(el.querySelector("[data-imacs-view='confusion']")).not.toBeNull();
    const r = unexplained(el, visible);
    expect(r.bad).toEqual([]);
    const tiles = el.querySelectorAll("[data-imacs-view='clusters'] [data-imacs-tile]").length;
    expect(tiles).toBeGreaterThan(40);
    expect(r.checked).toBeGreaterThan(tiles + 4 * 5);
    for (const key of ["counts", "model", "accuracy", "faithfulness", "sanity", "findings", "finding", "warnings", "class_picture", "log_odds",
      "cluster", "size", "mean", "ci", "removal", "significance", "histogram", "mean_plot", "where", "tile", "confusion", "confusion_cell", "n_clusters"]) {
      expect(el.querySelector(`[data-imacs-measure="${key}"]`), key).not.toBeNull();
    }
  });

  it("histogram tab and the map tab", () => {
    const { el, model } = mount(fullPayload(), { view: "histogram", selected_cluster: 1 });
    let r = unexplained(el, visible);
    expect(r.bad).toEqual([]);
    expect(r.checked).toBeGreaterThan(20);
    expect(el.querySelector("[data-imacs-measure='hist_axis']")).not.toBeNull();
    model.set("view", "map");
    r = unexplained(el, visible);
    expect(r.bad).toEqual([]);
    expect(el.querySelector("[data-imacs-view='map'] [data-imacs-measure='map']")).not.toBeNull();
    expect(el.querySelectorAll("[data-imacs-measure='map_legend']").length).toBe(4);
  });

  it("the scanner finds a number without a tooltip (it can fail)", () => {
    const { el } = mount(fullPayload());
    const block = el.querySelector("[data-imacs-view='clusters'] [data-imacs-cluster]");
    block.append(h("span", { text: "42 unexplained" }));
    block.append(s("svg"));
    const r = unexplained(el, visible);
    expect(r.bad).toHaveLength(2);
    expect(r.bad[0]).toContain("42 unexplained");
  });

  it("three models: every row, badge and plot explained", () => {
    const { el } = mount(fullPayload({ models: ["A", "B", "C"] }), { models: ["A", "B", "C"] });
    const r = unexplained(el, visible);
    expect(r.bad).toEqual([]);
    expect(el.querySelector("[data-imacs-measure='consensus']")).not.toBeNull();
  });
});

describe("row labels", () => {
  it("show each model's full display name (never cut), the key once", () => {
    const long = "B (watermark-trained on the night shift)";
    const { el } = mount(makePayload({ modelNames: { A: "A (clean)", B: long } }));
    const labels = [...el.querySelectorAll("[data-imacs-view='clusters'] [data-imacs-cluster] .imacs-row-label")].slice(0, 2);
    expect(labels.map((l) => l.textContent)).toEqual(["A(clean)", "B(watermark-trained on the night shift)"]);
    expect(labels[1].querySelector(".imacs-row-name").textContent).toBe("(watermark-trained on the night shift)");
    expect(labels[1].title.startsWith(long)).toBe(true);
  });
});
