// "How to read this" (issue 22): a collapsible panel in the header that walks through the
// views, with the result's top finding as the worked example when there is one ("B relies on
// cluster 7 ... look at its tiles"). Open on first view; its open state is kept across renders.
// The panel's "Open cluster N" button (data-imacs-open-cluster) is handled by app.js like a
// finding.

import { h } from "./dom.js";
import { findingsOf, fmtInterval, fmtMean, fmtQ } from "./findings.js";
import { levelText } from "./glossary.js";

/** @typedef {import("./decode.js").Decoded} Decoded */
/** @typedef {import("./types.js").Finding} Finding */

const OUTCOME_WORDS = { TP: "true positives", TN: "true negatives", FP: "false positives", FN: "false negatives" };

/**
 * The guide panel.
 * @param {Decoded} d
 * @param {{guideOpen?: boolean, live?: boolean}} view  whether it is open (kept across renders);
 *   whether a kernel answers (the what-if test needs one)
 */
export function guidePanel(d, view) {
  const cls = String(d.payload.target_class ?? "");
  const many = d.models.length > 2;
  /** @param {string} text */
  const li = (text) => h("li", { text });
  const steps = h("ol", { class: "imacs-guide-steps" }, [
    li(`Findings come first (above): each is a cluster where the models' attribution differs more than noise would (q-value below the level, ${levelText(d.payload.significance_level)}); click one to open its cluster.`),
    li(`A concept cluster is a group of image regions (segments) that look alike to an independent embedding model. Its block has one row of tiles per model: the segments of the images that model's sampling chose${many ? "" : " (A above B)"}.`),
    li(`Tiles: the border colour is the image's outcome for that model (TP, TN, FP, FN; legend at the top right); the bar under a tile is its attribution — right of the centre line the segment raised the model's score for “${cls}”, left of it lowered it. Hover a tile for its whole image and every model's prediction.`),
    li("Beside the cluster's name, per model: how many segments, the mean attribution with its 95 % interval, and the removal effect (how far the model's score falls when the cluster is blurred). A q badge says the difference between the models is more than noise; “n.s.” (greyed) that it could be noise."),
    li("The small plots: how many segments (composition), each model's attribution histogram, the means against the largest mean of any cluster, and where in the image the segments lie (“where A”, ...)."),
    li("Click a block for its confusion matrices (which outcomes its segments come from). “Cluster histogram” spreads the tiles by attribution; “Segment map” places every segment by its embedding (drag a lasso to select)."),
    li(view.live
      ? "“✎ name / note” names a cluster and notes what it shows (saved with the result); “What-if test” pastes the cluster's segments onto images of other classes and removes them from their own, to test whether each model really uses them."
      : "Names and notes given to clusters (result.rename_cluster, annotate_cluster) and what-if tests run in Python (result.intervene) show on their clusters."),
    li("Every number and chart says what it measures when you hover it."),
  ]);
  const top = findingsOf(d)[0];
  return h("details", {
    class: "imacs-guide", open: view.guideOpen !== false, data: { imacsGuide: top ? String(top.cluster) : "" },
    ontoggle: (/** @type {Event} */ e) => { view.guideOpen = /** @type {HTMLDetailsElement} */ (e.currentTarget).open; },
  }, [
    h("summary", { text: "How to read this" }),
    h("div", { class: "imacs-guide-body" }, [steps, top ? example(d, top, cls, view.live === true) : null]),
  ]);
}

/**
 * The worked example: the top finding, read in the views.
 * @param {Decoded} d
 * @param {Finding} f
 * @param {string} cls
 * @param {boolean} live
 */
function example(d, f, cls, live) {
  const name = (/** @type {string} */ m) => d.modelNames[m] ?? m;
  const rec = /** @type {any} */ (f);
  const mean = (/** @type {string} */ m) => {
    const v = rec.mean_attribution ? rec.mean_attribution[m] : null;
    const ci = rec.ci ? fmtInterval(rec.ci[m]) : "";
    return typeof v === "number" ? `${fmtMean(v)}${ci ? ` ${ci}` : ""}` : "no segment";
  };
  const others = (f.versus || []).map((m) => `${name(m)}'s ${mean(m)}`).join(", ");
  const info = Array.isArray(d.payload.clusters) ? d.payload.clusters.find((c) => c && c.id === f.cluster) : null;
  const label = info && typeof info.name === "string" && info.name ? ` — you named them “${info.name}”`
    : info && typeof info.suggested_name === "string" && info.suggested_name ? ` — suggested: ${info.suggested_name}` : "";
  const outcome = typeof rec.outcome === "string" && OUTCOME_WORDS[/** @type {keyof OUTCOME_WORDS} */ (rec.outcome)]
    ? ` Most of ${name(f.model)}'s segments there come from its ${OUTCOME_WORDS[/** @type {keyof OUTCOME_WORDS} */ (rec.outcome)]}: open the confusion matrices to see them.` : "";
  const removal = rec.removal && typeof rec.removal[f.model] === "number"
    ? ` Blurring the cluster ${rec.removal[f.model] >= 0 ? "lowers" : "raises"} ${name(f.model)}'s score for “${cls}” by ${Math.abs(rec.removal[f.model]).toFixed(2)} on average.` : "";
  const whatIf = live
    ? ` To test whether ${name(f.model)} really uses them, press “What-if test” on the cluster: its segments are pasted onto other images and removed from their own.`
    : " In Python, result.intervene(cluster) tests whether the model really uses them.";
  return h("div", { class: "imacs-guide-example" }, [
    h("strong", { text: `Worked example — the top finding: ${name(f.model)} relies on cluster ${f.cluster}. ` }),
    h("span", {
      text: `In its block, ${name(f.model)}'s mean attribution ${mean(f.model)} stands against ${others || "the other models'"} (${fmtQ(f.q_value)}): ${name(f.model)} takes these segments as evidence for “${cls}”. Look at its tiles${label}: what do they show — the object, or something that merely comes with it (a watermark, a background, a texture)?${outcome}${removal}${whatIf} `,
    }),
    h("button", { class: "imacs-more", type: "button", data: { imacsOpenCluster: f.cluster }, text: `Open cluster ${f.cluster}` }),
  ]);
}
