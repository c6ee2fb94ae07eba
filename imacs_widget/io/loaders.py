"""Loaders for the CLI: model files (Keras, TorchScript / ``torch.export``, ONNX, Hugging Face
folders) and evaluation images from a folder or ``.npz``.

Each loader raises :class:`~imacs_widget.errors.ImacsInputError` naming the command-line
argument it read (``--images``, ``--labels``, ``--model-a``); NumPy, Pillow and Keras are
imported only when a loader runs, so ``imacs --help`` stays instant.
"""

from __future__ import annotations

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


MODEL_FILES = ".keras, .pt / .pth (TorchScript), .pt2 (torch.export), .onnx or a Hugging Face folder"


def load_model(path, arg: str, unsafe: bool = False):
    """Load a saved model by what the path is; errors name the command-line option ``arg``.

    * ``.keras``: :func:`load_keras_model` (Keras safe mode unless ``unsafe``);
    * ``.onnx``: the path itself (the adapter opens an ONNX Runtime session);
    * ``.pt`` / ``.pth`` / ``.ts``: a TorchScript program (``torch.jit.load``: no pickle, no
      Python code from the file runs); with ``unsafe``, a fully pickled ``nn.Module``
      (``torch.load(weights_only=False)``, which runs code from the file) is accepted too;
    * ``.pt2``: a ``torch.export`` program (``torch.export.load``), as its module;
    * a folder with ``config.json``: a Hugging Face image classifier
      (``AutoModelForImageClassification``, local files only) — its image processor is loaded
      from the same folder by the adapter.
    """
    from pathlib import Path

    from ..errors import ImacsInputError

    p = Path(path)
    if not p.exists():
        raise ImacsInputError(arg, f"{p} does not exist")
    suffix = p.suffix.lower()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise ImacsInputError(arg, f"{p} is a folder without config.json; expected a Hugging "
                                  f"Face checkpoint folder, or a file: {MODEL_FILES}")
        try:
            from transformers import AutoModelForImageClassification

            return AutoModelForImageClassification.from_pretrained(str(p), local_files_only=True)
        except Exception as exc:
            raise ImacsInputError(arg, f"could not load {p} as a Hugging Face image classifier: "
                                  f"{type(exc).__name__}: {_first_line(exc)}") from exc
    if suffix == ".keras":
        return load_keras_model(p, arg, unsafe)
    if suffix == ".onnx":
        return str(p)
    if suffix in (".pt", ".pth", ".ts", ".pt2"):
        import torch

        try:
            if suffix == ".pt2":
                return torch.export.load(str(p)).module()
            return torch.jit.load(str(p), map_location="cpu")
        except Exception as exc:
            if suffix != ".pt2" and unsafe:
                return torch.load(str(p), map_location="cpu", weights_only=False)
            hint = (" If it is a pickled nn.Module (torch.save(model)) from a source you trust, "
                    "re-run with --unsafe (unpickling runs code from the file); better, save it "
                    "with torch.jit.script/trace or torch.export.") if suffix != ".pt2" else ""
            raise ImacsInputError(arg, f"could not load {p} as a TorchScript program: "
                                  f"{type(exc).__name__}: {_first_line(exc)}.{hint}") from exc
    raise ImacsInputError(arg, f"{p}: unknown model file type {suffix!r}; expected {MODEL_FILES}")


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else ""


def load_keras_model(path, arg: str, unsafe: bool = False):
    """Load a ``.keras`` file with Keras' safe mode (no code from the file is run).

    A model that safe mode refuses (``Lambda`` layers, other serialized Python code) raises an
    :class:`~imacs_widget.errors.ImacsInputError` naming ``arg`` that explains the risk and the
    ``--unsafe`` opt-in; ``unsafe=True`` loads with ``safe_mode=False`` (runs code from the file).
    """
    from pathlib import Path

    from ..errors import ImacsInputError

    p = Path(path)
    if not p.exists():
        raise ImacsInputError(arg, f"{p} does not exist")
    import keras

    try:
        return keras.saving.load_model(str(p), safe_mode=not unsafe, compile=False)
    except Exception as exc:
        msg = str(exc)
        if not unsafe and ("safe_mode" in msg or "unsafe" in msg.lower() or "lambda" in msg.lower()):
            raise ImacsInputError(
                arg, f"{p} can't be loaded safely: it contains serialized Python code (e.g. a "
                "Lambda layer) that Keras' safe mode refuses to run. Loading it means executing "
                "code stored in the file. If you trust the file's origin, re-run with --unsafe "
                "(runs that code); otherwise rebuild the model without Lambda layers (or with "
                "registered custom layers) and save it again.") from exc
        first = msg.splitlines()[0] if msg else ""
        raise ImacsInputError(arg, f"could not load {p} as a Keras model: "
                              f"{type(exc).__name__}: {first}") from exc


def _read_labels_csv(path):
    """``[(filename, label_string), ...]`` from a CSV of ``filename,label`` rows (header optional)."""
    import csv
    from pathlib import Path

    from ..errors import ImacsInputError

    p = Path(path)
    if not p.exists():
        raise ImacsInputError("--labels", f"{p} does not exist")
    with open(p, newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    if not rows:
        raise ImacsInputError("--labels", f"{p} is empty")
    head = [c.strip().lower() for c in rows[0]]
    fcol, lcol = 0, 1
    if any(h in ("filename", "file", "image", "path", "name") for h in head) and \
            any(h in ("label", "class", "target", "y") for h in head):
        fcol = next(i for i, h in enumerate(head) if h in ("filename", "file", "image", "path", "name"))
        lcol = next(i for i, h in enumerate(head) if h in ("label", "class", "target", "y"))
        rows = rows[1:]
    out = []
    for n, r in enumerate(rows, 1):
        if len(r) <= max(fcol, lcol):
            raise ImacsInputError("--labels", f"{p} row {n} has {len(r)} column(s); expected "
                                  "filename,label")
        out.append((r[fcol].strip(), r[lcol].strip()))
    return out


def parse_labels(values, class_names):
    """Label strings → int array (class indices or names); class names inferred if needed."""
    import numpy as np

    vals = [str(v) for v in values]
    if all(v.lstrip("-").isdigit() for v in vals):
        return np.asarray([int(v) for v in vals], dtype=np.int64), class_names, None
    names = list(class_names) if class_names else sorted(set(vals))
    note = None if class_names else (
        f"class names taken from the labels in sorted order ({len(names)} classes: "
        f"{', '.join(names[:10])}{', ...' if len(names) > 10 else ''}), the convention of "
        "keras.utils.image_dataset_from_directory; pass --class-names if your models use "
        "another order")
    return np.asarray(vals, dtype=object), names, note


def load_images(src, labels_csv=None, image_size=None):
    """Images (``[N, H, W, 3]``), labels and optional class names from a folder or an ``.npz``.

    * ``.npz``: array ``images`` (``[N, H, W, 3]`` or grayscale), optional ``labels`` and
      ``class_names``; ``labels_csv`` (rows ``index,label``) overrides the labels.
    * folder: the files listed in ``labels_csv`` (``filename,label``), in CSV order, read with
      PIL as RGB. Without a CSV every image file of the folder is read (sorted) and labels must
      come from elsewhere (an error).
    """
    from pathlib import Path

    import numpy as np

    from ..errors import ImacsInputError

    p = Path(src)
    if not p.exists():
        raise ImacsInputError("--images", f"{p} does not exist")
    class_names = None
    if p.is_file():
        if p.suffix.lower() != ".npz":
            raise ImacsInputError("--images", f"{p} is neither a folder of images nor an .npz file")
        with np.load(p, allow_pickle=False) as z:
            if "images" not in z.files:
                raise ImacsInputError("--images", f"{p} has no array named 'images' (found "
                                      f"{z.files})")
            images = z["images"]
            labels = z["labels"] if "labels" in z.files else None
            if "class_names" in z.files:
                class_names = [str(c) for c in z["class_names"]]
        if labels_csv is not None:
            rows = _read_labels_csv(labels_csv)
            labels = [None] * len(images)
            for f, lab in rows:
                try:
                    idx = int(f)
                except ValueError as exc:
                    raise ImacsInputError("--labels", f"with an .npz, the first column must be "
                                          f"the image index; got {f!r}") from exc
                if not 0 <= idx < len(images):
                    raise ImacsInputError("--labels", f"image index {idx} is outside 0..{len(images) - 1}")
                labels[idx] = lab
            if any(lab is None for lab in labels):
                raise ImacsInputError("--labels", f"{sum(lab is None for lab in labels)} of the "
                                      f"{len(images)} images have no label")
        if labels is None:
            raise ImacsInputError("--labels", f"{p} has no 'labels' array; pass --labels CSV")
        if images.dtype.kind == "f" and not all(np.isfinite(images[s:s + 256]).all()
                                                 for s in range(0, len(images), 256)):
            raise ImacsInputError("--images", f"{p}: array 'images' contains NaN or inf pixels")
        if image_size is not None:
            images = _resize_all(list(images), image_size)
        return images, list(np.asarray(labels).tolist()), class_names

    from PIL import Image

    if labels_csv is None:
        raise ImacsInputError("--labels", "is required with a folder of images: a CSV of "
                              "filename,label rows")
    rows = _read_labels_csv(labels_csv)
    missing = [f for f, _ in rows if not (p / f).is_file()]
    if missing:
        raise ImacsInputError("--labels", f"{len(missing)} file(s) listed are not in {p}: "
                              f"{missing[:5]}")
    arrays = []
    for f, _ in rows:
        with Image.open(p / f) as im:
            arrays.append(np.asarray(im.convert("RGB")))
    if image_size is not None:
        images = _resize_all(arrays, image_size)
    else:
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ImacsInputError("--images", f"images have {len(shapes)} different sizes (e.g. "
                                  f"{sorted(shapes)[:3]}); pass --image-size HxW to resize them")
        images = np.stack(arrays)
    return images, [lab for _, lab in rows], class_names


def _resize_all(arrays, size):
    import numpy as np
    from PIL import Image

    h, w = size
    out = []
    for a in arrays:
        a = np.asarray(a)
        if a.dtype != np.uint8:
            a = np.clip(a, 0, 255).astype(np.uint8)
        if a.ndim == 2:
            a = np.repeat(a[..., None], 3, -1)
        out.append(np.asarray(Image.fromarray(a[..., :3]).resize((w, h), Image.BILINEAR)))
    return np.stack(out)
