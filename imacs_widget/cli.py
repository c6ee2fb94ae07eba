"""Command line: ``imacs demo`` (the offline scenarios), ``imacs compare`` and ``imacs
compare-datasets`` (batch runs that write a result folder).

The engine options of both compare commands are generated from the fields of
:class:`~imacs_widget.Settings` (one ``--field-name`` each, with the field's type, default,
meaning and choices, a registry's current names for the ranker and the embedder); an option not
given keeps the field's default. Kept free of TensorFlow imports until a command runs, so
``imacs --help`` is instant.
"""

from __future__ import annotations

import argparse
import sys

from .io.loaders import load_images, load_model, parse_labels
from .models.adapter import PREPROCESS_NAMES as PREPROCESS_CHOICES


def _demo(args) -> int:
    from .demo.run import run_demo

    run_demo(args.out, seed=args.seed, untrained=args.untrained, n_per_model=args.n_per_model,
             kind=args.scenario, datasets=args.datasets,
             n_clusters=args.n_clusters, progress=not args.quiet)
    print(f"wrote {args.out}/summary.json, {args.out}/result.imacs and {args.out}/report.html")
    return 0


# -- imacs compare ---------------------------------------------------------------------------------

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
    from .engine.settings import parse_baseline

    return _typed(parse_baseline)(text)


def _size(text):
    """``--image-size``: ``HxW`` or ``N``."""
    from .engine.settings import parse_grid

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


def _read(path, labels_csv, image_size, class_names, flag: str, labels_flag: str):
    """``(images, labels, class_names)`` of one --images argument: an ImageFolder tree (labels
    from its sub-folders, read in chunks), a folder listed by a CSV, or an .npz."""
    from pathlib import Path

    from .errors import ImacsInputError

    if labels_csv is None and Path(path).is_dir():
        from .data import folder_source

        images = folder_source(path, image_size=image_size, name=flag)
        if images.labels is None:
            raise ImacsInputError(labels_flag, "is required with a folder of image files "
                                  "without class sub-folders: a CSV of filename,label rows (or "
                                  "arrange the images as FOLDER/<class>/<image>)")
        return images, None, class_names
    images, raw_labels, npz_names = load_images(path, labels_csv, image_size)
    labels, class_names, note = parse_labels(raw_labels, class_names or npz_names)
    if note:
        print(f"imacs: {note}", file=sys.stderr)
    return images, labels, class_names


def _targets(args, class_names) -> list:
    from .errors import ImacsInputError

    if args.target_class is None:
        raise ImacsInputError("--target-class", "is required")
    target = [t.strip() for t in args.target_class.split(",") if t.strip()]
    return [int(t) if t.isdigit() and (not class_names or t not in class_names) else t
            for t in target]


def _saved(run, args) -> int:
    """Run ``run()`` with the engine's warnings on stderr, save its result to ``args.out``."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"imacs: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        result = run()
        if args.sanity_check:
            result.sanity_check(progress=not args.quiet)
        if args.class_pictures:
            result.class_pictures(progress=not args.quiet)
        if args.segment_map or args.report:
            result.segment_map(args.segment_map or "auto")
    out = result.save(args.out)
    if args.report:
        print(f"wrote {result.to_html(args.report)} (the static report, with the segment map)")
    n_seg = len(result.segments)
    hits = result.params.get("cache_hits")
    extra = f"; cache: {hits} hit(s), {result.params.get('cache_misses')} miss(es)" if hits is not None else ""
    print(f"wrote {out} ({n_seg} segments, {result.n_clusters} clusters{extra}); open it with "
          f"imacs.load({str(out)!r}).widget()")
    return 0


def _named(items, flag: str) -> dict:
    """``{name: value}`` of repeated ``NAME=VALUE`` options, checked (a clear error naming
    ``flag``)."""
    from .errors import ImacsInputError

    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ImacsInputError(flag, f"expects NAME=VALUE, got {item!r}")
        if name.strip() in out:
            raise ImacsInputError(flag, f"names {name.strip()!r} twice")
        out[name.strip()] = value.strip()
    return out


def _models_args(args):
    """The models to compare: ``(model_a, model_b, extra options)`` for --model-a/--model-b,
    or ``({name: model}, None, extra options)`` for repeated --model NAME=PATH."""
    from .errors import ImacsInputError

    named = _named(args.model, "--model")
    pair = args.model_a is not None or args.model_b is not None
    if named and pair:
        raise ImacsInputError("--model", "goes without --model-a / --model-b: give either two "
                              "models as --model-a A --model-b B or 2 to 8 as --model NAME=PATH")
    if named:
        if len(named) < 2:
            raise ImacsInputError("--model", f"is given {len(named)} time(s); compare 2 to 8 "
                                  "models (--model v1=a.keras --model v2=b.keras ...)")
        for flag in ("preprocess_a", "preprocess_b", "name_a", "name_b"):
            if getattr(args, flag) is not None:
                raise ImacsInputError("--" + flag.replace("_", "-"), "goes with --model-a / "
                                      "--model-b; with --model NAME=PATH use --preprocess "
                                      "NAME=KIND")
        prep = _named(args.preprocess, "--preprocess")
        bad = [k for k, v in prep.items() if v not in PREPROCESS_CHOICES]
        if bad:
            raise ImacsInputError("--preprocess", f"kind of {bad[0]!r} must be one of "
                                  f"{PREPROCESS_CHOICES}, got {prep[bad[0]]!r}")
        models = {name: load_model(path, f"--model {name}=", args.unsafe)
                  for name, path in named.items()}
        return models, None, {"preprocess": prep or None}
    if args.model_a is None or args.model_b is None:
        raise ImacsInputError("--model-a" if args.model_a is None else "--model-b",
                              "is required (or give 2 to 8 models as --model NAME=PATH)")
    if args.preprocess:
        raise ImacsInputError("--preprocess", "goes with --model NAME=PATH; for two models use "
                              "--preprocess-a / --preprocess-b")
    return (load_model(args.model_a, "--model-a", args.unsafe),
            load_model(args.model_b, "--model-b", args.unsafe),
            {"preprocess_a": args.preprocess_a, "preprocess_b": args.preprocess_b,
             "name_a": args.name_a or _stem(args.model_a),
             "name_b": args.name_b or _stem(args.model_b)})


def _compare(args) -> int:
    settings = _settings(args)
    images, labels, class_names = _read(args.images, args.labels, args.image_size,
                                        args.class_names, "--images", "--labels")
    target = _targets(args, class_names)

    def run():
        from .engine.pipeline import compare

        first, second, extra = _models_args(args)
        models = (first,) if second is None else (first, second)
        return compare(*models, images, labels, class_names=class_names, settings=settings,
                       **_run_options(args, target), **extra)

    return _saved(run, args)


def _compare_datasets(args) -> int:
    settings = _settings(args)
    sides = []
    for data, csv, flag in ((args.data_a, args.labels_a, "--data-a"),
                            (args.data_b, args.labels_b, "--data-b")):
        images, labels, names = _read(data, csv, args.image_size, args.class_names, flag,
                                      flag.replace("data", "labels"))
        if labels is not None and names:  # each set's indices name its own classes
            labels = [names[int(v)] for v in labels]
        sides.append((images, labels, names))
    (data_a, labels_a, names_a), (data_b, labels_b, _) = sides
    names = args.class_names or names_a or getattr(data_a, "class_names", None)
    target = _targets(args, names)
    name_a, name_b = args.name_a or _stem(args.data_a), args.name_b or _stem(args.data_b)
    if name_a == name_b and not (args.name_a and args.name_b):  # e.g. clean/test vs wm/test
        name_a, name_b = _label(args.data_a), _label(args.data_b)

    def run():
        from .engine.dataset_pair import compare_datasets

        model = load_model(args.model, "--model", args.unsafe)
        return compare_datasets(model, data_a, data_b, labels_a, labels_b, class_names=names,
                                name_a=name_a, name_b=name_b, preprocess=args.preprocess,
                                settings=settings, **_run_options(args, target))

    return _saved(run, args)


def _label(path) -> str:
    """A path's last two parts (``clean/test``), to tell two sets of the same name apart."""
    from pathlib import Path

    p = Path(path)
    return f"{p.parent.name}/{p.stem}" if p.parent.name else p.stem


def _settings(args):
    """The :class:`~imacs_widget.Settings` of the options given (the rest: the defaults); an
    invalid value's error names its option."""
    from .engine.settings import SETTING_NAMES, Settings
    from .errors import ImacsInputError

    given = {name: getattr(args, name) for name in SETTING_NAMES if hasattr(args, name)}
    try:
        return Settings(**given)
    except ImacsInputError as exc:
        if exc.argument not in SETTING_NAMES:
            raise
        flag = _flag(exc.argument)
        raise ImacsInputError(flag, str(exc).split(": ", 1)[1]) from None


def _run_options(args, target) -> dict:
    """compare()'s keyword arguments besides the settings, from the parsed options."""
    return dict(target_class=target[0] if len(target) == 1 else target,
                cache_dir=args.cache_dir, progress=not args.quiet)


def _flag(name: str) -> str:
    """The command-line option of a settings field (``n_clusters`` -> ``--n-clusters``)."""
    return "--" + name.replace("_", "-")


def _stem(path) -> str:
    from pathlib import Path

    return Path(path).stem


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
    d.set_defaults(func=_demo)

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
    c.set_defaults(func=_compare)

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
    ds.set_defaults(func=_compare_datasets)
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
    from .engine.projection import METHODS

    return METHODS


def _engine_group(parser):
    """The engine options of both compare commands: one per field of
    :class:`~imacs_widget.Settings` (its default, choices and meaning), then the run's own."""
    from .engine.settings import SETTING_NAMES

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
    from .engine.settings import Settings

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


def main(argv=None) -> int:
    """Entry point of the ``imacs`` console script."""
    args = build_parser().parse_args(argv)
    from .errors import ImacsInputError

    try:
        return args.func(args)
    except ImacsInputError as exc:
        print(f"imacs: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
