// The one glossary: what every number and chart of the widget and the static report measures,
// worded as the kernel computes it (imacs_widget/engine/summary.py for counts, means,
// histograms, removal and consensus; engine/statistics.py for intervals and tests;
// engine/faithfulness.py; engine/findings.py; engine/class_pictures.py; engine/sanity.py). Every
// view takes its tooltips from here with explain(), which also marks the element
// data-imacs-measure="<key>": the browser tests find every number and chart by that marker and
// check that it says what it measures.

import { s } from "./dom.js";

/** Definitions, by measure key (the value of data-imacs-measure). */
export const GLOSSARY = Object.freeze({
  counts: "The class of interest this view is about, and how many segments (image regions) and concept clusters the result holds for it.",
  model: "A model of the comparison: its key (A, B, ...) and colour in every view, its display name, its accuracy on the evaluation images (share classified correctly), its faithfulness and, once checked, its sanity verdict.",
  accuracy: "Accuracy: the share of the evaluation images whose predicted class is their true class.",
  faithfulness: "Faithfulness of the model's attributions, from its Shapley games: blurring its ranked segments most-attributed first should make its score for the class fall fast (deletion curve, small area) and un-blurring them in that order should make it rise fast (insertion curve, large area). Faithfulness = (insertion area − deletion area) / 2, averaged over its sampled images; 0 = no better than a random order.",
  sanity: "Sanity check (result.sanity_check()): the attributions are recomputed with every layer's weights randomised. When their rank correlation with the real ones stays at 0.5 or more (✗), they follow the images or the blur rather than what the model learned.",
  outcome: "Outcome of an image for the model whose sampling chose it: TP true positive (of the class, predicted as it), TN true negative, FP false positive (predicted as the class, not of it), FN false negative. A tile's border has its colour.",
  findings: "Findings: the clusters where the models' attribution differs more than noise would — a permutation test of each model's attribution per image in the cluster, q-values by Benjamini–Hochberg over the class's clusters, below the level (0.05 by default) — ranked by the size of the difference (Python: result.findings()). Computed for all segments, no filter.",
  finding: "A finding (Python's sentence): which model relies on the cluster, its mean attribution there with the 95 % bootstrap interval over images, the other models', the attribution per image the test compares, the q-value and, with faithfulness, how much blurring the cluster lowers each model's score. Click to open the cluster.",
  warnings: "Notes from sampling: where fewer images than asked could be sampled for a model and outcome.",
  cluster: "A concept cluster: segments from every model's sampled images that look alike to an independent embedding model (k-means on their embeddings). The number is its id in result.clusters; # is its place in the current order.",
  name: "The cluster's name, given by the user (result.rename_cluster, or ✎ in the widget); saved with the result. It belongs to this cluster (its members): re-clustering to another count hides it, back to the same count and seed brings it back.",
  suggested_name: "A suggested name, not the user's: the ImageNet labels the embedding model's own classifier gives the cluster's crops most often, with the share of crops that get each label (or the labels of the user's text-image model, result.suggest_names). Rename it with ✎ or result.rename_cluster.",
  note: "The user's note on this cluster (result.annotate_cluster, or ✎ in the widget); saved with the result.",
  size: "Composition: how many segments fall into this cluster — black all of them, each colour one model's (segments from the images that model's sampling chose) — on a scale shared by every cluster.",
  mean: "Mean attribution: the average of the model's segments' attributions in this cluster. A segment's attribution is its exact Shapley value for the class of interest: how much it adds to the model's score for the class (probability or logit, the run's score setting) when the ranked segments of its image are blurred in and out. Positive: evidence for the class. Exact sum, non-finite values left out; recomputed under the filters.",
  histogram: "Attribution histograms: how many of each model's segments in this cluster fall into each attribution bin (the bins are shared by every cluster, result.bin_edges; the dashed line is 0). Two models are mirrored: the first up, the second down.",
  mean_plot: "Mean attribution of each model in this cluster (coloured bars, from the dashed zero line) against the reference bar (black: the largest mean of any model in any cluster, the scale of the paper's bars).",
  where: "Where in the image: the centres of the model's segments of this cluster (of their bounding boxes) counted on an 8 × 8 grid of the image; darker cells hold more segments.",
  tile: "A segment. Border: the outcome of its image for the model that sampled it (TP green, TN grey, FP red, FN pink). Bar under it: its attribution in the model's colour — right of the white centre line positive, left negative, full half-width the largest |attribution| of the class. Hover shows its source image.",
  hist_tile: "A segment, stacked in the column of its attribution bin (the axis above). Border: the outcome of its image for the model that sampled it (TP green, TN grey, FP red, FN pink). Hover shows its source image.",
  removal: "Removal effect: how far the model's score for the class falls when this cluster's segments are blurred in an image — v(all) − v(all without them), read from the Shapley game — averaged over the model's images with a segment here. Positive: the model needs them; negative: they count against the class.",
  ci: "95 % bootstrap interval over images: the model's images resampled 1,000 times (normal approximation beyond 5,000 images), the 2.5 and 97.5 percentiles of its mean attribution in this cluster. Of all segments: hidden under a filter.",
  significance: "How sure the difference is: a permutation test of the models' attribution per image in this cluster (an image's attributions here summed, 0 where it has none; model labels swapped within the images both models sampled, permuted otherwise), q-value by Benjamini–Hochberg over the class's clusters. Significant when q is below the level (0.05 by default); n.s. (greyed): the difference could be noise. Of all segments: hidden under a filter.",
  consensus: "Consensus: the models that attribute this cluster positively — their mean attribution here is above a quarter of the reference bar (the largest mean of any model in any cluster).",
  one_sided: "One-sided: only this model's segments fall into the cluster (shown first when ordered by imbalance).",
  class_picture: "The model's picture of the class (result.class_pictures()): tiles grown by gradient ascent of the class's log-odds on blank inputs, pasted anywhere — no evaluation image involved — best first. What it shows is what raises the class anywhere, on any input.",
  log_odds: "Log-odds of the class, log(p / (1 − p)) of the model's probability: with the best tile pasted on fresh blank inputs (mean over them) and on the blank inputs alone. A large rise means the picture alone convinces the model.",
  confusion: "Cluster confusion matrices: each model's own sampled segments in this cluster, split by that model's outcome on their image (rows: the image's actual class; columns: the model's prediction).",
  confusion_cell: "How many of the model's segments in this cluster come from images with this outcome for the model (their tiles below).",
  hist_axis: "Attribution axis of the cluster histogram: the bins shared by every cluster (result.bin_edges); each segment's tile stacks in the bin of its attribution.",
  hist_extra: "More segments fall into this attribution bin than tiles are shown.",
  cell_extra: "More of the model's segments have this outcome than tiles are shown in the cell.",
  more: "More of the model's segments in this cluster than the row shows: click to show them all (the row scrolls).",
  left_out: "The static report keeps a bounded number of tiles per row; open the result in Python to see them all.",
  n_clusters: "Number of concept clusters (k-means on the segment embeddings). Changing it re-clusters in the kernel (result.recluster); no model is called.",
  map: "Segment map: every segment at a 2-D projection of its embedding (UMAP, else PCA + t-SNE); segments that look alike lie close. Coloured by the control above; drag a lasso to select, click a point to open its cluster.",
  intervention: "What-if test (result.intervene): does the model use this cluster? Its most representative segments (closest to its centre) are cut from their images and pasted, each at its size and a random position, onto evaluation images of other classes; and in images that hold the cluster's segments, those are filled with the run's baseline (the blur). Rates with 95 % Wilson intervals; a rate with no image that could flip is n/a, not 0. Saved with the result.",
  flip_to: "Pasted: of the images the model did not predict as the class before the paste (n), the share it predicts as the class after, with its 95 % Wilson interval. A model that relies on the pattern switches often.",
  flip_from: "Removed: of the images holding the cluster's segments that the model predicted as the class before (n), the share it no longer predicts as the class once they are removed, with its 95 % Wilson interval.",
  progress: "How far the what-if test in the kernel is: the images the models have scored so far of all it needs — for each model, the images of other classes before and after the paste, and each image holding the cluster's segments with and without them. Updated a few times a second; the test's results show on the cluster when it ends.",
  score_change: "Mean change of the model's score for the class (the run's score, the class probability by default) over every image treated: when pasted, up if the model uses the pattern; when removed, down.",
  attribution_scale: "Colour of each point: its segment's attribution (exact Shapley value for the class), blue negative, grey 0, red positive, saturated at the largest |attribution| of the class.",
  map_legend: "The clusters and their segment counts (after the filters), in the current order, each with its name (yours, else the suggestion marked as one); click one to open it.",
  map_count: "Segments selected with the lasso: the cluster views show only these.",
});

/** @typedef {keyof typeof GLOSSARY} Measure */

/** The words of the definitions that name the default significance level. */
export const DEFAULT_LEVEL = "0.05 by default";

/**
 * How the texts name the significance level a result was judged at (payload
 * significance_level, the Settings field): "0.01 here"; "0.05 by default" when the payload has
 * no valid level.
 * @param {unknown} level
 */
export function levelText(level) {
  if (typeof level !== "number" || !Number.isFinite(level) || level <= 0 || level >= 1) return DEFAULT_LEVEL;
  return `${Number(level.toPrecision(6))} here`;
}

/**
 * The tooltip of measure `key`: `detail` (this element's numbers), then the definition, which
 * names the result's significance `level` when one is given (see levelText).
 * @param {Measure} key
 * @param {string} [detail]
 * @param {unknown} [level]
 */
export function tipText(key, detail, level) {
  const def = level === undefined ? GLOSSARY[key] : GLOSSARY[key].split(DEFAULT_LEVEL).join(levelText(level));
  return detail ? `${detail}\n\n${def}` : def;
}

/**
 * Mark `el` as showing measure `key` (data-imacs-measure) and give it its tooltip: the `title`
 * of an HTML element, a leading <title> of an SVG element (replacing one already there).
 * @template {Element} E
 * @param {E} el
 * @param {Measure} key
 * @param {string} [detail]  this element's own numbers, said before the definition
 * @param {unknown} [level]   the result's significance level (payload significance_level), named
 *   in the definitions that mention the level
 * @returns {E}
 */
export function explain(el, key, detail, level) {
  const text = tipText(key, detail, level);
  el.setAttribute("data-imacs-measure", key);
  if (el instanceof HTMLElement) {
    el.title = text;
  } else {
    const first = el.firstElementChild;
    if (first && first.tagName.toLowerCase() === "title") first.textContent = text;
    else el.prepend(s("title", { text }));
  }
  return el;
}
