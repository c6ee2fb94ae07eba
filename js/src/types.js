// JSDoc mirror of the payload built by imacs_widget/payload.py (version 1) and of the custom
// messages handled by imacs_widget/widget.py. Keep both sides in step; bump PAYLOAD_VERSION on
// any incompatible change.

export const PAYLOAD_VERSION = 1;

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
 * @property {Array<number | null>} attribution
 * @property {Array<number | null>} centroid_distance
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
 * @property {1} version
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
 * @property {[number, number]} n_clusters_range
 * @property {Array<{id: number}>} clusters     ids in the result's order
 * @property {number[]} bin_edges               shared attribution bins
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
 * @property {number | null} distance
 * @property {[number, number, number, number]} box   x0, y0, x1, y1 in 0..1
 */

/**
 * Messages, JS -> Python.
 * @typedef {{type: "ping"}} PingMsg
 * @typedef {{type: "recluster", n_clusters: number}} ReclusterMsg
 * @typedef {{type: "select_cluster", cluster: number | null}} SelectClusterMsg
 * @typedef {{type: "hover", segment: number | null}} HoverMsg
 * @typedef {PingMsg | ReclusterMsg | SelectClusterMsg | HoverMsg} OutgoingMsg
 *
 * Messages, Python -> JS.
 * @typedef {{type: "pong", version: number}} PongMsg
 * @typedef {{type: "notice", level: "info" | "warning" | "error", text: string}} NoticeMsg
 * @typedef {PongMsg | NoticeMsg} IncomingMsg
 */

export {};
