"""What each ``imacs`` subcommand does (``demo``, ``compare``, ``compare-datasets``)."""

from __future__ import annotations

import sys

from ..io.loaders import load_images, load_model, parse_labels
from ..models.preprocess import PREPROCESS_NAMES as PREPROCESS_CHOICES
from .options import _flag


def _demo(args) -> int:
    from ..demo.run import run_demo

    run_demo(args.out, seed=args.seed, untrained=args.untrained, n_per_model=args.n_per_model,
             kind=args.scenario, datasets=args.datasets,
             n_clusters=args.n_clusters, progress=not args.quiet)
    print(f"wrote {args.out}/summary.json, {args.out}/result.imacs and {args.out}/report.html")
    return 0


def _read(path, labels_csv, image_size, class_names, flag: str, labels_flag: str):
    """``(images, labels, class_names)`` of one --images argument: an ImageFolder tree (labels
    from its sub-folders, read in chunks), a folder listed by a CSV, or an .npz."""
    from pathlib import Path

    from ..errors import ImacsInputError

    if labels_csv is None and Path(path).is_dir():
        from ..data import folder_source

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
    from ..errors import ImacsInputError

    if args.target_class is None:
        raise ImacsInputError("--target-class", "is required")
    target = [t.strip() for t in args.target_class.split(",") if t.strip()]
    return [int(t) if t.isdigit() and (not class_names or t not in class_names) else t
            for t in target]


def _saved(run, args) -> int:
    """Run ``run()`` and save its result to ``args.out`` (the engine's warnings reach stderr as
    ``imacs: warning: ...``, as in every command: :func:`imacs_widget.cli.main`)."""
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
    _print_findings(result)
    return 0


def _print_findings(result, top: int = 10) -> None:
    """Print what the run found: each class of interest's findings, ranked (or "no
    significant difference"; :func:`~imacs_widget.engine.findings.findings_lines`)."""
    from ..engine.findings import findings_lines

    active = result.target_class
    for name in result.classes_of_interest:
        result.select_class(name)
        print(f"class {name!r}:")
        for line in findings_lines(result.clusters, result.models, name, top=top,
                                   names=result.model_names,
                                   level=result.params.get("significance_level")):
            print(f"  {line}")
    result.select_class(active)


def _named(items, flag: str) -> dict:
    """``{name: value}`` of repeated ``NAME=VALUE`` options, checked (a clear error naming
    ``flag``)."""
    from ..errors import ImacsInputError

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
    from ..errors import ImacsInputError

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
        from ..engine.pipeline import compare

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
        from ..engine.dataset_pair import compare_datasets

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
    from ..engine.settings import SETTING_NAMES, Settings
    from ..errors import ImacsInputError

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


def _stem(path) -> str:
    from pathlib import Path

    return Path(path).stem


COMMANDS = {"demo": _demo, "compare": _compare, "compare-datasets": _compare_datasets}
"""Subcommand name -> the function that runs it."""
