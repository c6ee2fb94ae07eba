// JSDoc mirror of the payload built by imacs_widget/widget/payload.py (version 2) and of the
// commands handled by imacs_widget/widget/widget.py. Keep both sides in step; bump
// PAYLOAD_VERSION on any incompatible change.

export const PAYLOAD_VERSION = 3;

/**
 * @typedef {"A" | "B"} ModelKey
 * @typedef {"TP" | "TN" | "FP" | "FN"} Outcome
 * @typedef {"imbalance" | "importance" | "size"} ClusterOrder
 * @typedef {"attribution" | "centroid"} InnerOrder
 * @typedef {"clusters" | "histogram"} ViewName
 */

/**
 * Sprite sheets: cell k of the atlas is in sheet floor(k / per_sheet), at column
 * (k % per_sheet) % cols and row floor((k % per_sheet) / cols), top-left aligned.
 * @typedef {Object} Atlas
 * @property {"image/webp" | "image/jpeg" | "image/png"} mime
 * @property {number} cell        cell edge in pixels
 * @property {number} cols        cells per sheet row
 * @property {number} per_sheet   cells per sheet
 * @property {number} count       number of cells
 * @property {Array<[number, number]>} sizes  (w, h) of the picture in each cell
 * @property {Array<number | string>} sheets  index into the `_images` buffers, or a data: URL
 */

/**
 * Columnar segment table; entry i = row i of result.segments.
 * @typedef {Object} PayloadSegments
 * @property {number[]} model              0 = A, 1 = B
 * @property {number[]} image              row into Payload.images
 * @property {number[]} segment            segment id in the image's label map
 * @property {number[]} rank               0 = most important by the ranking
 * @property {number[]} cluster
 * @property {number[]} outcome            index into OUTCOMES
 * @property {Array<number | null>} attribution   exact (not rounded); null: not finite
 * @property {number[]} by_attribution     position in summary.order_within(all segments, "attribution")
 * @property {number[]} by_centroid        position in summary.order_within(all segments, "centroid")
 * @property {number[]} box                flat x0, y0, x1, y1 per segment, thousandths of w / h
 */

/**
 * Columnar image table, one entry per distinct source image.
 * @typedef {Object} PayloadImages
 * @property {number[]} index   image_index into the user's images
 * @property {number[]} label   true class id
 * @property {number[]} pred_a
 * @property {number[]} pred_b
 * @property {Array<number | null>} score_a   score of the class of interest
 * @property {Array<number | null>} score_b
 * @property {number[]} width   original size, pixels
 * @property {number[]} height
 */

/**
 * @typedef {Object} Payload
 * @property {2} version
 * @property {string[]} class_names
 * @property {string} target_class
 * @property {string[]} classes                 classes of interest the result holds
 * @property {{A: string, B: string}} model_names
 * @property {{A: number | null, B: number | null}} accuracy
 * @property {string[]} warnings
 * @property {Object} sampling
 * @property {ClusterOrder} order
 * @property {InnerOrder} inner_order
 * @property {number} n_clusters
 * @property {[number, number]} n_clusters_range  what the slider offers (recluster accepts all of it)
 * @property {Array<{id: number}>} clusters     every cluster id, in the result's order
 * @property {number[]} bin_edges               result.bin_edges, shared attribution bins
 * @property {number} n_segments
 * @property {PayloadSegments} segments
 * @property {PayloadImages} images
 * @property {Atlas} thumbs                     cell i = segment i
 * @property {Atlas} sources                    cell j = image j
 */

/**
 * One segment, decoded (see data.js decodePayload).
 * @typedef {Object} Segment
 * @property {number} i            row in result.segments (= thumbs cell)
 * @property {ModelKey} model
 * @property {number} image        row into images
 * @property {number} segment
 * @property {number} rank
 * @property {number} cluster
 * @property {Outcome} outcome
 * @property {number | null} attribution
 * @property {number} byAttribution  position in Python's within-cluster order by attribution
 * @property {number} byCentroid     position in Python's within-cluster order by centroid distance
 * @property {[number, number, number, number]} box   x0, y0, x1, y1 in 0..1
 */

/**
 * Commands, JS -> Python: `experimental.invoke(name, msg, {signal})` resolves with
 * `[answer, buffers]` (no buffers are used). There are no other custom messages; state is
 * traits (order, inner_order, outcomes, models, selected_cluster, view set here; n_clusters,
 * target_class, _payload, _images, _busy set by Python only).
 *
 * @typedef {{}} PingMsg                               "_ping"
 * @typedef {{ok: true, version: number}} PingAnswer   payload version the kernel speaks
 * @typedef {{n_clusters: number}} ReclusterMsg        "_recluster"
 * @typedef {{ok: boolean, n_clusters: number, error?: string}} ReclusterAnswer
 * @typedef {{target_class: string}} SelectClassMsg    "_select_class"
 * @typedef {{ok: boolean, target_class: string, error?: string}} SelectClassAnswer
 * @typedef {{segment: number | null}} HoverMsg        "_hover" (row of result.segments)
 * @typedef {{ok: boolean, error?: string}} HoverAnswer
 * @typedef {"_ping" | "_recluster" | "_select_class" | "_hover"} CommandName
 */

export {};
