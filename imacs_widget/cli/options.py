"""The ``imacs`` argument parser: every engine option generated from the fields of
:class:`~imacs_widget.Settings`, plus the commands' inputs. Each subcommand sets ``command``;
:func:`imacs_widget.cli.main` runs it."""

from __future__ import annotations

import argparse

from ..models.preprocess import PREPROCESS_NAMES as PREPROCESS_CHOICES


def _typed(parse):
    """An argparse ``type`` from a settings field's text parser (its ``ValueError`` becomes
    argparse's usage error)."""

    def convert(text):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = getattr(parse, "__name__", "value")  # argparse names it in errors
    return convert


def _baseline(text: str):
    """``--baseline``: ``blur``, ``mean``, one number or ``R,G,B``."""
    from ..engine.settings import parse_baseline

    return _typed(parse_baseline)(text)


def _size(text):
    """``--image-size``: ``HxW`` or ``N``."""
    from ..engine.settings import parse_grid

    try:
        return parse_grid(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW or N, got {text!r}") from None


def _class_names_arg(text):
    from pathlib import Path

    p = Path(text)
    if p.is_file():
        return [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return [c.strip() for c in text.split(",") if c.strip()]


def _flag(name: str) -> str:
    """The command-line option of a settings field (``n_clusters`` -> ``--n-clusters``)."""
    return "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    """The ``imacs`` argument parser."""
    p = argparse.ArgumentParser(prog="imacs", description="Compare what two (or up to eight) "
                                "image classifiers rely on (IMACS).")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="run an offline demo scenario end to end (paper §5)")
    d.add_argument("--out", default="imacs-demo", help="output folder (default: imacs-demo)")
    d.add_argument("--scenario", default="watermark", choices=("watermark", "photos"),
                   help="watermark: generated shapes, two small CNNs (default, ~1 min); photos: "
                   "two pretrained EfficientNet-Lite0 at 224 px on real photos, one with a "
                   "planted shortcut (~5 min on 2 CPU cores)")
    for name in ("seed", "n_per_model", "n_clusters"):  # the Settings' defaults
        _add_setting(d, name, default=None)
    d.add_argument("--untrained", action="store_true",
                   help="replace model B by an untrained model (paper §6.1 sanity check)")
    d.add_argument("--datasets", action="store_true",
                   help="dataset against dataset (paper §8): model B on the clean test images "
                   "against the same images with the watermark on half of them")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.set_defaults(command="demo")

    c = sub.add_parser(
        "compare", help="compare two (or up to eight) saved models on a set of images; writes a "
        ".imacs result folder",
        description="Compare two saved models (.keras, TorchScript .pt, torch.export .pt2, "
        ".onnx or a Hugging Face checkpoint folder) given as --model-a / --model-b, or 2 to 8 "
        "given as --model NAME=PATH, on labelled images and write a result file "
        "that opens in a notebook with imacs.load(PATH).widget(). No code from a model file "
        "runs (Keras safe mode, TorchScript) unless --unsafe is given.")
    io = c.add_argument_group("inputs and output")
    io.add_argument("--model-a", metavar="A", help="first model: .keras, .pt, "
                    ".pt2, .onnx or a Hugging Face folder")
    io.add_argument("--model-b", metavar="B", help="second model (same kinds)")
    io.add_argument("--model", action="append", metavar="NAME=PATH",
                    help="instead of --model-a / --model-b: one of 2 to 8 models (same kinds), "
                    "repeated: --model v1=a.keras --model v2=b.keras --model v3=c.onnx")
    io.add_argument("--images", required=True, metavar="DIR_OR_NPZ",
                    help="a folder with one sub-folder per class (labels and class names from "
                    "the folder names), a folder of image files listed by a --labels CSV, or "
                    "an .npz with 'images' [N,H,W,3] and optionally 'labels', 'class_names'")
    io.add_argument("--labels", metavar="CSV", help="CSV of filename,label rows (header "
                    "optional); labels are class indices or names. With an .npz: index,label")
    _shared_inputs(io)
    e = _engine_group(c)
    e.add_argument("--preprocess-a", default=None, choices=PREPROCESS_CHOICES,
                   help="model A's preprocessing from 0-255 pixels (default: the model kind's "
                   "own: none for Keras, unit_range (0..1, channels first) for PyTorch and "
                   "ONNX [N,3,H,W]; a Hugging Face folder uses its image processor)")
    e.add_argument("--preprocess-b", default=None, choices=PREPROCESS_CHOICES)
    e.add_argument("--preprocess", action="append", metavar="NAME=KIND",
                   help="with --model NAME=PATH: that model's preprocessing (kinds as "
                   "--preprocess-a), repeated")
    e.add_argument("--name-a", default=None, help="display name (default: file name)")
    e.add_argument("--name-b", default=None)
    c.set_defaults(command="compare")

    ds = sub.add_parser(
        "compare-datasets", help="compare what one saved model relies on in two sets of "
        "images (dataset against dataset); writes a .imacs result folder",
        description="Compare one saved model (kinds as in 'imacs compare') on two labelled "
        "sets of images, e.g. a clean and a watermarked copy of a test set or two domains with "
        "the same classes: the two sides of every view are the datasets.")
    io = ds.add_argument_group("inputs and output")
    io.add_argument("--model", required=True, metavar="M", help="the model: .keras, .pt, .pt2, "
                    ".onnx or a Hugging Face folder")
    io.add_argument("--data-a", required=True, metavar="DIR_OR_NPZ",
                    help="the first set of images (kinds as --images of 'imacs compare')")
    io.add_argument("--data-b", required=True, metavar="DIR_OR_NPZ", help="the second set")
    io.add_argument("--labels-a", metavar="CSV", help="labels of --data-a (as --labels)")
    io.add_argument("--labels-b", metavar="CSV", help="labels of --data-b")
    _shared_inputs(io)
    e = _engine_group(ds)
    e.add_argument("--preprocess", default=None, choices=PREPROCESS_CHOICES,
                   help="the model's preprocessing (as --preprocess-a of 'imacs compare')")
    e.add_argument("--name-a", default=None, help="display name of --data-a (default: its "
                   "file name)")
    e.add_argument("--name-b", default=None)
    ds.set_defaults(command="compare-datasets")
    return p


def _shared_inputs(io) -> None:
    """The input and output options of both compare commands."""
    io.add_argument("--target-class", required=True, metavar="NAME",
                    help="class of interest (name or index; several comma-separated)")
    io.add_argument("--out", required=True, metavar="run.imacs",
                    help="result folder to write (imacs_widget.load reads it)")
    io.add_argument("--class-names", type=_class_names_arg, metavar="A,B,C|FILE",
                    help="class names in the models' output order (comma-separated, or a file "
                    "with one per line); default: from the .npz, else the sorted label names")
    io.add_argument("--image-size", type=_size, metavar="HxW",
                    help="resize every image to HxW (required when sizes differ)")
    io.add_argument("--unsafe", action="store_true",
                    help="load model files with Keras safe_mode=False, and pickled PyTorch "
                    "modules. This RUNS PYTHON CODE STORED IN THE FILES; only for files you trust")
    io.add_argument("--segment-map", choices=_map_methods(), default=None,
                    help="also compute the segment map (a 2-D projection of every segment's "
                    "embedding; auto: UMAP with umap-learn, else t-SNE) into the result")
    io.add_argument("--report", metavar="report.html", default=None,
                    help="also write the static HTML report (with the segment map)")
    io.add_argument("--sanity-check", action="store_true",
                    help="also run the model-randomisation sanity check of the attributions "
                    "(result.sanity_check(); its verdicts are saved and shown)")
    io.add_argument("--class-pictures", action="store_true",
                    help="also compute each model's picture of the class from blank inputs "
                    "(result.class_pictures(); needs gradients: Keras or PyTorch models)")


def _map_methods() -> tuple[str, ...]:
    """The segment map's projection methods (``imacs_widget.engine.projection.METHODS``)."""
    from ..engine.projection import METHODS

    return METHODS


def _engine_group(parser):
    """The engine options of both compare commands: one per field of
    :class:`~imacs_widget.Settings` (its default, choices and meaning), then the run's own."""
    from ..engine.settings import SETTING_NAMES

    e = parser.add_argument_group("engine (the fields of imacs_widget.Settings)")
    for name in SETTING_NAMES:
        _add_setting(e, name)
    e.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="per-image attribution cache; re-running after an interruption resumes")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    return e


def _add_setting(group, name: str, default=argparse.SUPPRESS) -> None:
    """The option of :class:`~imacs_widget.Settings` field ``name``: its type, choices (a
    registry's current names) and help from the field. Not given, it is absent from the parsed
    options (``default``), so the field's own default applies."""
    from ..engine.settings import Settings

    f = Settings.__dataclass_fields__[name]
    meta, names = f.metadata, Settings.choices(name)
    parse = meta["parse"] or type(f.default)
    kw = {"dest": name, "type": _typed(parse)}
    if names and meta["parse"] is None:  # a name (of a registry): one of its names
        kw["choices"] = names
    elif meta["metavar"]:
        kw["metavar"] = meta["metavar"]
    text = meta["doc"].split(". ")[0].rstrip(".")
    if f.default is not None:
        text += f" (default: {_default_text(f.default)})"
    group.add_argument(_flag(name), default=f.default if default is None else default,
                       help=text.replace("%", "%%"), **kw)


def _default_text(value) -> str:
    """A field's default as it is typed on the command line."""
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)
