// JSDoc mirror of the payload built by imacs_widget/widget/payload.py (version 4) and of the
// commands handled by imacs_widget/widget/widget.py. Keep both sides in step; bump
// payload_version in imacs_widget/widget/protocol.json (the one source of the constants both
// sides share, js/src/protocol.js) on any incompatible change.

export { PAYLOAD_VERSION } from "./protocol.js";

/**
 * @typedef {"A" | "B" | "C" | "D" | "E" | "F" | "G" | "H"} ModelKey   two to eight models
 * @typedef {"TP" | "TN" | "FP" | "FN"} Outcome
 * @typedef {"imbalance" | "importance" | "size"} ClusterOrder
 * @typedef {"attribution" | "centroid"} InnerOrder
 * @typedef {"clusters" | "histogram" | "map"} ViewName
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
 * @property {number[]} ids      cell k holds picture ids[k] (segment row / image row)
 * @property {Array<[number, number]>} sizes  (w, h) of the picture in each cell
 * @property {Array<number | string>} sheets  index into the payload's buffers (`_images` then `_cluster_images`; or a "_tiles"
 *   answer's buffers), or a data: URL
 */

/**
 * A column: a little-endian typed array in the payload's buffers, or (encoding "base64") a
 * JSON list. Decoded by data.js `column`.
 * @typedef {{dtype: "uint8" | "uint16" | "uint32" | "int32" | "float64", buffer: number, length: number} | Array<number | null>} Column
 */

/**
 * Columnar segment table (every Column has n_segments entries); entry i = row i of
 * result.segments.
 * @typedef {Object} PayloadSegments
 * @property {Column} model              uint8: index into Payload.models (0 = A, 1 = B, ...)
 * @property {Column} image              row into Payload.images
 * @property {Column} segment            segment id in the image's label map
 * @property {Column} rank               0 = most important by the ranking
 * @property {Column} cluster
 * @property {Column} outcome            uint8: index into OUTCOMES
 * @property {Column} attribution        float64, exact (not rounded); NaN / null: not finite
 * @property {Column} by_attribution     position in summary.order_within(all segments, "attribution")
 * @property {Column} by_centroid        position in summary.order_within(all segments, "centroid")
 * @property {Column} box                uint16, flat x0, y0, x1, y1 per segment, thousandths of w / h
 * @property {Column} [map]              uint16, flat x, y per segment in 0..65535 (= 0..1): the
 *                                       segment map, once computed (else the "_map" command)
 */

/**
 * Columnar image table (Columns), one entry per distinct source image.
 * @typedef {Object} PayloadImages
 * @property {Column} index   image_index into the user's images
 * @property {Column} label   true class id
 * @property {Column} pred_a    predicted class id of model A (pred_b, pred_c, ...: one per model)
 * @property {Column} pred_b
 * @property {Column} score_a   float64, model A's score of the class of interest (score_b, ...)
 * @property {Column} score_b
 * @property {Column} [dataset_index]  compare_datasets only: the image's index in its own dataset
 * @property {Column} width   original size, pixels
 * @property {Column} height
 */

/**
 * @typedef {Object} Payload
 * @property {number} version     protocol.json payload_version
 * @property {string[]} class_names
 * @property {string} target_class
 * @property {string[]} classes                 classes of interest the result holds
 * @property {ModelKey[]} models                the model keys, in order (2 to 8)
 * @property {Object<string, string>} model_names   display name of every model key
 * @property {Object<string, number | null>} accuracy
 * @property {string[]} warnings
 * @property {Object} sampling
 * @property {ClusterOrder} order
 * @property {InnerOrder} inner_order
 * @property {number} n_clusters
 * @property {[number, number]} n_clusters_range  what the slider offers (recluster accepts all of it)
 * @property {ClusterInfo[]} clusters          every cluster, in the result's order
 * @property {Finding[]} [findings]             result.findings() records of the class, ranked
 *                                              (empty: no significant difference)
 * @property {number} [significance_level]     the level a cluster's q-value must be below to be
 *                                              significant (result.params, 0.05 for older results)
 * @property {number[]} bin_edges               result.bin_edges, shared attribution bins
 * @property {number} n_segments
 * @property {number} n_images
 * @property {number} static_buffers  buffers re-clustering leaves as they are (the `_images` trait)
 * @property {PayloadSegments} segments
 * @property {PayloadImages} images
 * @property {Object<string, Faith | null>} faithfulness    per model key (null: not computed)
 * @property {Object<string, Sanity | null>} sanity         per model key (null: sanity_check() not run)
 * @property {Object<string, Picture | null>} class_pictures  per model key (null: not computed)
 * @property {Atlas} thumbs     the first screen's thumbnails (live widget) or a bounded set
 *                              (static report); the rest come with "_tiles"
 * @property {Atlas} sources    source previews (none in a live widget's payload)
 */

/**
 * A cluster of the payload: its id and how sure the unfiltered view is (result.clusters;
 * imacs_widget/engine/statistics.py). The statistics are absent from a result computed without
 * them; null where a model has no segment there.
 * @typedef {Object} ClusterInfo
 * @property {number} id
 * @property {boolean} [significant]   q_value below the level (Payload.significance_level)
 * @property {number | null} [p_value]  permutation test of the models' attribution per image
 * @property {number | null} [q_value]  Benjamini–Hochberg over the class's clusters
 * @property {number | null} [effect]   spread of the models' attribution per image
 * @property {Object<string, [number, number] | null>} [ci]       95 % interval of mean_attribution
 * @property {Object<string, number | null>} [mass]               attribution per image
 * @property {Object<string, [number, number] | null>} [mass_ci]  its interval
 * @property {string | null} [name]              the user's name of the cluster (result.rename_cluster)
 * @property {string} [note]                     the user's note ("" when none; result.annotate_cluster)
 * @property {string | null} [suggested_name]    e.g. "honeycomb 41 %, chain mail 22 %" (a suggestion)
 * @property {Array<[string, number]>} [suggested_labels]  ImageNet label and share in 0..1, at most 3
 * @property {string | null} [suggested_by]      what suggested them
 * @property {Intervention | null} [intervention]  the what-if test of this cluster (result.interventions)
 */

/**
 * A what-if test of a cluster (result.intervene; one of result.interventions).
 * @typedef {Object} Intervention
 * @property {number} cluster
 * @property {string} key        the cluster's key (engine/cluster_keys.py)
 * @property {InterventionRow[]} rows   one per model
 * @property {number} n_images
 * @property {number} seed
 */

/**
 * One model's row of a what-if test (the columns of result.intervene's DataFrame).
 * @typedef {Object} InterventionRow
 * @property {string} model
 * @property {string} name
 * @property {number | null} flip_to_target        rate in 0..1: switches to the class when pasted
 * @property {[number, number] | null} flip_to_target_ci
 * @property {number} n_paste                      images the segments were pasted on
 * @property {number | null} paste_score_change    mean change of the class's score
 * @property {number | null} flip_from_target      rate in 0..1: loses the class when removed
 * @property {[number, number] | null} flip_from_target_ci
 * @property {number} n_remove                     images they were removed from
 * @property {number | null} remove_score_change
 */

/**
 * A finding (imacs_widget/engine/findings.py, FINDING_COLUMNS), JSON-safe.
 * @typedef {Object} Finding
 * @property {number} rank        1 = largest difference
 * @property {number} cluster     the cluster it is about
 * @property {string} model       the model that relies on it most
 * @property {string[]} versus    the other models
 * @property {number} q_value
 * @property {number} p_value
 * @property {number} effect
 * @property {string} sentence    the plain sentence (Python's)
 */

/**
 * A model's faithfulness (result.faithfulness).
 * @typedef {{deletion_auc: number | null, insertion_auc: number | null, random_auc: number | null,
 *   faithfulness: number | null, n_images: number}} Faith
 */

/**
 * A model's sanity check (result.sanity_check()).
 * @typedef {{spearman: number | null, layers: number, passed: boolean}} Sanity
 *   spearman: rank correlation with every layer randomised; passed false: the attributions
 *   survive randomisation
 */

/**
 * A model's picture of the class (result.class_pictures()).
 * @typedef {{png: string, tile: number, best_log_odds: number, mean_log_odds: number,
 *   blank_log_odds: number}} Picture   png: base64 PNG; the log-odds of the class: best tile on
 *   blank inputs, mean over the tiles, blank inputs alone
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
 * @property {number | null | undefined} removal  score drop when its cluster is blurred in its
 *   image (null: not finite; undefined: the result has no faithfulness)
 * @property {[number, number, number, number]} box   x0, y0, x1, y1 in 0..1
 */

/**
 * Commands, JS -> Python: `experimental.invoke(name, msg, {signal})` resolves with
 * `[answer, buffers]` (only "_tiles" answers buffers). There are no other custom messages; state is
 * traits (order, inner_order, outcomes, models, selected_cluster, view, selection, map_color set here; n_clusters,
 * target_class, _payload, _images, _cluster_images, _busy, _progress set by Python only;
 * _progress: {task, done, total} while "_intervene" runs, sent as it runs, else null).
 *
 * @typedef {{}} PingMsg                               "_ping"
 * @typedef {{ok: true, version: number}} PingAnswer   payload version the kernel speaks
 * @typedef {{n_clusters: number}} ReclusterMsg        "_recluster"
 * @typedef {{ok: boolean, n_clusters: number, error?: string}} ReclusterAnswer
 * @typedef {{target_class: string}} SelectClassMsg    "_select_class"
 * @typedef {{ok: boolean, target_class: string, error?: string}} SelectClassAnswer
 * @typedef {{segment: number | null}} HoverMsg        "_hover" (row of result.segments)
 * @typedef {{ok: boolean, error?: string}} HoverAnswer
 * @typedef {{atlas: "thumbs" | "sources", ids: number[]}} TilesMsg   "_tiles": at most 256
 *   segment rows (thumbs) or image rows (sources) the front end does not hold
 * @typedef {{ok: boolean, atlas?: string, page?: Atlas, error?: string}} TilesAnswer
 *   page.sheets index the answer's buffers
 * @typedef {{}} MapMsg                                "_map"
 * @typedef {{ok: boolean, method?: string, count?: number, error?: string}} MapAnswer
 *   buffers[0]: uint16 [2 count] little-endian x, y in 0..65535 (the segment map)
 * @typedef {{cluster: number, name: string | null}} RenameClusterMsg   "_rename_cluster"
 * @typedef {{cluster: number, note: string | null}} AnnotateClusterMsg "_annotate_cluster"
 * @typedef {{cluster: number}} InterveneMsg         "_intervene": the what-if test
 *   (result.intervene; minutes with large models)
 * @typedef {{ok: boolean, cluster: number, error?: string}} ClusterAnswer   the three above;
 *   the kernel sends the new payload before it answers
 * @typedef {"_ping" | "_recluster" | "_select_class" | "_hover" | "_tiles" | "_map" |
 *   "_rename_cluster" | "_annotate_cluster" | "_intervene"} CommandName
 */

export {};
