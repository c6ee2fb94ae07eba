// The JS port of the cluster statistics (js/src/data.js) against the one definition
// (imacs_widget/engine/summary.py): fixtures/summary_cases.json holds a payload Python built
// and, for several filters, every number and order Python computed from it
// (scripts/make_js_fixture.py; tests/test_cross_language.py keeps it current).
import { describe, it, expect } from "vitest";
import fs from "node:fs";
import path from "node:path";
import {
  decodePayload, filterSegments, clusterStats, orderClusters, orderWithin, maxMeanAttribution,
  MODELS, ORDERS, INNER_ORDERS,
} from "../src/data.js";
import { makePayload } from "./fixtures.js";

const fixture = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, "fixtures/summary_cases.json"), "utf8"));
const TOL = 1e-12;

function expectNumber(actual, expected, where) {
  if (expected === null) {
    expect(actual, where).toBeNull();
  } else {
    expect(typeof actual, where).toBe("number");
    expect(Math.abs(actual - expected), `${where}: ${actual} vs ${expected}`).toBeLessThanOrEqual(TOL);
  }
}

/** Same keys, same kinds of values, recursively (arrays: the first element). */
function shapeOf(v) {
  if (Array.isArray(v)) return v.length ? [shapeOf(v[0])] : [];
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, shapeOf(v[k])]));
  return v === null ? "null" : typeof v;
}

const decoded = decodePayload(fixture.payload);

/** Every number and order of one fixture section (the pair, or three models). */
function checkSection(label, section) {
  const dec = decodePayload(section.payload);
  for (const c of section.cases) {
    describe(`${label}, filter: ${c.name}`, () => {
      const d = dec.data;
      const models = d.models;
      const shown = filterSegments(d.segments, c.outcomes, c.models);
      const stats = clusterStats(shown, d.clusterIds, d.edges, models);

      it("per-cluster numbers", () => {
        expect([...stats.keys()].sort((a, b) => a - b)).toEqual(c.clusters.map((e) => e.id));
        for (const e of c.clusters) {
          const s = stats.get(e.id);
          const at = `cluster ${e.id}`;
          expect(s.size, at).toBe(e.size);
          expect(s.count, at).toEqual(e.count);
          expect(s.histogram, at).toEqual(e.histogram);
          expect(s.outcomes, at).toEqual(e.outcomes);
          expect(s.one_sided, at).toBe(e.one_sided);
          for (const m of models) expectNumber(s.mean_attribution[m], e.mean_attribution[m], `${at} mean ${m}`);
          expectNumber(s.imbalance, e.imbalance, `${at} imbalance`);
          expectNumber(s.importance, e.importance, `${at} importance`);
          expect(s.consensus.models, `${at} consensus`).toEqual(e.consensus.models);
          expect([s.consensus.n, s.consensus.of], `${at} consensus`).toEqual([e.consensus.n, e.consensus.of]);
          expectNumber(s.consensus.strength, e.consensus.strength, `${at} consensus strength`);
          for (const m of models) expectNumber(s.removal[m], e.removal[m], `${at} removal ${m}`);
        }
        expectNumber(maxMeanAttribution(stats), c.max_mean_attribution, "reference bar");
      });

      it("cluster orders", () => {
        for (const o of ORDERS) expect(orderClusters(stats, o), o).toEqual(c.order[o]);
      });

      it("within-cluster orders", () => {
        for (const inner of INNER_ORDERS) {
          for (const e of c.clusters) {
            for (const m of models) {
              expect(orderWithin(stats.get(e.id).segments[m], inner).map((s) => s.i), `${inner} ${e.id} ${m}`)
                .toEqual(c.within[inner][String(e.id)][m]);
            }
          }
        }
      });
    });
  }
}

describe("summary.py and data.js agree (fixture from Python)", () => {
  it("decodes the Python payloads", () => {
    expect(decoded.ok).toBe(true);
    expect(decoded.data.segments).toHaveLength(fixture.payload.n_segments);
    expect(decoded.data.edges).toEqual(fixture.payload.bin_edges);
    expect(decoded.data.models).toEqual(MODELS);
    expect(fixture.cases.map((c) => c.name)).toContain("nothing shown");
    const three = decodePayload(fixture.three_models.payload);
    expect(three.ok).toBe(true);
    expect(three.data.models).toEqual(["A", "B", "C"]);
    expect(three.data.images[0].pred).toHaveProperty("C");
  });

  checkSection("two models", fixture);
  checkSection("three models", fixture.three_models);

  it("the fixture pins ties, one-sided, empty and missing values", () => {
    const all = fixture.cases[0];
    const imbalances = all.clusters.map((e) => e.imbalance).filter((v) => v !== null);
    expect(new Set(imbalances).size).toBeLessThan(imbalances.length); // equal imbalances
    expect(all.clusters.some((e) => e.one_sided === "A") && all.clusters.some((e) => e.one_sided === "B")).toBe(true);
    expect(all.clusters.some((e) => e.size === 0)).toBe(true);
    expect(fixture.payload.segments.attribution).toContain(null);
    expect(fixture.cases.some((cs) => cs.clusters.some((e, k) => e.one_sided !== null && all.clusters[k].one_sided === null))).toBe(true);
  });

  it("the JS test payload (fixtures.js) has the shape of Python's", () => {
    // clusters and findings are compared by their keys (an interval may be null for a model
    // without segments there; Python's fixture has no significant cluster)
    const py = shapeOf({ ...fixture.payload, thumbs: null, sources: null, clusters: null, findings: null });
    const js = shapeOf({ ...makePayload(), thumbs: null, sources: null, clusters: null, findings: null });
    // lists that may hold nulls are compared by their first element only; both start with numbers
    expect(js).toEqual(py);
    /** @param {any[]} list */
    const keysOf = (list) => [...new Set(list.flatMap((c) => Object.keys(c)))].sort();
    expect(keysOf(makePayload().clusters)).toEqual(keysOf(fixture.payload.clusters));
    expect(fixture.payload.clusters.every((c) => typeof c.significant === "boolean")).toBe(true);
    for (const c of fixture.payload.clusters) {
      for (const k of ["ci", "mass_ci"]) {
        expect(Object.keys(c[k]).sort()).toEqual([...fixture.payload.models].sort());
        for (const v of Object.values(c[k])) expect(v === null || (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === "number"))).toBe(true);
      }
    }
    expect(Array.isArray(fixture.payload.findings)).toBe(true);
    expect(keysOf(makePayload().findings)).toEqual([...fixture.finding_columns].sort());
    expect(Object.keys(makePayload().thumbs).sort()).toEqual(Object.keys(fixture.payload.thumbs).sort());
  });
});
