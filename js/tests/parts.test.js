// @vitest-environment jsdom
// Model chips: the key, then the display name said once.
import { describe, it, expect } from "vitest";
import { chipLabel, modelChip } from "../src/parts.js";

describe("model chips", () => {
  it("never repeat the key", () => {
    expect(chipLabel("A", "A (clean)")).toBe("(clean)");
    expect(chipLabel("B", "B(watermark)")).toBe("(watermark)");
    expect(chipLabel("A", "A")).toBe("");
    expect(chipLabel("A", "baseline")).toBe("baseline");
    expect(chipLabel("A", "Alpha")).toBe("Alpha");
    expect(modelChip("A", "A (clean)").textContent).toBe("A(clean)");
    expect(modelChip("B", "watermarked").textContent).toBe("Bwatermarked");
    expect(modelChip("A", "A").querySelector(".imacs-chip-label")).toBeNull();
  });
});
