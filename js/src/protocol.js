// The constants the front end shares with the kernel, from their one source:
// imacs_widget/widget/protocol.json (read by imacs_widget/widget/protocol.py; esbuild and vitest
// inline the JSON). Never copy a value here: tests/test_cross_language.py fails on a copy.

import protocol from "../../imacs_widget/widget/protocol.json";

/** @typedef {import("./types.js").ModelKey} ModelKey */
/** @typedef {import("./types.js").Outcome} Outcome */
/** @typedef {import("./types.js").ClusterOrder} ClusterOrder */
/** @typedef {import("./types.js").InnerOrder} InnerOrder */
/** @typedef {import("./types.js").ViewName} ViewName */
/** @typedef {import("./types.js").CommandName} CommandName */
/** @typedef {"cluster" | "model" | "attribution"} MapColor */

/** Payload and command version; the front end refuses a kernel that speaks another. */
export const PAYLOAD_VERSION = protocol.payload_version;
/** Most pictures one "_tiles" command asks for. */
export const PAGE_SIZE = protocol.page_size;
/** The commands the kernel answers. */
export const COMMANDS = /** @type {readonly CommandName[]} */ (Object.freeze(protocol.commands));
/** Values of the `view` trait (the tabs). */
export const VIEWS = /** @type {readonly ViewName[]} */ (Object.freeze(protocol.views));
/** What colours the segment map's points (the `map_color` trait). */
export const MAP_COLORS = /** @type {readonly MapColor[]} */ (Object.freeze(protocol.map_colors));
/** Typed-array dtypes of the payload's columns. */
export const COLUMN_DTYPES = Object.freeze(protocol.column_dtypes);
/** A segment box travels in 1 / BOX_SCALE of the image's width / height. */
export const BOX_SCALE = protocol.box_scale;
/** A segment-map coordinate in 0..1 travels as an integer in 0..MAP_SCALE. */
export const MAP_SCALE = protocol.map_scale;
// the vocabulary of the cluster statistics (engine/summary.py; the JSON carries its copy)
export const OUTCOMES = /** @type {readonly Outcome[]} */ (Object.freeze(protocol.outcomes));
/** The keys of a pair of models. */
export const MODELS = /** @type {readonly ModelKey[]} */ (Object.freeze(protocol.models));
/** The keys of up to eight models, in order. */
export const MODEL_KEYS = /** @type {readonly ModelKey[]} */ (Object.freeze(protocol.model_keys));
export const ORDERS = /** @type {readonly ClusterOrder[]} */ (Object.freeze(protocol.cluster_orders));
export const INNER_ORDERS = /** @type {readonly InnerOrder[]} */ (Object.freeze(protocol.inner_orders));
/** summary.CONSENSUS_FRACTION: a model is positive on a cluster above this share of the bar. */
export const CONSENSUS_FRACTION = protocol.consensus_fraction;
