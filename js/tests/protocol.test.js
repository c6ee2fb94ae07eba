// The front end takes the constants it shares with the kernel from protocol.json (the file
// imacs_widget/widget/protocol.py reads): these tests fail if a module uses another value.
import { describe, it, expect } from "vitest";
import protocol from "../../imacs_widget/widget/protocol.json";
import * as P from "../src/protocol.js";
import { PAYLOAD_VERSION } from "../src/types.js";
import { OUTCOMES, MODEL_KEYS, ORDERS, INNER_ORDERS, VIEWS, CONSENSUS_FRACTION, decodePayload } from "../src/data.js";
import { MAP_COLORS } from "../src/map.js";
import { pagesToFetch } from "../src/virtual.js";
import { readState } from "../src/app.js";
import { makePayload } from "./fixtures.js";

describe("protocol.json", () => {
  it("is where the shared constants come from", () => {
    expect(PAYLOAD_VERSION).toBe(protocol.payload_version);
    expect(P.PAGE_SIZE).toBe(protocol.page_size);
    expect([...P.COMMANDS]).toEqual(protocol.commands);
    expect([...OUTCOMES]).toEqual(protocol.outcomes);
    expect([...MODEL_KEYS]).toEqual(protocol.model_keys);
    expect([...ORDERS]).toEqual(protocol.cluster_orders);
    expect([...INNER_ORDERS]).toEqual(protocol.inner_orders);
    expect([...VIEWS]).toEqual(protocol.views);
    expect([...MAP_COLORS]).toEqual(protocol.map_colors);
    expect(CONSENSUS_FRACTION).toBe(protocol.consensus_fraction);
  });
  it("sizes the _tiles pages", () => {
    const ids = Array.from({ length: protocol.page_size + 7 }, (_, k) => k);
    expect(pagesToFetch(ids, () => false, new Set()).map((p) => p.length)).toEqual([protocol.page_size, 7]);
  });
  it("scales boxes and the segment map", () => {
    const p = makePayload({ n: 4, clusters: 2, map: true });
    p.segments.box = [protocol.box_scale, 0, protocol.box_scale, protocol.box_scale, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    p.segments.map = [protocol.map_scale, 0, 0, 0, 0, 0, 0, 0];
    const res = decodePayload(p, []);
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    expect(res.data.segments[0].box).toEqual([1, 0, 1, 1]);
    expect(res.data.map && res.data.map[0]).toBe(1);
  });
  it("gives the traits their choices", () => {
    const values = { view: protocol.views.at(-1), map_color: protocol.map_colors.at(-1), order: "bogus", outcomes: ["FN", "XX"] };
    const st = readState({ get: (name) => values[name] });
    expect(st.view).toBe(protocol.views.at(-1));
    expect(st.mapColor).toBe(protocol.map_colors.at(-1));
    expect(st.order).toBe(protocol.cluster_orders[0]);
    expect(st.outcomes).toEqual(["FN"]);
  });
});
