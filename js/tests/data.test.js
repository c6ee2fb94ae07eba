import { describe, it, expect } from "vitest";
import {
  decodePayload, binIndex, histogram, filterSegments, clusterStats, orderClusters,
  orderWithin, maxMeanAttribution, histogramStacks, locationHeatmap, confusionSplit, atlasCell,
  sheetRows, fmtSigned, parseAnswer, ticks, fsum, meanAttribution, column,
} from "../src/data.js";
import { makePayload } from "./fixtures.js";

const seg = (o) => ({ i: 0, model: "A", image: 0, segment: 0, rank: 0, cluster: 0, outcome: "TP", attribution: 0, byAttribution: 0, byCentroid: 0, box: [0, 0, 0.25, 0.25], ...o });

describe("column", () => {
  it("reads a little-endian typed array from its buffer, checking dtype and length", () => {
    const buf = new DataView(new ArrayBuffer(6));
    [1, 2, 65535].forEach((v, k) => buf.setUint16(2 * k, v, true));
    expect([...column({ dtype: "uint16", buffer: 0, length: 3 }, [buf])]).toEqual([1, 2, 65535]);
    expect(column({ dtype: "uint16", buffer: 0, length: 4 }, [buf])).toBeNull(); // wrong length
    expect(column({ dtype: "uint32", buffer: 0, length: 1 }, [buf])).toBeNull(); // 6 bytes: no whole uint32s
    expect(column({ dtype: "uint16", buffer: 1, length: 3 }, [buf])).toBeNull(); // no such buffer
    expect(column([1, null], [])).toEqual([1, null]); // a JSON list (the static fixture)
  });
  it("takes only its own dtypes, not names on Object's prototype", () => {
    const bufs = [new ArrayBuffer(8)];
    for (const dtype of ["constructor", "toString", "__proto__", "hasOwnProperty", "float32"]) {
      expect(column({ dtype, buffer: 0, length: 1 }, bufs), dtype).toBeNull();
    }
  });
});

describe("decodePayload", () => {
  it("a re-cluster's payload updates the previous records in place (same static columns)", () => {
    const p = makePayload();
    const first = decodePayload(p);
    const records = first.data.segments;
    const p2 = { ...p, segments: { ...p.segments, cluster: p.segments.cluster.map((c) => (c + 1) % 3),
      by_centroid: p.segments.by_centroid.slice().reverse() } };
    const again = decodePayload(p2, [], first.data);
    expect(again.ok).toBe(true);
    expect(again.data.segments).toBe(records); // no new records
    expect(again.data.segments.map((d) => d.cluster)).toEqual(p2.segments.cluster);
    expect(again.data.segments.map((d) => d.byCentroid)).toEqual(p2.segments.by_centroid);
    expect(again.data.payload).toBe(p2);
    // and the same as decoding it from scratch
    const fresh = decodePayload(p2);
    expect(again.data.segments.map((d) => ({ ...d }))).toEqual(fresh.data.segments);
    // a cluster the payload does not list is still refused
    const bad = { ...p2, segments: { ...p2.segments, cluster: p2.segments.cluster.map(() => 7) } };
    expect(decodePayload(bad, [], first.data).ok).toBe(false);
  });

  it("decodes columns into records", () => {
    const res = decodePayload(makePayload({ n: 8 }));
    expect(res.ok).toBe(true);
    const d = res.data;
    expect(d.segments).toHaveLength(8);
    expect(d.segments[1]).toMatchObject({ i: 1, model: "B", image: 0, outcome: "TP", box: [0.25, 0, 0.5, 0.25] });
    expect(d.images[0]).toMatchObject({ index: 100, pred: { A: 1, B: 0 }, score: { A: 0.25, B: 0.75 } });
    expect(d.clusterIds).toEqual([0, 1, 2]);
    expect(d.edges).toHaveLength(13);
  });
  it("rejects malformed payloads without throwing", () => {
    expect(decodePayload(null).ok).toBe(false);
    expect(decodePayload({}).ok).toBe(false);
    expect(decodePayload({ ...makePayload(), version: 1 }).ok).toBe(false);
    const p = makePayload({ n: 8 });
    p.segments.cluster.pop();
    expect(decodePayload(p)).toMatchObject({ ok: false, error: expect.stringContaining("cluster") });
    const q = makePayload({ n: 8 });
    q.segments.image[3] = 99;
    expect(decodePayload(q).ok).toBe(false);
    // no fallbacks for what the payload must carry: the bin edges and every cluster id
    for (const edges of [undefined, [0], [0, "1"], [1, 0], [0, 0, 1]]) {
      expect(decodePayload({ ...makePayload({ n: 8 }), bin_edges: edges })).toMatchObject({ ok: false, error: expect.stringContaining("bin_edges") });
    }
    expect(decodePayload({ ...makePayload({ n: 8 }), clusters: [{ id: 2 }] })).toMatchObject({ ok: false, error: expect.stringContaining("unlisted cluster") });
    expect(decodePayload({ ...makePayload({ n: 8 }), clusters: [{ id: 0 }, { id: 0 }, { id: 1 }, { id: 2 }] }).ok).toBe(false);
  });
  it("treats non-finite numbers as missing and keeps the result's cluster order", () => {
    const p = makePayload({ n: 8 });
    p.segments.attribution[0] = null;
    p.clusters = [{ id: 2 }, { id: 0 }, { id: 1 }];
    const d = decodePayload(p).data;
    expect(d.segments[0].attribution).toBeNull();
    expect(d.clusterIds).toEqual([2, 0, 1]);
    expect(d.edges).toEqual(p.bin_edges);
  });
});

describe("binning", () => {
  it("fsum is exact (math.fsum), so means do not depend on the order of segments", () => {
    expect(fsum([0.1, 0.2, 0.3])).toBe(fsum([0.3, 0.2, 0.1]));
    expect(fsum([0.1, 0.2, 0.3])).toBe(0.6);
    expect(0.1 + 0.2 + 0.3).not.toBe(0.6); // the naive sum is not
    expect(fsum([1e100, 1.0, -1e100])).toBe(1.0);
    expect(fsum([1, 1e-16, 1e-16])).toBe(1.0000000000000002); // half-even across partials
    expect(fsum([])).toBe(0);
    expect(meanAttribution([0.3, null, 0.1, NaN, 0.2])).toBe(fsum([0.1, 0.2, 0.3]) / 3);
    expect(meanAttribution([null])).toBeNull();
  });
  it("binIndex follows numpy.histogram after clipping", () => {
    const e = [0, 1, 2, 3];
    expect(binIndex(e, 0)).toBe(0);
    expect(binIndex(e, 0.99)).toBe(0);
    expect(binIndex(e, 1)).toBe(1);
    expect(binIndex(e, 3)).toBe(2); // last bin closed
    expect(binIndex(e, -5)).toBe(0); // clipped
    expect(binIndex(e, 50)).toBe(2);
    expect(binIndex(e, null)).toBe(-1);
    expect(binIndex(e, NaN)).toBe(-1);
  });
  it("histogram counts", () => {
    const s = [0.1, 0.2, 1.5, 2.9, 3, null].map((a) => seg({ attribution: a }));
    expect(histogram(s, [0, 1, 2, 3])).toEqual([2, 1, 2]);
  });
  it("histogramStacks truncates at 5 per bin with +N", () => {
    const s = Array.from({ length: 8 }, (_, k) => seg({ i: k, attribution: 0.5 })).concat([seg({ i: 9, attribution: 2.5 })]);
    const bins = histogramStacks(s, [0, 1, 2, 3], 5);
    expect(bins[0].shown.map((x) => x.i)).toEqual([0, 1, 2, 3, 4]);
    expect(bins[0].extra).toBe(3);
    expect(bins[1]).toEqual({ shown: [], extra: 0 });
    expect(bins[2].shown).toHaveLength(1);
  });
});

describe("filtering and ordering", () => {
  const d = decodePayload(makePayload({ n: 24, clusters: 3 })).data;
  it("filters by outcome and model", () => {
    const f = filterSegments(d.segments, ["FP"], ["B"]);
    expect(f.length).toBeGreaterThan(0);
    expect(f.every((s) => s.outcome === "FP" && s.model === "B")).toBe(true);
    expect(filterSegments(d.segments, [], ["A", "B"])).toEqual([]);
    expect(filterSegments(d.segments, ["TP", "TN", "FP", "FN"], ["A", "B"])).toHaveLength(24);
  });
  it("clusterStats: summary.summarize_clusters (one-sided, empty, missing means)", () => {
    const segs = [
      seg({ cluster: 0, model: "A", attribution: 0.1, outcome: "FP" }), seg({ cluster: 0, model: "A", attribution: 0.3 }),
      seg({ cluster: 0, model: "B", attribution: -0.2 }),
      seg({ cluster: 1, model: "B", attribution: -0.5 }),
    ];
    const st = clusterStats(segs, [0, 1, 2], [-1, 0, 1]);
    const c0 = st.get(0);
    expect(c0.size).toBe(3);
    expect(c0.count).toEqual({ A: 2, B: 1 });
    expect(c0.mean_attribution.A).toBe(fsum([0.1, 0.3]) / 2);
    expect(c0.one_sided).toBeNull();
    expect(c0.imbalance).toBeCloseTo(0.4, 15);
    expect(c0.importance).toBeCloseTo(0.2, 15);
    expect(c0.histogram).toEqual({ A: [0, 2], B: [1, 0] });
    expect(c0.outcomes.A).toEqual({ TP: 1, TN: 0, FP: 1, FN: 0 });
    const c1 = st.get(1);
    expect(c1.mean_attribution.A).toBeNull(); // missing model: undefined, never 0
    expect(c1.one_sided).toBe("B");
    expect(c1.imbalance).toBeNull();
    expect(c1.importance).toBe(-0.5);
    const c2 = st.get(2);
    expect([c2.size, c2.one_sided, c2.imbalance, c2.importance]).toEqual([0, null, null, null]);
    expect(maxMeanAttribution(st)).toBeCloseTo(0.2, 15);
    expect(orderClusters(st, "imbalance")).toEqual([1, 0, 2]); // one-sided first, empty last
    expect(orderClusters(st, "importance")).toEqual([0, 1, 2]);
    expect(orderClusters(st, "size")).toEqual([0, 1, 2]);
    expect(orderClusters(st, "nonsense")).toEqual([1, 0, 2]);
  });
  it("orders within a cluster by the payload's positions (Python's order_within)", () => {
    const s = [
      seg({ i: 0, byAttribution: 7, byCentroid: 1 }), seg({ i: 1, byAttribution: 2, byCentroid: 9 }),
      seg({ i: 2, byAttribution: 5, byCentroid: 0 }),
    ];
    expect(orderWithin(s, "attribution").map((x) => x.i)).toEqual([1, 2, 0]);
    expect(orderWithin(s, "centroid").map((x) => x.i)).toEqual([2, 0, 1]);
    expect(s.map((x) => x.i)).toEqual([0, 1, 2]); // not sorted in place
  });
});

describe("location heatmap", () => {
  it("counts bbox centres on an n x n grid", () => {
    const s = [
      seg({ box: [0, 0, 0.1, 0.1] }), seg({ box: [0, 0, 0.2, 0.2] }),
      seg({ box: [0.9, 0.9, 1, 1] }), seg({ box: [0.5, 0, 1, 0.25] }),
    ];
    const hm = locationHeatmap(s, 8);
    expect(hm.n).toBe(8);
    expect(hm.counts[0]).toBe(2);
    expect(hm.counts[63]).toBe(1);
    expect(hm.counts[1 * 8 + 6]).toBe(1); // centre (0.75, 0.125) -> column 6, row 1
    expect(hm.max).toBe(2);
    expect(hm.counts.reduce((a, b) => a + b)).toBe(4);
  });
});

describe("confusion split", () => {
  it("puts each model's segments in its outcome cell", () => {
    const s = [seg({ model: "A", outcome: "FP" }), seg({ model: "B", outcome: "TN" }), seg({ model: "A", outcome: "FP" })];
    const c = confusionSplit(s);
    expect(c.A.FP).toHaveLength(2);
    expect(c.B.TN).toHaveLength(1);
    expect(c.A.TP).toEqual([]);
    expect(Object.keys(c.A).sort()).toEqual(["FN", "FP", "TN", "TP"]);
  });
});

describe("misc helpers", () => {
  it("atlas cells", () => {
    const a = { cols: 4, per_sheet: 16, count: 20, cell: 48 };
    expect(atlasCell(a, 0)).toEqual({ sheet: 0, col: 0, row: 0 });
    expect(atlasCell(a, 6)).toEqual({ sheet: 0, col: 2, row: 1 });
    expect(atlasCell(a, 17)).toEqual({ sheet: 1, col: 1, row: 0 });
    expect(sheetRows(a, 0)).toBe(4);
    expect(sheetRows(a, 1)).toBe(1);
  });
  it("formats signed numbers", () => {
    expect(fmtSigned(0.12345)).toBe("+0.123");
    expect(fmtSigned(-0.5)).toBe("\u22120.500");
    expect(fmtSigned(-0.00001)).toBe("0.000");
    expect(fmtSigned(null)).toBe("n/a");
  });
  it("validates the kernel's answers to commands", () => {
    expect(parseAnswer({ ok: true, n_clusters: 3 })).toEqual({ ok: true, error: null });
    expect(parseAnswer({ ok: false, error: 5 })).toEqual({ ok: false, error: "5" });
    expect(parseAnswer({ ok: false })).toEqual({ ok: false, error: "the kernel refused" });
    for (const bad of [null, "ok", { ok: "yes" }, [true]]) expect(parseAnswer(bad).ok).toBe(false);
  });
  it("ticks", () => {
    expect(ticks(-0.3, 0.35, 5)).toEqual([-0.2, 0, 0.2]);
    expect(ticks(-0.3, 0.35, 7)).toEqual([-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3]);
    expect(ticks(0, 1, 4)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(ticks(1, 1)).toEqual([1]);
  });
});

describe("source hygiene", async () => {
  const fs = await import("node:fs");
  const path = await import("node:path");
  const dir = path.resolve(import.meta.dirname, "../src");
  it("never writes HTML strings into the DOM", () => {
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith(".js"))) {
      const src = fs.readFileSync(path.join(dir, f), "utf8").replace(/\/\/.*$/gm, "");
      expect(src, f).not.toMatch(/\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML|document\.write/);
    }
  });
});
