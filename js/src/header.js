// The header: title, class of interest and counts, each model's legend entry (accuracy,
// faithfulness, sanity verdict), the outcome legend, the findings panel (findings.js), each model's picture of the class, the
// sanity warning and the sampling notes. Rebuilt on every render from the decoded payload.

import { h, replace } from "./dom.js";
import { fmtSigned } from "./data.js";
import { OUTCOMES } from "./protocol.js";
import { modelChip, outcomeChip } from "./parts.js";
import { findingsPanel } from "./findings.js";
import { guidePanel } from "./guide.js";
import { explain } from "./glossary.js";

/** @typedef {import("./decode.js").Decoded} Decoded */

/**
 * Fill `header` from the decoded payload `d` (null: not loaded yet).
 * @param {HTMLElement} header
 * @param {Decoded | null} d
 * @param {{picturesOpen: boolean, guideOpen?: boolean, live?: boolean}} view  whether the class
 *   pictures and the guide are open (kept across renders), whether a kernel answers
 */
export function renderHeader(header, d, view) {
  if (!d) { replace(header, h("span", { class: "imacs-title", text: "IMACS" })); return; }
  const acc = d.payload.accuracy || {};
  /** @param {any} v */
  const pct = (v) => (typeof v === "number" ? ` · acc ${(100 * v).toFixed(1)}%` : "");
  /** @param {string} m */
  const accChip = (m) => (typeof acc[m] === "number"
    ? explain(h("span", { class: "imacs-muted", text: pct(acc[m]) }), "accuracy", `${d.modelNames[m]}: ${(100 * acc[m]).toFixed(1)} % of the evaluation images classified correctly`)
    : null);
  replace(header,
    h("div", { class: "imacs-title-group" }, [
      h("span", { class: "imacs-title", text: "IMACS" }),
      explain(h("span", { class: "imacs-subtitle" }, [
        h("span", { class: "imacs-muted", text: "class of interest " }),
        h("strong", { class: "imacs-target", text: String(d.payload.target_class ?? "") }),
        h("span", { class: "imacs-muted", text: ` · ${d.segments.length} segments · ${d.clusterIds.length} clusters` }),
      ]), "counts", `class of interest “${String(d.payload.target_class ?? "")}”: ${d.segments.length} segments in ${d.clusterIds.length} clusters`),
    ]),
    h("div", { class: "imacs-legend" }, [
      ...d.models.map((m) => h("span", { class: "imacs-legend-item" }, [explain(modelChip(m, d.modelNames[m]), "model", `model ${m}: ${d.modelNames[m]}`), accChip(m), faithChip(d, m), sanityChip(d, m)])),
      h("span", { class: "imacs-legend-sep" }),
      ...OUTCOMES.map((o) => outcomeChip(o)),
    ]),
  );
  const findings = findingsPanel(d);
  if (findings) header.append(findings);
  header.append(guidePanel(d, view));
  const pictures = classPictures(d, view);
  if (pictures) header.append(pictures);
  const failed = d.models.filter((m) => ((d.payload.sanity || {})[m] || {}).passed === false);
  if (failed.length) {
    header.append(explain(h("div", { class: "imacs-sanity-warning", role: "alert", data: { imacsSanityWarning: failed.join(",") } }, [
      h("strong", { text: "Attributions survive randomisation: " }),
      h("span", { text: `${failed.map((m) => d.modelNames[m]).join(", ")} — with every layer's weights randomised, the attributions keep their order (|rank correlation| ≥ 0.5), so they follow the images or the blur rather than what the model learned. Treat these clusters with care.` }),
    ]), "sanity"));
  }
  if (d.payload.warnings && d.payload.warnings.length) {
    header.append(h("details", { class: "imacs-warnings" }, [
      explain(h("summary", { text: `${d.payload.warnings.length} note${d.payload.warnings.length === 1 ? "" : "s"} from sampling` }), "warnings"),
      explain(h("ul", {}, d.payload.warnings.map((w) => h("li", { text: String(w) }))), "warnings"),
    ]));
  }
}

/**
 * Model `m`'s faithfulness (payload.faithfulness, Python's numbers): attribution order vs
 * random order on the deletion and insertion curves of its ranked segments.
 * @param {Decoded} d
 * @param {string} m
 */
function faithChip(d, m) {
  const f = (d.payload.faithfulness || {})[m];
  if (!f || typeof f.faithfulness !== "number") return null;
  /** @param {any} v */
  const n = (v) => (typeof v === "number" ? v.toFixed(3) : "n/a");
  return explain(h("span", {
    class: "imacs-faith", data: { imacsFaithfulness: m }, text: ` · faith ${fmtSigned(f.faithfulness)}`,
  }), "faithfulness", `${d.modelNames[m]} over ${f.n_images} images: deletion area ${n(f.deletion_auc)}, insertion area ${n(f.insertion_auc)}, random order ${n(f.random_auc)} for both; faithfulness ${fmtSigned(f.faithfulness)}`);
}

/**
 * Model `m`'s sanity check verdict (payload.sanity, from result.sanity_check()).
 * @param {Decoded} d
 * @param {string} m
 */
function sanityChip(d, m) {
  const v = (d.payload.sanity || {})[m];
  if (!v || typeof v.passed !== "boolean") return null;
  const rho = typeof v.spearman === "number" ? v.spearman.toFixed(2) : "n/a";
  return explain(h("span", {
    class: `imacs-sanity imacs-sanity-${v.passed ? "pass" : "fail"}`, data: { imacsSanity: v.passed ? "pass" : "fail" },
    text: v.passed ? " · sanity ✓" : " · sanity ✗",
  }), "sanity", v.passed
    ? `sanity check passed: with ${v.layers} layers' weights randomised, the attributions' rank correlation with the real ones falls to ${rho}`
    : `sanity check FAILED: with ${v.layers} layers' weights randomised, the attributions' rank correlation with the real ones stays at ${rho}`);
}

/**
 * Each model's input-agnostic picture of the class side by side (payload.class_pictures, from
 * result.class_pictures()); null when none was computed.
 * @param {Decoded} d
 * @param {{picturesOpen: boolean}} view
 */
function classPictures(d, view) {
  const pics = d.payload.class_pictures || {};
  // a picture whose PNG is not plain base64 is left out
  const shown = d.models.flatMap((m) => {
    const p = pics[m];
    return p && typeof p.png === "string" && /^[A-Za-z0-9+/=]+$/.test(p.png) ? [{ m, p }] : [];
  });
  if (!shown.length) return null;
  const cls = String(d.payload.target_class ?? "");
  return h("details", {
    class: "imacs-pictures", open: view.picturesOpen !== false,
    ontoggle: (/** @type {Event} */ e) => { view.picturesOpen = /** @type {HTMLDetailsElement} */ (e.currentTarget).open; },
    data: { imacsClassPictures: shown.map(({ m }) => m).join(",") },
  }, [
    explain(h("summary", { text: `Each model's picture of "${cls}" (from blank inputs, no evaluation image)` }), "class_picture"),
    h("div", { class: "imacs-pictures-row" }, shown.map(({ m, p }) => {
      return h("figure", { class: "imacs-picture", data: { imacsClassPicture: m } }, [
        explain(h("img", {
          src: `data:image/png;base64,${p.png}`, alt: `${d.modelNames[m]}'s picture of ${cls}`,
        }), "class_picture", `tiles that raise ${d.modelNames[m]}'s score for "${cls}" wherever they are pasted on blank inputs, best first: the best tile takes the class's log-odds to ${fmtSigned(p.best_log_odds, 2)} (blank inputs alone ${fmtSigned(p.blank_log_odds, 2)})`),
        h("figcaption", {}, [
          explain(modelChip(m, d.modelNames[m]), "model", `model ${m}: ${d.modelNames[m]}`),
          explain(h("span", { class: "imacs-muted", text: ` log-odds ${fmtSigned(p.best_log_odds, 2)} (blank ${fmtSigned(p.blank_log_odds, 2)})` }), "log_odds",
            `${d.modelNames[m]}'s log-odds of “${cls}”: ${fmtSigned(p.best_log_odds, 2)} with the best tile, ${fmtSigned(p.mean_log_odds, 2)} mean over the tiles, ${fmtSigned(p.blank_log_odds, 2)} on blank inputs alone`),
        ]),
      ]);
    })),
  ]);
}
