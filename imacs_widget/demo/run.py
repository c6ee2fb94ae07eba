"""The offline demo: the paper's §5 watermark scenario (and §6.1 untrained check), end to end.

Model A trains on clean generated images, model B on images where a watermark is stamped on half
of one class; the evaluation set carries the watermark on half of every class. IMACS should then
put watermark segments in the top cluster, with B's mean attribution far above A's.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

N_CLUSTERS = 8


def watermark_overlap(result, watermark_masks: np.ndarray) -> np.ndarray:
    """``bool [n_segments]``: whether each segment's box overlaps its image's watermark."""
    out = np.zeros(len(result.segments), dtype=bool)
    for r, (i, box) in enumerate(zip(result.segments["image_index"], result.segments["bbox"],
                                     strict=True)):
        x0, y0, x1, y1 = box
        out[r] = bool(watermark_masks[i, y0:y1, x0:x1].any())
    return out


def cluster_watermark_fractions(result, watermark_masks: np.ndarray) -> dict[int, float]:
    """Share of each cluster's segments overlapping a watermark, by cluster id."""
    wm = watermark_overlap(result, watermark_masks)
    cl = result.segments["cluster"].to_numpy()
    return {int(c): float(wm[cl == c].mean()) for c in np.unique(cl)}


SCENARIOS = ("watermark", "photos")


def require_keras() -> None:
    """Raise :class:`~imacs_widget.errors.ImacsInputError` naming the fix when Keras and its
    TensorFlow backend are not installed (the demos train and run Keras models)."""
    import importlib.util

    from ..errors import ImacsInputError

    def absent(module: str) -> bool:
        try:
            return importlib.util.find_spec(module) is None
        except ImportError:  # a broken install, or an import hook refusing it
            return True

    missing = [m for m in ("keras", "tensorflow") if absent(m)]
    if missing:
        raise ImacsInputError("demo", f"the demo trains Keras models on TensorFlow, and "
                              f"{' and '.join(missing)} is not installed: pip install "
                              "'imacs-widget[keras]' (from the checkout: pip install '.[keras]')")


def run_demo(out_dir=None, seed: int = 0, untrained: bool = False, n_per_model: int = 100,
             n_clusters: int = N_CLUSTERS, progress: bool = True, verbose: bool = True,
             report: bool = True, scenario=None, kind: str = "watermark",
             datasets: bool = False, class_pictures: bool | None = None) -> dict:
    """Train the scenario's models, run :func:`~imacs_widget.compare`, write and return a summary.

    Parameters
    ----------
    out_dir : str or path, optional
        Where to write ``summary.json``, ``result.imacs`` and ``report.html``.
    seed : int
        Seeds data, training and IMACS.
    untrained : bool
        Replace model B by an untrained model of the same architecture (paper §6.1).
    n_per_model : int
        Images sampled per model (balanced confusion matrix).
    n_clusters : int
        k-means clusters.
    progress, verbose : bool
        Progress bars; printing the text summary.
    report : bool
        Also write the static HTML report (needs the built front end).
    scenario : Scenario or PhotoScenario, optional
        A scenario already built by :func:`~imacs_widget.demo.scenario.make_scenario` or
        :func:`~imacs_widget.demo.photos.make_photo_scenario` (with ``untrained=True`` when
        ``untrained``); built afresh when omitted.
    kind : {"watermark", "photos"}
        Which scenario to build when ``scenario`` is omitted: the generated-shapes watermark
        scenario with two small CNNs (paper §5), or two pretrained EfficientNet-Lite0 networks on
        real photos, one with a planted shortcut (:mod:`imacs_widget.demo.photos`).
    datasets : bool
        Dataset against dataset (:func:`~imacs_widget.compare_datasets`, paper §8): model B
        (or the untrained model) on the clean evaluation images (side A) against the same
        images with the watermark on half of them (side B). The watermark cluster is then
        B's alone.
    class_pictures : bool, optional
        Compute each model's picture of the class (:meth:`ComparisonResult.class_pictures`,
        9–11 s per small CNN) and how much it shows the watermark
        (:func:`~imacs_widget.engine.class_pictures.pattern_correlation`). Default: for the
        watermark scenario's two trained models (not the photos scenario's 224-px networks,
        where it takes minutes on a CPU, nor a dataset pair or the untrained variant).

    Returns
    -------
    dict
        The ``summary.json`` content; the result object is under the key ``"_result"``.
    """
    require_keras()
    from ..engine.pipeline import compare
    from ..errors import ImacsInputError

    if kind not in SCENARIOS:
        raise ImacsInputError("scenario", f"must be one of {SCENARIOS}, got {kind!r}")
    t0 = time.perf_counter()
    if scenario is not None:
        sc = scenario
    elif kind == "photos":
        from .photos import make_photo_scenario

        sc = make_photo_scenario(seed=seed, untrained=untrained)
    else:
        from .scenario import make_scenario

        sc = make_scenario(seed=seed, untrained=untrained)
    kind = getattr(sc, "name", "watermark")
    t_train = time.perf_counter() - t0
    model_b = sc.model_untrained if untrained else sc.model_b
    name_b = "untrained" if untrained else "B (watermark-trained)"
    t1 = time.perf_counter()
    masks = sc.eval_watermark_masks
    if datasets:
        from ..engine.dataset_pair import compare_datasets

        result = compare_datasets(model_b, sc.eval_images_clean, sc.eval_images,
                                  sc.eval_labels, sc.eval_labels, class_names=sc.class_names,
                                  target_class=sc.target_class, n_clusters=n_clusters,
                                  n_per_model=n_per_model, seed=seed, name_a="clean images",
                                  name_b="watermarked images", progress=progress)
        masks = np.concatenate([np.zeros_like(masks), masks])  # side A's images are clean
    else:
        result = compare(sc.model_a, model_b, sc.eval_images, sc.eval_labels,
                         class_names=sc.class_names, target_class=sc.target_class,
                         n_clusters=n_clusters, n_per_model=n_per_model, seed=seed,
                         name_a="A (clean)", name_b=name_b, progress=progress)
    t_compare = time.perf_counter() - t1
    fractions = cluster_watermark_fractions(result, masks)
    top = result.clusters[0]
    acc_key = "untrained" if untrained else "B"
    label = f"{kind} (untrained B)" if untrained else kind
    summary = {
        "scenario": f"{label}, {name_b} on clean vs watermarked images" if datasets else label,
        "seed": seed,
        "target_class": sc.target_class,
        "accuracy": {
            "A": {k: float(v) for k, v in sc.accuracy["A"].items()},
            "B": {k: float(v) for k, v in sc.accuracy[acc_key].items()},
        },
        "shortcut_rate": {k: float(v) for k, v in sc.shortcut_rate.items()},
        "top_cluster": {
            "id": top["id"], "size": top["size"], "count": top["count"],
            "watermark_fraction": fractions[top["id"]],
            "mean_attribution": top["mean_attribution"],
        },
        "clusters": [{"id": c["id"], "size": c["size"], "count": c["count"],
                      "watermark_fraction": fractions[c["id"]],
                      "mean_attribution": c["mean_attribution"]} for c in result.clusters],
        "max_abs_mean_attribution": {
            m: float(max(abs(c["mean_attribution"][m] or 0.0) for c in result.clusters))
            for m in ("A", "B")},
        "warnings": list(result.warnings),
        "seconds": {"train": round(t_train, 1), "compare": round(t_compare, 1)},
    }
    if class_pictures is None:
        class_pictures = kind == "watermark" and not datasets and not untrained
    if class_pictures:
        summary["class_pictures"] = picture_watermark_correlation(result, progress=progress)
        summary["seconds"]["class_pictures"] = summary["class_pictures"].pop("seconds")
    if datasets:  # the two sides are datasets: the model's accuracy on each
        summary["dataset_accuracy"] = {result.model_names[m]: float(result.accuracy[m])
                                       for m in ("A", "B")}
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        if report:  # the report carries the segment map: the saved result too
            result.segment_map()
        result.save(out / "result.imacs")
        if report:
            try:
                result.to_html(out / "report.html", title=f"IMACS demo: {kind} scenario")
            except (ImportError, FileNotFoundError) as exc:
                summary["report_error"] = str(exc)
    if verbose:
        print(format_summary(summary, result))
    summary["_result"] = result
    return summary


def picture_watermark_correlation(result, progress: bool = False) -> dict:
    """Compute each model's class picture and how much it shows the demo's watermark.

    Returns ``{model: {"watermark_correlation", "best_log_odds", "blank_log_odds"}, "seconds":
    s}``; the correlation is :func:`~imacs_widget.engine.class_pictures.pattern_correlation`
    of the picture with the "IM" glyph (letters and outline) the scenario stamps.
    """
    from ..data.watermark import watermark_pattern
    from ..engine.class_pictures import pattern_correlation

    t0 = time.perf_counter()
    table = result.class_pictures(progress=progress)
    rgb, alpha = watermark_pattern(min(result.image_shape))
    out = {row.model: {"watermark_correlation": pattern_correlation(
                           row.picture, rgb, alpha, int(row.tile), int(row.n_tiles)),
                       "best_log_odds": float(row.best_log_odds),
                       "blank_log_odds": float(row.blank_log_odds)}
           for row in table.itertuples()}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def format_summary(summary: dict, result) -> str:
    """The demo's short text summary."""
    acc = summary["accuracy"]
    lines = [f"IMACS demo ({summary['scenario']} scenario, seed {summary['seed']}), "
             f"class of interest {summary['target_class']!r}"]
    if "dataset_accuracy" in summary:
        lines.append("accuracy on " + ", ".join(f"{k} {v:.3f}" for k, v in
                                                  summary["dataset_accuracy"].items()))
    else:
        width = max(len(result.model_names[m]) for m in ("A", "B"))  # full names, never cut
        lines.append(f"  {'accuracy':<{width}}  clean   watermarked")
        lines += [f"  {result.model_names[m]:<{width}}  {acc[m]['clean']:.3f}   "
                  f"{acc[m]['watermarked']:.3f}" for m in ("A", "B")]
    found = result.findings()
    if len(found):
        lines.append("findings (significant differences, largest first):")
        lines += [f"  {sentence}" for sentence in found["sentence"]]
    else:
        lines.append("findings: no significant difference between the models")
    lines.append(f"top clusters by {result.order} (of {result.n_clusters}):")
    for c in summary["clusters"][:4]:
        ma, mb = c["mean_attribution"]["A"], c["mean_attribution"]["B"]
        f = lambda v: "  n/a" if v is None else f"{v:+.3f}"  # noqa: E731
        lines.append(f"  cluster {c['id']}: {c['size']:>3} segments (A {c['count']['A']}, "
                     f"B {c['count']['B']}), watermark {c['watermark_fraction']:.0%}, "
                     f"mean attribution A {f(ma)}, B {f(mb)}")
    pics = summary.get("class_pictures")
    if pics:
        lines.append("class pictures (from blank inputs), correlation with the watermark: "
                     + ", ".join(f"{m} {v['watermark_correlation']:+.3f}"
                                 for m, v in pics.items()))
    lines.append(f"time: training {summary['seconds']['train']} s, compare "
                 f"{summary['seconds']['compare']} s"
                 + (f", class pictures {summary['seconds']['class_pictures']} s"
                    if "class_pictures" in summary["seconds"] else ""))
    return "\n".join(lines)
